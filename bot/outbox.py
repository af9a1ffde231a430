"""The outbound queue: every send is recorded before it is attempted.

Operator replies, bot answers and (later) trigger auto-messages all land here as an
outbound ``Message`` plus an ``Outbox`` row in the caller's transaction; the worker
delivers them, so a crash or restart loses nothing.
"""

from datetime import UTC, datetime
from typing import Any

from bot.models import Channel, ChannelKind, Outbox
from core.events import EventBatch, change
from core.models import User
from inbox.dialogs import add_outbound, check_service_window, get_dialog
from inbox.models import Author, Dialog, Message


async def queue(
    batch: EventBatch,
    *,
    dialog: Dialog,
    author: Author,
    text: str,
    author_user: User | None = None,
    kind: str = "text",
    payload: dict[str, Any] | None = None,
) -> Message:
    """Record an outbound message and its delivery job in the open transaction."""
    message = await add_outbound(
        batch,
        dialog=dialog,
        author=author,
        author_user=author_user,
        text=text,
        kind=kind,
        payload=payload,
    )
    await Outbox.create(message=message, next_attempt_at=datetime.now(UTC))
    return message


async def send_text(*, actor: User, dialog_id: int, text: str) -> Message:
    """An operator's reply. WhatsApp refuses free text outside the 24-hour window."""
    dialog = await get_dialog(dialog_id=dialog_id)
    channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
    if channel.kind == ChannelKind.WHATSAPP:
        check_service_window(dialog)
    async with change(actor) as batch:
        return await queue(
            batch, dialog=dialog, author=Author.OPERATOR, author_user=actor, text=text
        )
