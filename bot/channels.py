"""Channels: the only code that writes ``Channel`` rows. Credentials are sealed at rest.

A channel's routing of new dialogs into deals is the funnels' ``DealIntake``
(``funnels.intake``), written in the same change: the API shows it as the channel's
``pipeline_id``, ``stage_id`` and ``owner_id``, as one object.
"""

import secrets
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.crypto import Vault
from core.errors import Conflict, NotFound, ValidationFailed
from core.events import change
from core.models import Event, User
from funnels.intake import intake_of, open_intake, reroute
from inbox.models import Channel, ChannelKind, Dialog

DEFAULT_API = {
    ChannelKind.TELEGRAM: "https://api.telegram.org",
    ChannelKind.WHATSAPP: "https://graph.facebook.com/v21.0",
}


class TelegramCredentials(BaseModel):
    """What a Telegram bot needs: its token (from @BotFather)."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(pattern=r"^\d{3,20}:[A-Za-z0-9_-]{20,}$")


class WhatsAppCredentials(BaseModel):
    """What a WhatsApp Cloud API number needs (from the Meta app dashboard)."""

    model_config = ConfigDict(extra="forbid")
    access_token: str = Field(min_length=10)
    app_secret: str = Field(min_length=8)
    verify_token: str = Field(min_length=8)
    phone_number_id: str = Field(pattern=r"^\d{5,32}$")
    waba_id: str = Field(pattern=r"^\d{5,32}$")


CREDENTIALS: dict[ChannelKind, type[BaseModel]] = {
    ChannelKind.TELEGRAM: TelegramCredentials,
    ChannelKind.WHATSAPP: WhatsAppCredentials,
}


def _credentials(kind: ChannelKind, raw: dict[str, Any]) -> dict[str, Any]:
    try:
        checked = CREDENTIALS[kind].model_validate(raw).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["credentials", *map(str, first["loc"])])
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None
    if kind == ChannelKind.TELEGRAM:
        # Telegram echoes this in X-Telegram-Bot-Api-Secret-Token on every webhook call.
        checked["webhook_secret"] = secrets.token_urlsafe(32)
    return checked


def _external_id(kind: ChannelKind, credentials: dict[str, Any]) -> str:
    """Telegram routes by the bot id (the token's prefix), WhatsApp by phone_number_id."""
    if kind == ChannelKind.TELEGRAM:
        return str(credentials["token"].split(":", 1)[0])
    return str(credentials["phone_number_id"])


async def create_channel(
    *,
    actor: User,
    vault: Vault,
    kind: ChannelKind,
    name: str,
    credentials: dict[str, Any],
    pipeline_id: int,
    stage_id: int,
    owner_id: int | None = None,
    api_base_url: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Channel:
    """Connect a bot or number; new dialogs on it become deals in ``stage_id``."""
    kind = ChannelKind(kind)
    checked = _credentials(kind, credentials)
    external_id = _external_id(kind, checked)
    if await Channel.filter(kind=kind, external_id=external_id).exists():
        raise ValidationFailed(
            f"this {kind.value} channel is already connected", field="credentials"
        )
    async with change(actor) as batch:
        channel = await Channel.create(
            kind=kind,
            name=name,
            api_base_url=(api_base_url or DEFAULT_API[kind]).rstrip("/"),
            external_id=external_id,
            credentials=vault.seal(checked),
            settings=settings or {},
        )
        await batch.record("channel.created", channel_id=channel.id, kind=kind.value, name=name)
        await open_intake(
            batch,
            channel_id=channel.id,
            pipeline_id=pipeline_id,
            stage_id=stage_id,
            owner_id=owner_id or actor.id,
        )
        await channel.fetch_related("deal_intake")
    return channel


async def update_channel(
    *,
    actor: User,
    channel_id: int,
    name: str | None = None,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    owner_id: int | None = None,
    settings: dict[str, Any] | None = None,
    is_active: bool | None = None,
) -> Channel:
    """Rename, re-route new deals, change bot settings or pause a channel."""
    async with change(actor) as batch:
        channel = await get_channel(channel_id=channel_id)
        given = {"name": name, "settings": settings, "is_active": is_active}
        values = {k: v for k, v in given.items() if v is not None}
        await reroute(
            batch,
            await intake_of(channel_id=channel.id),
            pipeline_id=pipeline_id,
            stage_id=stage_id,
            owner_id=owner_id,
        )
        await batch.save(channel, values, "channel.updated", channel_id=channel.id)
        await channel.fetch_related("deal_intake")
    return channel


async def disconnect_channel(*, actor: User, channel_id: int) -> Channel:
    """Stop taking in and sending through a channel. Its dialogs, messages and routing
    stay: the history is the business's, and reconnecting is ``is_active: true``."""
    async with change(actor) as batch:
        channel = await get_channel(channel_id=channel_id)
        await batch.save(
            channel, {"is_active": False}, "channel.disconnected", channel_id=channel.id
        )
    return channel


async def destroy_channel(*, actor: User, channel_id: int, confirm: str) -> None:
    """Delete a disconnected channel with every dialog and message of it, for good.

    A separate, explicit action: the channel must be disconnected first, and ``confirm``
    must repeat its name, so no slip of a button destroys a customer history.
    """
    async with change(actor) as batch:
        channel = await get_channel(channel_id=channel_id)
        if channel.is_active:
            raise Conflict(
                "disconnect the channel before destroying its history", field="channel_id"
            )
        if confirm != channel.name:
            raise ValidationFailed(
                f"type the channel's name ({channel.name}) to confirm", field="confirm"
            )
        dialogs = await Dialog.filter(channel_id=channel.id).count()
        await channel.delete()
        await batch.record(
            "channel.destroyed", channel_id=channel_id, name=channel.name, dialogs=dialogs
        )


async def get_channel(*, channel_id: int, with_intake: bool = False) -> Channel:
    """A channel by id, or :class:`NotFound`; ``with_intake`` also loads its
    ``deal_intake`` (to show it, or change it): senders do without."""
    channel = await Channel.get_or_none(id=channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id} does not exist", field="channel_id")
    if with_intake:
        await channel.fetch_related("deal_intake")
    return channel


async def list_channels(
    *, kind: ChannelKind | None = None, with_intake: bool = False
) -> list[Channel]:
    """All channels, optionally of one kind (``with_intake``: as for :func:`get_channel`)."""
    query = (Channel.all() if kind is None else Channel.filter(kind=kind)).order_by("id")
    return await (query.prefetch_related("deal_intake") if with_intake else query)


class Signers:
    """The active WhatsApp channels with their app secrets, which every webhook's
    signature is checked against: read at most once per ``ttl`` seconds rather than on
    every delivery (a burst brings hundreds a second), and again at once after this
    process commits a change to a channel (:meth:`heard`, an event subscriber). A change
    committed by another process applies within ``ttl``."""

    def __init__(self, vault: Vault, *, ttl: float = 5.0) -> None:
        self.vault, self.ttl = vault, ttl
        self._read_at: float | None = None
        self._signers: list[tuple[Channel, str]] = []

    async def channels(self) -> list[tuple[Channel, str]]:
        """Each active WhatsApp channel with its app secret."""
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self.ttl:
            self._signers = [
                (channel, self.vault.open(channel.credentials)["app_secret"])
                for channel in await list_channels(kind=ChannelKind.WHATSAPP)
                if channel.is_active
            ]
            self._read_at = now
        return self._signers

    async def heard(self, event: Event) -> None:
        """A channel was created, changed, disconnected or destroyed here: read again."""
        if event.kind.startswith("channel."):
            self._read_at = None
