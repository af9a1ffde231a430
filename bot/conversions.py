"""Sending queued Conversions API events to Meta in batches, with retries.

Rows come from ``triggers.conversions.service`` (one per report, keyed by Meta's ``event_id``).
The sender claims due rows with a lease (``SKIP LOCKED`` on PostgreSQL, so several
workers never post the same row), drops those Meta would refuse for age (``event_time``
more than 7 days ago) with a log line, and posts the rest, up to 1,000 per request.
Meta rejects a whole batch when one event is invalid, so a batch refused for good is
split and each event posted alone: only the bad one fails. Rate limits and Meta's
temporary errors back off and retry. The claims, retries and attempt limit are the
shared queue's (``core.queue``, policy ``conversions``); this module only says how
each post went.

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
from bot.senders import classify
from core.crypto import Vault
from core.queue import POLICIES, Done, Dropped, Outcome, Park, Pump, Queue, Retry, soonest
from triggers.conversions.models import Conversion, ConversionSettings, ConversionState

log = logging.getLogger(__name__)

#: Meta refuses events whose event_time is more than 7 days old.
MAX_AGE = timedelta(days=7)
STALE = "older than 7 days: Meta refuses it"


class ConversionSender:
    """Posts due :class:`Conversion` rows; :attr:`pump` runs it in the background."""

    def __init__(self, vault: Vault, session: ClientSession) -> None:
        self._vault = vault
        self._session = session
        self.queue = conversion_queue()
        self.pump = Pump(
            self.step, name="conversions", poll=5.0, next_due=partial(soonest, Conversion)
        )

    async def step(self) -> int:
        """Send one batch of due events (Meta takes up to 1,000 a request); returns how
        many rows were taken."""
        settings = await ConversionSettings.first()
        if settings is None or not settings.is_enabled:
            return 0
        rows = await self.queue.claim()
        oldest = datetime.now(UTC) - MAX_AGE
        stale = [row for row in rows if row.event_time < oldest]
        if stale:
            log.warning(
                "dropped %s Conversions API events older than 7 days (event ids %s)",
                len(stale),
                ", ".join(row.event_id for row in stale[:20]),
            )
        fresh = [row for row in rows if row.event_time >= oldest]
        outcomes: dict[int, Outcome] = {row.id: Dropped(STALE) for row in stale}
        if fresh:
            client = GraphClient(
                self._session,
                settings.api_base_url,
                self._vault.open(settings.credentials)["access_token"],
            )
            outcomes |= await self._post(client, settings, fresh)
        for row in rows:
            await self.queue.settle(row, outcomes[row.id])
        return len(rows)

    async def _post(
        self, client: GraphClient, settings: ConversionSettings, rows: list[Conversion]
    ) -> dict[int, Outcome]:
        """How posting ``rows`` went, per row: a batch refused for good is posted again
        one event at a time, so only the bad event parks."""
        outcome: Outcome
        try:
            events = [await self._wire(row) for row in rows]
            received = await client.send_events(settings.pixel_id, events, settings.test_event_code)
        except GraphError as exc:
            if isinstance(classify(exc), Retry):
                outcome = Retry(str(exc))
            elif len(rows) > 1:  # one bad event sinks a batch: find it
                return {
                    row.id: outcome
                    for row in rows
                    for outcome in (await self._post(client, settings, [row])).values()
                }
            else:
                log.warning("Conversions API event %s failed for good: %s", rows[0].event_id, exc)
                outcome = Park(str(exc))
        except (ClientError, TimeoutError) as exc:
            outcome = Retry(f"Meta did not answer: {exc!r}")
        else:
            if received != len(rows):
                log.warning("Meta received %s of %s conversion events", received, len(rows))
            outcome = Done()
        return dict.fromkeys((row.id for row in rows), outcome)

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


def conversion_queue() -> Queue[Conversion]:
    """The Conversions API queue, as its sender and the parked list (``bot.parked``) see it."""
    return Queue(Conversion, POLICIES["conversions"], columns=_state)


def _state(outcome: Outcome) -> dict[str, Any]:
    """The row's state after ``outcome``: sent (and when), dropped, failed or pending."""
    match outcome:
        case Done():
            return {"state": ConversionState.SENT, "sent_at": datetime.now(UTC)}
        case Dropped():
            return {"state": ConversionState.DROPPED}
        case Park():
            return {"state": ConversionState.FAILED}
    return {"state": ConversionState.PENDING}
