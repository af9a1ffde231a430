"""Who may see an event on the live socket: the one rule, kept apart so it is tested alone."""

from typing import Any

from core.bus import Message
from core.models import Role, User

#: Event families of the inbox, which every signed-in user works in.
INBOX = frozenset({"dialog", "message", "contact", "note"})
STAFF = frozenset({Role.OWNER, Role.ADMIN})


def visible(message: Message, user: User) -> bool:
    """Owners and admins see everything. An operator (the Deals guide's Chat Operator, who
    has no access to deals, pipelines, automations, the Conversions API or settings) sees
    the inbox's events and the tasks given to them (or taken from them); anything else,
    including kinds added later, stays hidden until it is allowed here."""
    if user.role in STAFF:
        return True
    family = message["kind"].partition(".")[0]
    if family == "task":
        return user.id in _assignees(message.get("data") or {})
    return family in INBOX


def _assignees(data: dict[str, Any]) -> set[Any]:
    """The task's assignee, and both sides of a change of assignee."""
    people = {data.get("assignee_id")}
    moved = (data.get("changes") or {}).get("assignee_id") or {}
    return people | {moved.get("from"), moved.get("to")}
