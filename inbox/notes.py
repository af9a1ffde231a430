"""Private notes: what the team writes on a dialog for itself, never sent to the customer.

A note is a message of the dialog (``inbox.dialogs.add_note`` writes it) so it sits in
the conversation where it was written, but it is never queued: the outbox worker only
sends what has an outbox row.
"""

from core.events import change
from core.models import User
from inbox.dialogs import add_note as store_note
from inbox.dialogs import get_dialog
from inbox.models import Message


async def add_note(*, actor: User, dialog_id: int, text: str) -> Message:
    """Write a note on the dialog (``note.added``, which the live inbox shows at once)."""
    dialog = await get_dialog(dialog_id=dialog_id)
    async with change(actor) as batch:
        return await store_note(batch, dialog=dialog, author_user=actor, text=text)
