"""The pull sync: page through a company's changed records and apply each one.

An incremental pull asks for ``changed_after`` = the watermark minus an overlap (a
record changed while the last pull ran is read again, and applying it again is a
no-op), ``with_deleted=1`` so deletions arrive too. The watermark moves only after a
pull read every page, to the newest ``last_change_date`` applied, and never past a
record that failed: an API failure is reported (``altegio.sync_failed``) and the next
pull starts where this one did, never mistaken for "no records".
"""

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import ClientSession
from redis.asyncio import Redis
from tortoise.exceptions import IntegrityError

from altegio_sync.client import AltegioApi, AltegioError, Limiter
from altegio_sync.connections import list_connections, record_run
from altegio_sync.models import AltegioConnection
from altegio_sync.records import change_time, local_text, parse_record
from altegio_sync.upsert import Outcome, apply_record
from core.crypto import Vault
from core.errors import DomainError

log = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=10)
PAGE_SIZE = 200
#: How long one process may hold the scheduled pull's lock (a pull longer than this
#: lets another process start one; applying records twice is harmless).
LOCK_TTL = 15 * 60
Progress = Callable[[int, int], None]


@dataclass
class Summary:
    """What a pull did: counts per outcome, records that failed, the API error if any."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    error: str | None = None

    def report(self) -> dict[str, Any]:
        counts = {o.value: self.counts[o.value] for o in Outcome}
        return {**counts, "errors": len(self.errors), "problems": self.errors[:20],
                "error": self.error}  # fmt: skip


def api_for(
    connection: AltegioConnection,
    vault: Vault,
    session: ClientSession,
    *,
    limiter: Limiter | None,
) -> AltegioApi:
    """The API client of a connection, with its sealed tokens."""
    credentials = vault.open(connection.credentials)
    return AltegioApi(
        session,
        connection.api_base_url,
        connection.company_id,
        credentials["partner_token"],
        credentials["user_token"],
        limiter=limiter,
    )


async def pull(
    connection: AltegioConnection,
    api: AltegioApi,
    *,
    full: bool = False,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> Summary:
    """One pull of a company's records; the outcome is recorded on the connection."""
    summary, newest, held = Summary(), connection.watermark, None
    since = None if full or newest is None else local_text(newest - OVERLAP, connection.timezone)
    try:
        page, seen = 1, 0
        while True:
            items, total = await api.records(page=page, count=page_size, changed_after=since)
            for raw in items:
                changed = await _apply(connection, raw, summary)
                if isinstance(changed, datetime):
                    newest = changed if newest is None else max(newest, changed)
                elif changed is not None:
                    held = changed[0] if held is None else min(held, changed[0])
            seen += len(items)
            if progress is not None:
                progress(seen, total)
            if not items or seen >= total:
                break
            page += 1
    except AltegioError as exc:
        summary.error = str(exc)
        log.warning("Altegio pull of company %s failed: %s", connection.company_id, exc)
        await record_run(connection_id=connection.id, report=summary.report(), watermark=None)
        return summary
    if held is not None and newest is not None:
        newest = min(newest, held - timedelta(seconds=1))
    if connection.watermark is not None and newest is not None:
        newest = max(newest, connection.watermark)
    await record_run(connection_id=connection.id, report=summary.report(), watermark=newest)
    return summary


async def _apply(
    connection: AltegioConnection, raw: Any, summary: Summary
) -> datetime | tuple[datetime] | None:
    """Apply one raw record: its last change when applied, that in a tuple when it
    failed (the watermark must stay before it), None when not even that is known."""
    try:
        record = parse_record(raw, connection.timezone)
    except DomainError as exc:
        summary.errors.append(f"record {_id(raw)}: {exc.message}")
        changed = change_time(raw, connection.timezone)
        return None if changed is None else (changed,)
    for attempt in (1, 2):  # a webhook may create the same record's deal concurrently
        try:
            summary.counts[(await apply_record(connection, record)).value] += 1
            return record.last_change
        except IntegrityError:
            if attempt == 2:
                summary.errors.append(f"record {record.id}: applied concurrently, try again")
        except DomainError as exc:
            summary.errors.append(f"record {record.id}: {exc.message}")
            break
    return (record.last_change,)


def _id(raw: Any) -> Any:
    return raw.get("id") if isinstance(raw, dict) else None


class ScheduledPull:
    """The periodic pull of every enabled connection, one process at a time.

    With Redis configured the processes share a lock (``SET NX`` with an expiry), so of
    several ``serve`` workers only one pulls; without Redis there is one process.
    """

    def __init__(self, vault: Vault, session: ClientSession, redis: Redis | None) -> None:
        self.vault = vault
        self.session = session
        self.redis = redis
        self.limiter = Limiter()
        self._local = asyncio.Lock()
        self.runs = 0

    async def run(self) -> None:
        async with self._turn() as mine:
            if not mine:
                log.debug("another process is pulling from Altegio")
                return
            for connection in await list_connections(enabled=True):
                api = api_for(connection, self.vault, self.session, limiter=self.limiter)
                summary = await pull(connection, api)
                log.info("Altegio company %s: %s", connection.company_id, summary.report())
            self.runs += 1

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[bool]:
        if self._local.locked():
            yield False
            return
        async with self._local:
            if self.redis is None:
                yield True
                return
            lock = self.redis.lock("funnelbox:altegio-pull", timeout=LOCK_TTL)
            if not await lock.acquire(blocking=False):
                yield False
                return
            try:
                yield True
            finally:
                with contextlib.suppress(Exception):
                    await lock.release()
