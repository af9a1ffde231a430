"""WhatsApp message templates as the Graph API lists them, cached per channel.

Operators pick one to write first or after the 24-hour window; sending it is the
inbox's (``inbox.outgoing.send_template``).
"""

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError, ClientSession

from bot.channels import get_channel
from bot.graph import GraphClient, GraphError, Template
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

    async def load() -> list[Template]:
        try:
            return await client.list_templates(waba_id)
        except (ClientError, TimeoutError) as exc:  # no answer at all: say so like a refusal
            raise GraphError(0, None, f"no answer from {channel.api_base_url}: {exc!r}") from exc

    return await cache.get(f"{channel.id}:{waba_id}", load, refresh=refresh)


#: A positional variable of a template's text, ``{{1}}``.
VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
#: Any variable, positional or named (``{{first_name}}``).
ANY_VARIABLE = re.compile(r"\{\{.*?\}\}")


@dataclass(frozen=True)
class Choice:
    """An approved template the reply box can send, with what an operator fills in.

    ``body`` is the body text cut at its variables: strings, and the numbers of the
    positional parameters ``{{1}}``, ``{{2}}``… between them; ``examples`` holds the
    sample value Meta was shown for each parameter (``""`` when none).
    """

    name: str
    language: str
    category: str
    body: list[str | int]
    examples: list[str]

    @property
    def parameters(self) -> int:
        return len(self.examples)


def choices(templates: list[Template]) -> list[Choice]:
    """The approved templates an operator can send from the reply box, by name.

    ``inbox.outgoing.send_template`` fills positional body parameters only, so a template
    whose header is a photo or document, or which has variables in its header or buttons
    or named ones, is left out rather than offered and refused by Meta.
    """
    found = [_choice(t) for t in templates if t.status == "APPROVED"]
    return sorted((c for c in found if c is not None), key=lambda c: (c.name, c.language))


def _choice(template: Template) -> Choice | None:
    if not all(_fixed(component) for component in template.components):
        return None
    body = next((c for c in template.components if str(c.get("type")).upper() == "BODY"), {})
    text = str(body.get("text", ""))
    numbers = [int(n) for n in VARIABLE.findall(text)]
    if len(ANY_VARIABLE.findall(text)) != len(numbers):
        return None  # named parameters
    count = max(numbers, default=0)
    if sorted(set(numbers)) != list(range(1, count + 1)):
        return None  # Meta numbers them 1..n; anything else cannot be filled in order
    pieces = VARIABLE.split(text)  # text, number, text, number, ..., text
    shown: list[str | int] = [int(p) if i % 2 else p for i, p in enumerate(pieces) if p]
    samples = (body.get("example") or {}).get("body_text") or [[]]
    examples = ([str(s) for s in samples[0]] + [""] * count)[:count]
    return Choice(template.name, template.language, template.category, shown, examples)


def _fixed(component: dict[str, Any]) -> bool:
    """Whether a header or the buttons need nothing filled in (the body may)."""
    kind = str(component.get("type", "")).upper()
    if kind == "HEADER":
        text = str(component.get("text", ""))
        return component.get("format", "TEXT") == "TEXT" and not ANY_VARIABLE.search(text)
    if kind == "BUTTONS":
        return not ANY_VARIABLE.search(str(component.get("buttons", "")))
    return True
