"""Dates and times for people, in the reader's zone."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.support import NullTranslations

from web.pages.humanize import Clock

NOW = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)  # already 4 December in Warsaw
WARSAW = Clock(ZoneInfo("Europe/Warsaw"), "en", NullTranslations())


def test_short_times_are_relative_in_the_readers_zone() -> None:
    assert WARSAW.short(datetime(2026, 12, 3, 23, 5, tzinfo=UTC), now=NOW) == "12:05\u202fAM"
    assert WARSAW.short(datetime(2026, 12, 3, 13, 5, tzinfo=UTC), now=NOW) == "yesterday"
    assert WARSAW.short(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), now=NOW) == "1 Dec"
    assert WARSAW.short(datetime(2025, 12, 3, 9, 0, tzinfo=UTC), now=NOW) == "Dec 3, 2025"


def test_other_locales_format_their_own_way() -> None:
    german = Clock(ZoneInfo("Europe/Berlin"), "de", NullTranslations())
    assert german.short(datetime(2026, 12, 3, 13, 5, tzinfo=UTC), now=NOW) == "yesterday"
    assert german.clock_time(datetime(2026, 12, 3, 13, 5, tzinfo=UTC)) == "14:05"
    assert german.short(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), now=NOW) == "1 Dez."


def test_day_separators_and_the_absolute_hover_text() -> None:
    assert WARSAW.day(datetime(2026, 12, 3, 23, 5, tzinfo=UTC), now=NOW) == "Today"
    assert WARSAW.day(datetime(2026, 12, 3, 8, 0, tzinfo=UTC), now=NOW) == "Yesterday"
    assert WARSAW.day(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), now=NOW) == "Monday, 30 November"
    hover = WARSAW.absolute(datetime(2026, 12, 3, 13, 5, tzinfo=UTC))
    assert hover == "Dec 3, 2026, 2:05:00\u202fPM"
