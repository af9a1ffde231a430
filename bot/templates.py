"""WhatsApp message templates as the Graph API lists them, cached per channel.

Operators pick one to write first or after the 24-hour window; sending it is the
inbox's (``inbox.outgoing.send_template``).
"""

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import ClientSession

from bot.channels import get_channel
from bot.graph import GraphClient, Template
from core.crypto import Vault
from core.errors import ValidationFailed
from inbox.models import ChannelKind


class TemplateCache:
    """Each channel's templates for ``ttl`` seconds: they change rarely (approval takes
    minutes to days) and Meta rate-limits the business account's API calls."""

    def __init__(self, ttl: float = 300.0) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, list[Template]]] = {}

    async def get(
        self, key: str, load: Callable[[], Awaitable[list[Template]]], *, refresh: bool = False
    ) -> list[Template]:
        """The cached list under ``key``, loaded when missing, stale or ``refresh``."""
        now = asyncio.get_running_loop().time()
        entry = self._entries.get(key)
        if refresh or entry is None or entry[0] <= now:
            entry = (now + self._ttl, await load())
            self._entries[key] = entry
        return entry[1]


async def list_templates(
    *,
    vault: Vault,
    http: ClientSession,
    cache: TemplateCache,
    channel_id: int,
    refresh: bool = False,
) -> list[Template]:
    """A WhatsApp channel's message templates (every status), cached; ``refresh`` asks
    Meta again. Raises :class:`bot.graph.GraphError` when Meta refuses."""
    channel = await get_channel(channel_id=channel_id)
    if channel.kind != ChannelKind.WHATSAPP:
        raise ValidationFailed("message templates are a WhatsApp feature", field="channel_id")
    credentials = vault.open(channel.credentials)
    client = GraphClient(http, channel.api_base_url, credentials["access_token"])
    waba_id = credentials["waba_id"]
    return await cache.get(
        f"{channel.id}:{waba_id}", lambda: client.list_templates(waba_id), refresh=refresh
    )
