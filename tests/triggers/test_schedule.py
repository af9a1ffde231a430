"""Business hours: messages due at night wait for the morning, in the business's zone."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from triggers.schedule import within_hours

HOURS = {"start": "09:00", "end": "21:00", "timezone": "Europe/Moscow"}  # UTC+3


def test_inside_hours_is_unchanged() -> None:
    due = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
    assert within_hours(due, **HOURS) == due


def test_late_evening_waits_for_next_morning() -> None:
    due = datetime(2026, 11, 25, 19, 30, tzinfo=UTC)  # 22:30 in Moscow
    assert within_hours(due, **HOURS) == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def test_early_morning_waits_for_opening_the_same_day() -> None:
    due = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 05:00 in Moscow
    assert within_hours(due, **HOURS) == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def test_daylight_saving_is_respected() -> None:
    hours = {"start": "09:00", "end": "17:00", "timezone": "Europe/Berlin"}
    summer = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # 22:00 CEST
    assert within_hours(summer, **hours) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # 21:00 CET
    assert within_hours(winter, **hours) == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_the_result_is_never_earlier_and_always_within_hours(due: datetime) -> None:
    sent = within_hours(due, **HOURS)
    assert sent >= due
    local = sent.astimezone(ZoneInfo("Europe/Moscow")).time()
    assert local.isoformat() >= "09:00" and local.isoformat() < "21:00"
    assert (sent - due).total_seconds() <= 12 * 3600
