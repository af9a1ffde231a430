"""Feeding committed domain events to their consumers, exactly once per consumer effect.

Every event row is written pending (``next_attempt_at`` set) in the transaction of the
change it describes, so the ``event`` table is the outbox: nothing a consumer must see
lives only in memory. The :class:`EventDispatcher` claims pending events (with a lease,
``SKIP LOCKED`` on PostgreSQL), hands each to the consumers of its kind, and marks it
done. A process killed between a commit and the dispatch leaves the event pending for
the next process; a process killed mid-dispatch leaves it to come back when the lease
ends, so consumers must be idempotent per event (triggers key their effects by event id).
Events of one deal are dispatched in order, also across several dispatchers: a deal's
event is claimed only with all the deal's unfinished events before it.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial

from core.events import UNDISPATCHED
from core.models import Event
from core.queue import POLICIES, Done, Outcome, Pump, Queue, soonest

Consumer = Callable[[Event], Awaitable[None]]


class EventDispatcher:
    """Runs ``consumers[event.kind]`` for each pending event; :attr:`pump` drives it."""

    def __init__(self, consumers: Mapping[str, Sequence[Consumer]]) -> None:
        if unheard := sorted(UNDISPATCHED & {k for k, v in consumers.items() if v}):
            raise ValueError(f"{unheard} are never dispatched: no consumer can hear them")
        self.consumers = consumers
        self.queue = Queue(Event, POLICIES["events"])
        self.pump = Pump(self.step, name="events", next_due=partial(soonest, Event))

    async def step(self, limit: int = 200) -> int:
        """Dispatch one batch of pending events; returns how many were taken."""
        return await self.queue.work(self._handle, limit=limit)

    async def _handle(self, event: Event) -> Outcome:
        """Every consumer of the kind, in order; one that raises retries the event."""
        for consumer in self.consumers.get(event.kind, ()):
            await consumer(event)
        return Done()
