"""The inbox's dialog list: newest activity first, keyset pages, search.

Pages are keyset-paginated on (last activity, id), so the hundredth page of 100,000
dialogs costs what the first does. Dialogs without any activity yet come after the rest,
by id. A search matches the contact's name, their phone (typed with or without spaces and
``+``) or the text of any message of the dialog; on PostgreSQL trigram indexes answer the
substring matches (``core/migrations/0014_dialog_list.py``).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from core import cursors
from core.errors import ValidationFailed
from inbox.models import Contact, Dialog, Message

MAX_PAGE = 200
#: A search that looks like a phone number also matches contacts' E.164 phones.
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{3,}$")


class Shown(StrEnum):
    """Which dialogs a list shows: all, the reader's own, or those nobody has."""

    ALL = "all"
    MINE = "mine"
    UNASSIGNED = "unassigned"


@dataclass
class DialogPage:
    """One page of dialogs (contacts loaded) and the cursor of the next (``None``: last)."""

    items: list[Dialog]
    next_cursor: str | None


async def list_dialogs(
    *,
    channel_id: int | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    shown: Shown = Shown.ALL,
    reader_id: int | None = None,
) -> DialogPage:
    """Dialogs most recent activity first, optionally one channel's or matching ``q``;
    ``shown`` picks the reader's own (``reader_id``) or the unassigned ones."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    base = Dialog.all() if channel_id is None else Dialog.filter(channel_id=channel_id)
    if shown == Shown.MINE:
        base = base.filter(assignee_id=reader_id)
    elif shown == Shown.UNASSIGNED:
        base = base.filter(assignee_id__isnull=True)
    sources = _matching(base, q.strip()) if q and q.strip() else [base]
    after = cursors.decode(cursor, _moment) if cursor else None
    found: dict[int, Dialog] = {}
    for source in sources:
        found |= {d.id: d for d in await _page(source, after, limit + 1)}
    items = sorted(found.values(), key=_newest_first)[: limit + 1]
    if len(items) <= limit:
        return DialogPage(items=items, next_cursor=None)
    last = items[limit - 1]
    return DialogPage(items[:limit], cursors.encode(last.last_message_at, last.id))


def _newest_first(dialog: Dialog) -> tuple[bool, float, int]:
    """The list's order as a sort key: activity newest first, then the idle ones, by id."""
    at = dialog.last_message_at
    return (at is None, -at.timestamp() if at else 0.0, -dialog.id)


def _moment(value: str) -> datetime:
    """A cursor's time, which we always write with its UTC offset."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment


def _matching(base: QuerySet[Dialog], q: str) -> list[QuerySet[Dialog]]:
    """The dialogs whose contact's name or phone contains ``q``, and those with a message
    that does: two queries, each page merged in order by :func:`list_dialogs`.

    Apart, PostgreSQL plans each one well: a rare word is looked up in its trigram index
    and the few dialogs sorted, a common one walks the list in order and stops at a page.
    Joined by an OR it could do neither and read every match.
    """
    who = Q(name__icontains=q)
    if PHONE_LIKE.match(q):
        who |= Q(phone__contains=re.sub(r"\D", "", q))
    contacts = Contact.filter(who).values("id")
    messages = Message.filter(text__icontains=q).values("dialog_id")
    return [
        base.filter(contact_id__in=Subquery(contacts)),
        base.filter(id__in=Subquery(messages)),
    ]


async def _page(
    base: QuerySet[Dialog], after: tuple[datetime | None, int] | None, limit: int
) -> list[Dialog]:
    rows: list[Dialog] = []
    if after is None or after[0] is not None:
        active = base.filter(last_message_at__isnull=False)
        if after is not None:
            at, last_id = after
            # the plain bound lets the index scan start at the cursor, the OR breaks ties
            active = active.filter(last_message_at__lte=at).filter(
                Q(last_message_at__lt=at) | Q(last_message_at=at, id__lt=last_id)
            )
        rows = await _load(active.order_by("-last_message_at", "-id").limit(limit))
    if len(rows) < limit:
        idle = base.filter(last_message_at__isnull=True)
        if after is not None and after[0] is None:
            idle = idle.filter(id__lt=after[1])
        rows += await _load(idle.order_by("-id").limit(limit - len(rows)))
    return rows


async def _load(query: QuerySet[Dialog]) -> list[Dialog]:
    return await query.select_related("contact")
