"""The inbox list's read side: each dialog's latest message, for its preview line."""

from tortoise.functions import Max

from inbox.models import Direction, Message


async def last_messages(*, dialog_ids: list[int]) -> dict[int, Message]:
    """The newest message of each dialog in ``dialog_ids`` (two queries, whatever the count).
    Team notes are not the conversation, so they never stand in for its last message."""
    if not dialog_ids:
        return {}
    rows = (
        await Message.filter(dialog_id__in=dialog_ids)
        .exclude(direction=Direction.NOTE)
        .annotate(newest=Max("id"))
        .group_by("dialog_id")
        .values_list("newest", flat=True)
    )
    found = await Message.filter(id__in=list(rows))
    return {m.dialog_id: m for m in found}
