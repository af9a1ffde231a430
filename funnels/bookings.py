"""Bookings: the only code that writes ``Booking``, the appointment behind a deal.

The Altegio sync sets them from records, and people can set one by hand. Each change is
one ``deal.booking_changed`` event with what changed, so the timeline shows it and stage
triggers that count back from the start re-plan their reminders when it moves.
"""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ValidationFailed
from core.events import change, diff
from core.models import User
from funnels.deals import get_deal
from funnels.models import Booking, BookingStatus

MAX_SERVICES = 50
MAX_DURATION = 60 * 24 * 7


async def get_booking(*, deal_id: int) -> Booking | None:
    """A deal's booking, if it has one."""
    await get_deal(deal_id=deal_id)
    return await Booking.get_or_none(deal_id=deal_id)


async def set_booking(
    *,
    actor: User | None,
    deal_id: int,
    status: BookingStatus,
    starts_at: datetime,
    duration_minutes: int = 60,
    timezone: str = "UTC",
    services: list[dict[str, Any]] | None = None,
    staff: str = "",
    source: str = "manual",
    external_id: str | None = None,
) -> Booking:
    """Create or replace a deal's booking; a no-op when nothing changed."""
    values: dict[str, Any] = {
        "status": BookingStatus(status),
        "starts_at": _aware(starts_at).astimezone(UTC),
        "duration_minutes": _duration(duration_minutes),
        "timezone": check_zone(timezone),
        "services": _services(services or []),
        "staff": staff.strip()[:200],
        "source": source,
        "external_id": external_id,
    }
    async with change(actor) as batch:
        deal = await get_deal(deal_id=deal_id, for_update=True)
        booking = await Booking.get_or_none(deal_id=deal.id)
        if booking is None:
            booking = await Booking.create(deal=deal, **values)
            changes = {key: {"from": None, "to": value} for key, value in values.items()}
        else:
            changes = diff(booking, values)
            if not changes:
                return booking
            await booking.update_from_dict(values).save()
        changes.pop("external_id", None)
        changes.pop("source", None)
        await batch.record("deal.booking_changed", deal_id=deal.id, changes=changes)
    return booking


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValidationFailed(
            "starts_at needs a UTC offset, e.g. 2026-05-01T10:00:00+03:00", field="starts_at"
        )
    return moment


def _duration(minutes: int) -> int:
    if not 1 <= minutes <= MAX_DURATION:
        raise ValidationFailed(
            f"duration_minutes must be between 1 and {MAX_DURATION}", field="duration_minutes"
        )
    return minutes


def check_zone(name: str) -> str:
    """``name`` when it is an IANA time zone, else a clear error on ``timezone``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(
            f"unknown time zone {name!r} (use an IANA name)", field="timezone"
        ) from None
    return name


def _services(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``[{"title": "Haircut", "cost": "25.00"}]``: titles required, costs exact decimals."""
    if len(services) > MAX_SERVICES:
        raise ValidationFailed(f"at most {MAX_SERVICES} services", field="services")
    cleaned = []
    for index, service in enumerate(services):
        title = str(service.get("title") or "").strip()
        if not title:
            raise ValidationFailed("a service needs a title", field=f"services.{index}.title")
        item: dict[str, Any] = {"title": title[:200]}
        if service.get("cost") is not None:
            try:
                cost = Decimal(str(service["cost"]))
            except InvalidOperation:
                raise ValidationFailed(
                    "cost must be a decimal number", field=f"services.{index}.cost"
                ) from None
            item["cost"] = f"{cost:f}"
        cleaned.append(item)
    return cleaned
