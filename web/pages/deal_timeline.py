"""A deal's timeline as its page shows it: each event of the deal, newest first, with
who did it and what changed in words (names instead of ids), and what the bot wrote in
the deal's dialog (its stage triggers' auto-messages, greetings).

The events are the deal's rows of the event log (``funnels.queries.timeline``); the
template turns each entry's ``kind`` and field keys into sentences in the reader's
language.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.models import Event, User
from funnels.models import LostReason, Pipeline
from inbox.models import Message


@dataclass
class Change:
    """One field's old and new value, as text (``""``: empty)."""

    #: A deal field (``title``, ``owner_id``...), ``tags``, a booking field, or a custom
    #: field's own name when ``custom`` is set.
    key: str
    old: str
    new: str
    custom: bool = False


@dataclass
class Entry:
    """One line of the timeline."""

    kind: str
    at: datetime
    #: The person who did it; ``None`` for the workspace's own doing (``by`` says which).
    who: str | None
    #: ``person``, ``automation``, ``trigger``, ``bot`` or ``system``.
    by: str
    #: What the entry is about: a stage, a contact's name, a task's title, a message.
    subject: str = ""
    changes: list[Change] = field(default_factory=list)


@dataclass
class Names:
    """What ids in event data stand for."""

    users: dict[int, User]
    stages: dict[int, str]
    reasons: dict[int, str]

    @classmethod
    def of(cls, users: list[User], pipelines: list[Pipeline], reasons: list[LostReason]) -> "Names":
        stages = {s.id: s.name for p in pipelines for s in p.stages}
        return cls({u.id: u for u in users}, stages, {r.id: r.name for r in reasons})

    def person(self, user_id: Any) -> str:
        user = self.users.get(user_id) if isinstance(user_id, int) else None
        return (user.name or user.email) if user is not None else ""


#: Event data keys that hold an id, and how each becomes a name.
_IDS = {"owner_id": "person", "lost_reason_id": "reason", "stage_id": "stage"}


def entries(events: list[Event], auto_messages: list[Message], names: Names) -> list[Entry]:
    """The timeline, newest first; ``auto_messages`` are the bot's in the deal's dialog."""
    found = [_entry(e, names) for e in events if e.kind != "task.notified"]
    found += [
        Entry("bot_message", m.created_at, None, "bot", m.text or m.kind) for m in auto_messages
    ]
    return sorted(found, key=lambda e: e.at, reverse=True)


def _entry(event: Event, names: Names) -> Entry:
    data = event.data
    entry = Entry(event.kind, event.created_at, None, _by(event))
    if event.actor_id is not None:
        entry.who = names.person(event.actor_id) or None
    match event.kind:
        case "deal.created":
            entry.subject = names.stages.get(data.get("stage_id") or 0, "")
        case "deal.stage_changed":
            entry.changes = [Change("stage", data.get("from_stage", ""), data.get("to_stage", ""))]
        case "deal.updated" | "deal.booking_changed":
            entry.changes = _changes(data, names)
        case "deal.contact_added" | "deal.contact_removed":
            entry.subject = data.get("contact", "")
        case "task.created" | "task.completed" | "task.deleted" | "task.updated":
            entry.subject = data.get("title") or _new(data, "title")
        case "trigger.failed":
            entry.subject = data.get("error", "")
    return entry


def _by(event: Event) -> str:
    if event.actor_id is not None:
        return "person"
    cause = event.data.get("cause") or {}
    if "automation_id" in cause:
        return "automation"
    return "trigger" if event.kind.startswith("trigger.") else "system"


def _changes(data: dict[str, Any], names: Names) -> list[Change]:
    changes = [
        Change(key, _text(key, c.get("from"), names), _text(key, c.get("to"), names))
        for key, c in (data.get("changes") or {}).items()
    ]
    changes += [
        Change(name, _text(name, c.get("from"), names), _text(name, c.get("to"), names), True)
        for name, c in (data.get("fields") or {}).items()
    ]
    if tags := data.get("tags"):
        changes.append(Change("tags", ", ".join(tags["from"]), ", ".join(tags["to"])))
    return changes


def _text(key: str, value: Any, names: Names) -> str:
    if value is None:
        return ""
    match _IDS.get(key):
        case "person":
            return names.person(value)
        case "reason":
            return names.reasons.get(value, "")
        case "stage":
            return names.stages.get(value, "")
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v.get("title", v)) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def _new(data: dict[str, Any], key: str) -> str:
    return str(((data.get("changes") or {}).get(key) or {}).get("to") or "")
