"""Unread counts: per user, the customer messages of a dialog above their read marker.

A marker (``DialogRead``) holds the id of the newest customer message the user has seen
in the dialog; this module is the only writer of markers. Counting is by message id on
the message table's (dialog, id) index, and only for dialogs whose newest customer
message (``dialog.last_inbound_id``) is above the marker, so read dialogs cost one
comparison each and a list's counts are one grouped query, however many dialogs there are.

Without a marker a dialog counts from the reader's baseline (``ReadBaseline``), not
from the first message ever: a new user sees what came after they joined as unread.
The baseline is bookkeeping made on the reader's first count, not a change anyone
made, so it records no event.
"""

import contextlib
from typing import Any

from tortoise.exceptions import IntegrityError

from core.errors import NotFound
from core.events import change
from core.models import User
from inbox.models import Dialog, DialogRead, Message, ReadBaseline

#: The total counts this far and no further: a badge shows "99+" past it.
TOTAL_CAP = 100

#: Customer messages above the reader's marker, in dialogs that have any.
UNREAD = (
    'FROM "message" m JOIN "dialog" d ON d."id" = m."dialog_id" '
    'LEFT JOIN "dialog_read" r ON r."dialog_id" = d."id" AND r."user_id" = {user} '
    'WHERE d."last_inbound_id" > COALESCE(r."message_id", {since}) '
    'AND m."direction" = \'in\' AND m."id" > COALESCE(r."message_id", {since})'
)
#: Per dialog of a list (``{ids}``: one placeholder each).
COUNTS = (
    'SELECT m."dialog_id" AS dialog_id, COUNT(*) AS n ' + UNREAD + ' AND m."dialog_id" IN ({ids}) '
    'GROUP BY m."dialog_id"'
)
#: Over all dialogs, stopping at the cap (built of constants: the reader is a parameter).
TOTAL = f"SELECT COUNT(*) AS n FROM (SELECT 1 {UNREAD} LIMIT {TOTAL_CAP}) unread"  # noqa: S608


async def mark_read(*, actor: User, dialog_id: int) -> bool:
    """The actor has seen the dialog up to its newest customer message: their marker
    moves there (never back) and ``dialog.read`` is recorded, so their other pages
    clear it too. False when there was nothing new to read."""
    async with change(actor) as batch:
        dialog = await Dialog.filter(id=dialog_id).select_for_update().first()
        if dialog is None:
            raise NotFound(f"dialog {dialog_id} does not exist", field="dialog_id")
        newest = dialog.last_inbound_id
        marker = await DialogRead.get_or_none(user=actor, dialog=dialog)
        if newest is None or (marker is not None and marker.message_id >= newest):
            return False
        if marker is None:
            await DialogRead.create(user=actor, dialog=dialog, message_id=newest)
        else:
            marker.message_id = newest
            await marker.save(update_fields=["message_id"])
        await batch.record("dialog.read", dialog_id=dialog.id, message_id=newest)
    return True


async def unread_counts(*, reader: User, dialog_ids: list[int]) -> dict[int, int]:
    """``{dialog id: unread count}`` for the dialogs (of a list) that have unread messages."""
    if not dialog_ids:
        return {}
    sql, values = _sql(COUNTS, reader, await baseline(reader), dialog_ids)
    rows = await Dialog._meta.db.execute_query_dict(sql, values)
    return {row["dialog_id"]: row["n"] for row in rows}


async def unread_total(*, reader: User) -> int:
    """The reader's unread messages over all dialogs, counted up to :data:`TOTAL_CAP`."""
    sql, values = _sql(TOTAL, reader, await baseline(reader), [])
    rows = await Dialog._meta.db.execute_query_dict(sql, values)
    return int(rows[0]["n"])


async def baseline(reader: User) -> int:
    """The message id the reader's unread counts start after: stored once, the newest
    message from before the reader was created (0 for users who predate baselines).

    The backward walk of the message ids stops at the first older message, so it reads
    about as many rows as arrived since the user was created, once per user.
    """
    found = await ReadBaseline.get_or_none(user=reader)
    if found is not None:
        return found.message_id
    before = await Message.filter(created_at__lte=reader.created_at).order_by("-id").first()
    since = before.id if before is not None else 0
    with contextlib.suppress(IntegrityError):  # a concurrent first count stored the same
        await ReadBaseline.create(user=reader, message_id=since)
    return since


async def count_from_start(*, reader: User) -> None:
    """The reader counts every customer message ever (as users who predate baselines
    do): for a team that was there all along, such as the demo's."""
    await ReadBaseline.update_or_create(defaults={"message_id": 0}, user=reader)


def _sql(template: str, reader: User, since: int, ids: list[int]) -> tuple[str, list[Any]]:
    """The query with this database's placeholders: the reader, the baseline, the ids."""
    postgres = Dialog._meta.db.capabilities.dialect == "postgres"
    marks = [f"${n}" if postgres else f"?{n}" for n in range(1, len(ids) + 3)]
    sql = template.format(user=marks[0], since=marks[1], ids=", ".join(marks[2:]))
    return sql, [reader.id, since, *ids]
