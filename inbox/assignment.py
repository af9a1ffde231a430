"""Who answers a dialog: giving it to an operator, taking it, letting it go.

The rule: owners and admins give any dialog to any active user or to nobody; an
operator takes a dialog nobody has and lets go of their own, but never moves a
colleague's. The write itself (and its ``dialog.assigned`` event) is
:func:`inbox.dialogs.set_assignee`'s.
"""

from core.errors import NotFound, PermissionDenied
from core.events import change
from core.models import Role, User
from inbox.dialogs import get_dialog, set_assignee
from inbox.models import Dialog

STAFF = frozenset({Role.OWNER, Role.ADMIN})


async def assign(*, actor: User, dialog_id: int, assignee_id: int | None) -> Dialog:
    """Give the dialog to ``assignee_id`` (``None`` unassigns) if ``actor`` may."""
    if assignee_id is not None and not await User.exists(id=assignee_id, is_active=True):
        raise NotFound(f"no active user {assignee_id}", field="user_id")
    async with change(actor) as batch:
        dialog = await Dialog.filter(id=dialog_id).select_for_update().first()
        if dialog is None:
            raise NotFound(f"dialog {dialog_id} does not exist", field="dialog_id")
        _check(actor, dialog.assignee_id, assignee_id)  # type: ignore[attr-defined]
        await set_assignee(batch, dialog=dialog, assignee_id=assignee_id)
    return await get_dialog(dialog_id=dialog_id)


def _check(actor: User, current: int | None, wanted: int | None) -> None:
    """An operator may only take a free dialog or let go of their own."""
    if actor.role in STAFF or current == wanted:
        return
    if wanted == actor.id and current is None:
        return
    if wanted is None and current == actor.id:
        return
    if wanted not in (None, actor.id):
        raise PermissionDenied("an operator can assign dialogs only to themselves", field="user_id")
    raise PermissionDenied(
        "this dialog is a colleague's: an owner or admin can reassign it", field="user_id"
    )
