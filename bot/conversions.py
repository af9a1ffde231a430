"""Sending queued Conversions API events to Meta in batches, with retries.

Rows come from ``triggers.conversions`` (one per report, keyed by Meta's ``event_id``).
The sender claims due rows with a lease (``SKIP LOCKED`` on PostgreSQL, so several
workers never post the same row), drops those Meta would refuse for age (``event_time``
more than 7 days ago) with a log line, and posts the rest, up to 1,000 per request.
Meta rejects a whole batch when one event is invalid, so a batch refused for good is
split and each event posted alone: only the bad one fails. Rate limits and Meta's
temporary errors back off and retry.

The one window no API lets us close: a process that dies after Meta accepted a batch
and before the rows are marked sent posts them again when their lease ends. Meta
deduplicates ``chat`` events by ``event_id`` and ``event_name`` (within 48 hours); for
``business_messaging`` events it documents no deduplication, so such a crash can count
those twice.
"""

import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from aiohttp import ClientError, ClientSession

from bot.channels import get_channel
from bot.graph import GraphClient, GraphError
from bot.senders import RetryLater, classify
from core.crypto import Vault
from core.queue import Pump, backoff, claim, soonest
from triggers.models import Conversion, ConversionSettings, ConversionState

log = logging.getLogger(__name__)

#: Meta takes at most 1,000 events per request.
BATCH = 1000
#: Meta refuses events whose event_time is more than 7 days old.
MAX_AGE = timedelta(days=7)
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 10


class ConversionSender:
    """Posts due :class:`Conversion` rows; :attr:`pump` runs it in the background."""

    def __init__(self, vault: Vault, session: ClientSession) -> None:
        self._vault = vault
        self._session = session
        self.pump = Pump(
            self.step, name="conversions", poll=5.0, next_due=partial(soonest, Conversion)
        )

    async def step(self) -> int:
        """Send one batch of due events; returns how many rows were taken."""
        settings = await ConversionSettings.first()
        if settings is None or not settings.is_enabled:
            return 0
        rows = await claim(Conversion, limit=BATCH, lease=LEASE)
        fresh = await _drop_stale(rows)
        if fresh:
            client = GraphClient(
                self._session,
                settings.api_base_url,
                self._vault.open(settings.credentials)["access_token"],
            )
            await self._post(client, settings, fresh)
        return len(rows)

    async def _post(
        self, client: GraphClient, settings: ConversionSettings, rows: list[Conversion]
    ) -> None:
        try:
            events = [await self._wire(row) for row in rows]
            received = await client.send_events(settings.pixel_id, events, settings.test_event_code)
        except GraphError as exc:
            outcome = classify(exc)
            if not isinstance(outcome, RetryLater) and len(rows) > 1:
                for row in rows:  # one bad event sinks a batch: find it
                    await self._post(client, settings, [row])
                return
            await _failed(rows, str(exc), final=not isinstance(outcome, RetryLater))
            return
        except (ClientError, TimeoutError) as exc:
            await _failed(rows, f"Meta did not answer: {exc!r}", final=False)
            return
        if received != len(rows):
            log.warning("Meta received %s of %s conversion events", received, len(rows))
        await Conversion.filter(id__in=[row.id for row in rows]).update(
            state=ConversionState.SENT, sent_at=datetime.now(UTC), next_attempt_at=None
        )

    async def _wire(self, row: Conversion) -> dict[str, Any]:
        """The stored event as Meta takes it: the value as a JSON number, and for business
        messaging the WhatsApp business account id from the channel's credentials."""
        body = dict(row.body)
        custom = dict(body.get("custom_data") or {})
        if "value" in custom:
            # a JSON number is a double at Meta's end anyway; amounts have 2 decimals
            custom["value"] = float(custom["value"])
        body["custom_data"] = custom
        if row.channel_id is not None:
            channel = await get_channel(channel_id=row.channel_id)
            waba_id = self._vault.open(channel.credentials)["waba_id"]
            body["user_data"] = dict(body["user_data"]) | {"whatsapp_business_account_id": waba_id}
        return body


async def _drop_stale(rows: list[Conversion]) -> list[Conversion]:
    """Drop rows Meta would refuse for age; returns the others."""
    oldest = datetime.now(UTC) - MAX_AGE
    stale = [row for row in rows if row.event_time < oldest]
    if stale:
        log.warning(
            "dropped %s Conversions API events older than 7 days (event ids %s)",
            len(stale),
            ", ".join(row.event_id for row in stale[:20]),
        )
        await Conversion.filter(id__in=[row.id for row in stale]).update(
            state=ConversionState.DROPPED,
            next_attempt_at=None,
            last_error="older than 7 days: Meta refuses it",
        )
    return [row for row in rows if row.event_time >= oldest]


async def _failed(rows: list[Conversion], error: str, *, final: bool) -> None:
    """Back off and retry later, or give up (a final error, or too many attempts)."""
    for row in rows:
        attempts = row.attempts + 1
        give_up = final or attempts >= MAX_ATTEMPTS
        if give_up:
            log.warning("Conversions API event %s failed for good: %s", row.event_id, error)
        await Conversion.filter(id=row.id).update(
            attempts=attempts,
            last_error=error[:2000],
            state=ConversionState.FAILED if give_up else ConversionState.PENDING,
            next_attempt_at=None if give_up else datetime.now(UTC) + backoff(attempts),
        )
