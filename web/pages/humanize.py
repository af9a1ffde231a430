"""Dates and times for people: "14:05" today, "yesterday", "3 Dec", in the user's zone.

Pure functions of the instant, the zone, the locale and "now", so tests pin them down.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.support import NullTranslations


@dataclass(frozen=True)
class Clock:
    """The reader's zone, language and catalog."""

    zone: ZoneInfo
    #: A parsed ``Locale`` in the app (babel parses text again on every call).
    locale: Locale | str
    #: A locale without a catalog gets babel's NullTranslations, which keep the English.
    translations: NullTranslations

    def local(self, moment: datetime) -> datetime:
        """``moment`` (stored in UTC) in the reader's zone."""
        return moment.astimezone(self.zone)

    def short(self, moment: datetime, *, now: datetime) -> str:
        """Time today, "yesterday", day and month this year, else the full date."""
        local, today = self.local(moment).date(), self.local(now).date()
        if local == today:
            return format_time(self.local(moment), "short", locale=self.locale)
        if local == today - timedelta(days=1):
            return self.translations.gettext("yesterday")
        if local.year == today.year:
            return format_date(local, "d MMM", locale=self.locale)
        return format_date(local, "medium", locale=self.locale)

    def absolute(self, moment: datetime) -> str:
        """The full date and time, for the hover title."""
        return format_datetime(self.local(moment), "medium", tzinfo=self.zone, locale=self.locale)

    def clock_time(self, moment: datetime) -> str:
        """Only the time of day, under a message bubble."""
        return format_time(self.local(moment), "short", locale=self.locale)

    def day(self, moment: datetime, *, now: datetime) -> str:
        """A conversation's day separator: "Today", "Yesterday" or the weekday and date."""
        local, today = self.local(moment).date(), self.local(now).date()
        if local == today:
            return self.translations.gettext("Today")
        if local == today - timedelta(days=1):
            return self.translations.gettext("Yesterday")
        skeleton = "EEEE, d MMMM" if local.year == today.year else "EEEE, d MMMM y"
        return format_date(local, skeleton, locale=self.locale)

    def calendar_day(self, day: date, *, now: datetime) -> str:
        """A calendar date (a deal's close date): "3 Dec" this year, else "3 Dec 2027"."""
        if day.year == self.local(now).year:
            return format_date(day, "d MMM", locale=self.locale)
        return format_date(day, "medium", locale=self.locale)

    def local_date(self, moment: datetime) -> date:
        """The reader's calendar day of ``moment``: what day separators group by."""
        return self.local(moment).date()
