"""An Altegio record as the sync reads it, parsed leniently from the API's JSON.

Altegio's fields come in more than one shape: ``date`` as ISO or as naive local
"YYYY-MM-DD HH:MM:SS", ``visit_id`` as a number or a string, costs as numbers or strings.
Integrators report that ``datetime`` can carry a wrong UTC offset, so the start is the
naive local wall-clock time of ``date`` read in the company's IANA zone (the
connection's), and ``datetime`` is never used.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import ValidationFailed
from funnels.models import BookingStatus

#: Altegio's attendance values.
ATTENDANCE = {
    2: BookingStatus.CONFIRMED,
    1: BookingStatus.ARRIVED,
    0: BookingStatus.PENDING,
    -1: BookingStatus.NO_SHOW,
}
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Client:
    """The customer behind a record (Altegio may send none)."""

    id: int | None
    name: str
    phone: str
    email: str


@dataclass(frozen=True)
class Record:
    """What a deal and its booking are made of."""

    id: int
    starts_at: datetime
    last_change: datetime
    status: BookingStatus
    client: Client | None
    services: list[dict[str, Any]] = field(default_factory=list)
    staff: str = ""
    duration_minutes: int = 60
    visit_id: str | None = None

    @property
    def amount(self) -> Decimal | None:
        """The sum of the services' costs (None when no service has a cost)."""
        costs = [Decimal(s["cost"]) for s in self.services if "cost" in s]
        return sum(costs, Decimal("0")) if costs else None

    def local_date(self, zone: str) -> date:
        """The visit's day where the company is."""
        return self.starts_at.astimezone(ZoneInfo(zone)).date()


def parse_record(raw: Any, zone: str, *, deleted: bool = False) -> Record:
    """A record from its JSON; ``deleted`` for a webhook's ``status: delete``."""
    if not isinstance(raw, dict):
        raise ValidationFailed("a record must be an object", field="data")
    record_id = _int(raw.get("id"), "id")
    if record_id is None:
        raise ValidationFailed("a record needs an id", field="data.id")
    tz = ZoneInfo(zone)
    starts_at = _local(raw.get("date"), tz, "date")
    changed = raw.get("last_change_date") or raw.get("create_date")
    return Record(
        id=record_id,
        starts_at=starts_at,
        last_change=_local(changed, tz, "last_change_date", keep_offset=True),
        status=_status(raw, deleted=deleted),
        client=_client(raw.get("client")),
        services=_services(raw.get("services")),
        staff=_staff(raw),
        duration_minutes=_duration(raw.get("seance_length")),
        visit_id=None if raw.get("visit_id") in (None, "", 0) else str(raw["visit_id"]),
    )


def change_time(raw: Any, zone: str) -> datetime | None:
    """A record's last change, when even that much of it can be read."""
    changed = raw.get("last_change_date") if isinstance(raw, dict) else None
    try:
        return _local(changed, ZoneInfo(zone), "last_change_date", keep_offset=True)
    except ValidationFailed:
        return None


def local_text(moment: datetime, zone: str) -> str:
    """``moment`` as Altegio's naive local time (what ``changed_after`` takes)."""
    return moment.astimezone(ZoneInfo(zone)).strftime(LOCAL_FORMAT)


def _local(value: Any, tz: ZoneInfo, name: str, *, keep_offset: bool = False) -> datetime:
    """A time in UTC: naive text is local to the company; ``date``'s own offset is dropped
    (its wall clock is local), ``last_change_date``'s is kept."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{name} is missing", field=f"data.{name}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValidationFailed(
            f"{name} {value!r} is not a date and time", field=f"data.{name}"
        ) from None
    if parsed.tzinfo is None or not keep_offset:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _status(raw: dict[str, Any], *, deleted: bool) -> BookingStatus:
    if deleted or raw.get("deleted") in (True, 1, "1", "true"):
        return BookingStatus.CANCELLED
    attendance = _int(raw.get("attendance", raw.get("visit_attendance", 0)), "attendance")
    if attendance not in ATTENDANCE:
        raise ValidationFailed(f"unknown attendance {attendance!r}", field="data.attendance")
    return ATTENDANCE[attendance]


def _client(raw: Any) -> Client | None:
    if not isinstance(raw, dict):
        return None
    return Client(
        id=_int(raw.get("id"), "client.id"),
        name=str(raw.get("name") or "").strip()[:200],
        phone=str(raw.get("phone") or "").strip(),
        email=str(raw.get("email") or "").strip(),
    )


def _services(raw: Any) -> list[dict[str, Any]]:
    services = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict) or not str(item.get("title") or "").strip():
            continue
        service: dict[str, Any] = {"title": str(item["title"]).strip()}
        if item.get("cost") not in (None, ""):
            try:
                service["cost"] = f"{Decimal(str(item['cost'])).quantize(Decimal('0.01')):f}"
            except InvalidOperation:
                raise ValidationFailed(
                    f"cost {item['cost']!r} is not a number", field=f"data.services.{index}.cost"
                ) from None
        services.append(service)
    return services


def _staff(raw: dict[str, Any]) -> str:
    staff = raw.get("staff")
    return str(staff.get("name") or "").strip() if isinstance(staff, dict) else ""


def _duration(seconds: Any) -> int:
    """``seance_length`` is in seconds; a booking lasts at least a minute."""
    try:
        minutes = int(timedelta(seconds=int(seconds)).total_seconds() // 60)
    except (TypeError, ValueError):
        return 60
    return max(1, min(minutes, 60 * 24 * 7))


def _int(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} {value!r} is not a number", field=f"data.{name}") from None
