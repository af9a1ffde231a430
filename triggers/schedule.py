"""When a delayed auto-message may go out: business hours in the business's time zone."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def within_hours(due: datetime, *, start: str, end: str, timezone: str) -> datetime:
    """``due``, or the next opening time when ``due`` falls outside ``start``-``end``.

    Hours are read in the business's zone (daylight saving included); the result is
    returned in UTC like every stored time.
    """
    zone = ZoneInfo(timezone)
    local = due.astimezone(zone)
    opens, closes = time.fromisoformat(start), time.fromisoformat(end)
    if opens <= local.time() < closes:
        return due
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    return datetime.combine(day, opens, tzinfo=zone).astimezone(due.tzinfo)
