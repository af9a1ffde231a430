"""Committed events as the live bus carries them, and the catch-up read of the event table.

Catch-up and out-of-order ids: an event's id is taken when its row is inserted, but
it becomes visible when its transaction commits, and transactions in several
processes commit in any order. A client that saw event 105 may later see 103 commit
(its transaction was still open). So "everything after 105" is not enough: the replay
overlaps backwards by :data:`OVERLAP` of event time before the last seen event (no
transaction of ours stays open nearly that long) and the client drops the ids it has
seen. The overlap is bounded by :data:`SPAN` ids too, so the read is always a short
range of the primary key. More than :data:`LIMIT` events to replay means the client
was gone for long: it is told to refetch what it shows instead.
"""

from datetime import timedelta

from tortoise.expressions import Q

from core.bus import Message
from core.models import Event

OVERLAP = timedelta(seconds=60)
SPAN = 5_000
LIMIT = 500


def message(event: Event) -> Message:
    """The small JSON a socket gets: the event row as the table has it."""
    return {
        "id": event.id,
        "kind": event.kind,
        "deal_id": event.deal_id,
        "actor_id": event.actor_id,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
    }


async def last_id() -> int:
    """The newest event id (0 for an empty log): where a fresh client starts from."""
    newest = await Event.all().order_by("-id").only("id").first()
    return newest.id if newest is not None else 0


async def replay(after: int, limit: int = LIMIT) -> list[Message] | None:
    """Events committed since the client saw ``after``, with the overlap described above,
    oldest first; ``None`` when there are more than ``limit``."""
    seen = await Event.filter(id=after).only("id", "created_at").first()
    query = Event.filter(id__gt=after)
    if seen is not None:
        query = Event.filter(id__gt=max(after - SPAN, 0)).filter(
            Q(id__gt=after) | Q(created_at__gte=seen.created_at - OVERLAP)
        )
    rows = await query.order_by("id").limit(limit + 1)
    if len(rows) > limit:
        return None
    return [message(row) for row in rows]
