"""Inserts of concurrent callers sharing one statement ("group commit" in the application).

A webhook stores its item and answers. Under a burst dozens of them wait on the database
at once, and each one's INSERT costs far more than its row: a pooled connection, the
statement's round trip, its commit and the driver's and ORM's work. A
:class:`SharedInsert` lets them queue their rows instead: one round at a time takes
everything queued and inserts it in one statement. A caller alone goes at once, so
nothing waits more when it is quiet; under load a round gathers what came in during the
previous one.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from tortoise.models import Model

from core.db import insert_new
from core.queue import infrastructure


@dataclass(eq=False)
class _Entry:
    """One caller's rows and the news of their round."""

    objects: Sequence[Model]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class SharedInsert:
    """:func:`core.db.insert_new` for concurrent callers of one event loop.

    Each caller returns once its rows are committed (or skipped as already stored), as
    if it had inserted them itself, and they are numbered in the order callers came. The
    rounds run in a task of their own, one after another, so a caller that goes away
    (its client hung up) takes no one else's rows with it. A round that fails for a
    caller's rows is retried caller by caller, so bad rows fail only the caller who
    brought them; a failure of the database itself fails the round's callers at once,
    with no retries piling onto an outage.
    """

    def __init__(self) -> None:
        self._queued: list[_Entry] = []
        self._rounds: asyncio.Task[None] | None = None

    async def insert_new(self, objects: Sequence[Model]) -> None:
        """Insert the rows that collide with no stored row on a unique key."""
        if not objects:
            return
        entry = _Entry(objects)
        self._queued.append(entry)
        if self._rounds is None:
            self._rounds = asyncio.create_task(self._run())
        await asyncio.shield(entry.done)

    async def _run(self) -> None:
        """Round after round while anything is queued (what came in during one goes in
        the next)."""
        try:
            while self._queued:
                entries, self._queued = self._queued, []
                await _round(entries)
        finally:
            self._rounds = None


async def _round(entries: list[_Entry]) -> None:
    """One statement for every entry; caller by caller if it fails for the rows."""
    try:
        await insert_new([row for entry in entries for row in entry.objects])
    except Exception as exc:
        if len(entries) == 1 or infrastructure(exc):
            for entry in entries:
                entry.done.set_exception(exc)
            return
        for entry in entries:
            try:
                await insert_new(entry.objects)
            except Exception as alone:
                entry.done.set_exception(alone)
            else:
                entry.done.set_result(None)
        return
    for entry in entries:
        entry.done.set_result(None)
