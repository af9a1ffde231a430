"""Altegio connections and their status-to-stage mapping: the only writer of both.

A new connection gets the guide's standard funnel, an "Altegio Records" pipeline with
the stages Pending, Confirmed, Arrived and Did not come (plus Won and Lost), and the
mapping of each status to its stage, with deleted records (cancelled) going to Lost.
Admins can then point any status at any stage of any pipeline.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

import pycountry

from altegio_sync.client import DEFAULT_API
from altegio_sync.models import AltegioConnection, AltegioMapping
from core.crypto import Vault
from core.errors import NotFound, ValidationFailed
from core.events import change, diff
from core.models import User
from funnels.bookings import check_zone
from funnels.models import BookingStatus, StageKind
from funnels.pipeline_setup import create_pipeline_with_stages
from funnels.pipelines import get_stage, list_stages

DEFAULT_PIPELINE = "Altegio Records"
#: The standard stages, in order, with their win probabilities.
DEFAULT_STAGES = (
    (BookingStatus.PENDING, "Pending", 30),
    (BookingStatus.CONFIRMED, "Confirmed", 60),
    (BookingStatus.ARRIVED, "Arrived", 90),
    (BookingStatus.NO_SHOW, "Did not come", 5),
)


async def get_connection(*, connection_id: int) -> AltegioConnection:
    """A connection by id, or :class:`NotFound`."""
    connection = await AltegioConnection.get_or_none(id=connection_id)
    if connection is None:
        raise NotFound(f"Altegio connection {connection_id} does not exist", field="connection_id")
    return connection


async def list_connections(*, enabled: bool | None = None) -> list[AltegioConnection]:
    """Every connection (or only the enabled ones), oldest first."""
    query = (
        AltegioConnection.all() if enabled is None else AltegioConnection.filter(enabled=enabled)
    )
    return await query.order_by("id")


async def create_connection(
    *,
    actor: User,
    vault: Vault,
    company_id: int,
    name: str,
    partner_token: str,
    user_token: str,
    timezone: str,
    currency: str,
    api_base_url: str | None = None,
    owner_id: int | None = None,
    enabled: bool = True,
) -> AltegioConnection:
    """Connect a company: its tokens sealed, a webhook secret made, the standard funnel
    created and mapped, in one transaction."""
    if await AltegioConnection.filter(company_id=company_id).exists():
        raise ValidationFailed(f"company {company_id} is connected already", field="company_id")
    credentials = {
        "partner_token": partner_token,
        "user_token": user_token,
        "webhook_secret": secrets.token_urlsafe(24),
    }
    async with change(actor) as batch:
        connection = await AltegioConnection.create(
            company_id=company_id,
            name=name,
            api_base_url=(api_base_url or DEFAULT_API).rstrip("/"),
            credentials=vault.seal(credentials),
            timezone=check_zone(timezone),
            currency=_currency(currency),
            owner_id=await _owner(owner_id or actor.id),
            enabled=enabled,
        )
        await batch.record(
            "altegio.connection_created", connection_id=connection.id, company_id=company_id
        )
        pipeline = await create_pipeline_with_stages(
            actor=actor,
            name=DEFAULT_PIPELINE,
            stages=[(stage, probability) for _, stage, probability in DEFAULT_STAGES],
        )
        stages = await list_stages(pipeline_id=pipeline.id)
        by_name = {s.name: s.id for s in stages}
        lost = next(s.id for s in stages if s.kind == StageKind.LOST)
        targets = {status: by_name[stage] for status, stage, _ in DEFAULT_STAGES}
        for status, stage_id in {**targets, BookingStatus.CANCELLED: lost}.items():
            await AltegioMapping.create(connection=connection, status=status, stage_id=stage_id)
    return connection


async def update_connection(
    *, actor: User, vault: Vault, connection_id: int, **given: Any
) -> AltegioConnection:
    """Change what was given: name, tokens, zone, currency, base URL, owner, enabled."""
    values: dict[str, Any] = {}
    for key in ("name", "enabled"):
        if key in given:
            values[key] = given[key]
    if "timezone" in given:
        values["timezone"] = check_zone(given["timezone"])
    if "currency" in given:
        values["currency"] = _currency(given["currency"])
    if "api_base_url" in given:
        values["api_base_url"] = given["api_base_url"].rstrip("/")
    if "owner_id" in given:
        values["owner_id"] = await _owner(given["owner_id"])
    tokens = sorted(k for k in ("partner_token", "user_token") if k in given)
    async with change(actor) as batch:
        connection = await get_connection(connection_id=connection_id)
        changes = diff(connection, values)
        if tokens:
            credentials = vault.open(connection.credentials) | {k: given[k] for k in tokens}
            values["credentials"] = vault.seal(credentials)
        if changes or tokens:
            await connection.update_from_dict(values).save()
            await batch.record(
                "altegio.connection_updated",
                connection_id=connection.id,
                changes=changes,
                tokens=tokens,
            )
    return connection


async def delete_connection(*, actor: User, connection_id: int) -> None:
    """Disconnect a company: its deals, contacts and bookings stay; the record links go."""
    async with change(actor) as batch:
        connection = await get_connection(connection_id=connection_id)
        await batch.record(
            "altegio.connection_deleted",
            connection_id=connection.id,
            company_id=connection.company_id,
        )
        await connection.delete()


async def get_mapping(*, connection_id: int) -> dict[BookingStatus, int]:
    """Each status's stage id."""
    await get_connection(connection_id=connection_id)
    rows = await AltegioMapping.filter(connection_id=connection_id)
    return {row.status: row.stage_id for row in rows}


async def set_mapping(
    *, actor: User, connection_id: int, mapping: dict[BookingStatus, int]
) -> dict[BookingStatus, int]:
    """Point statuses at stages (any pipeline's); statuses not given keep theirs."""
    for status, stage_id in mapping.items():
        await get_stage(stage_id=stage_id, field=f"mapping.{BookingStatus(status).value}")
    async with change(actor) as batch:
        current = await get_mapping(connection_id=connection_id)
        changes = {
            status.value: {"from": current.get(status), "to": stage_id}
            for status, stage_id in mapping.items()
            if current.get(status) != stage_id
        }
        for status, stage_id in mapping.items():
            await AltegioMapping.filter(connection_id=connection_id, status=status).update(
                stage_id=stage_id
            )
        if changes:
            await batch.record(
                "altegio.mapping_changed", connection_id=connection_id, changes=changes
            )
    return await get_mapping(connection_id=connection_id)


async def record_run(
    *, connection_id: int, report: dict[str, Any], watermark: datetime | None
) -> None:
    """Remember a pull's outcome (``report``: counts, or the error) and how far it got."""
    async with change(None) as batch:
        connection = await get_connection(connection_id=connection_id)
        values: dict[str, Any] = {"last_sync_at": datetime.now(UTC), "last_sync": report}
        if watermark is not None:
            values["watermark"] = watermark
        await connection.update_from_dict(values).save()
        kind = "altegio.sync_failed" if report.get("error") else "altegio.synced"
        await batch.record(kind, connection_id=connection_id, **report)


def webhook_secret(vault: Vault, connection: AltegioConnection) -> str:
    """The secret the webhook URL carries."""
    return str(vault.open(connection.credentials)["webhook_secret"])


def _currency(code: str) -> str:
    if pycountry.currencies.get(alpha_3=code.upper()) is None:
        raise ValidationFailed(f"{code!r} is not an ISO 4217 code", field="currency")
    return code.upper()


async def _owner(owner_id: int) -> int:
    if not await User.filter(id=owner_id, is_active=True).exists():
        raise NotFound(f"user {owner_id} does not exist", field="owner_id")
    return owner_id
