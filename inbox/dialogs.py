"""Dialogs and messages: the only code that writes ``ContactIdentity``, ``Dialog`` and
``Message`` rows (contacts themselves are written by :mod:`inbox.service`).

Callers (the channel adapters) hold the open :func:`core.events.change`; these
functions write inside it and record the events the inbox and automations react to.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.db import insert_all, update_all
from core.errors import Conflict, NotFound, ValidationFailed
from core.events import EventBatch
from core.models import User
from core.phones import normalize_phone
from core.rota import next_operator
from inbox.models import (
    Author,
    Contact,
    ContactIdentity,
    DeliveryStatus,
    Dialog,
    Direction,
    Message,
    Outbox,
)
from inbox.service import (
    NewContact,
    create_contact,
    create_contacts,
    find_by_phone,
    update_contact,
)

log = logging.getLogger(__name__)

#: Outbound delivery only moves forward: a late "delivered" never undoes "read".
STATUS_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.FAILED: 4,
}
#: WhatsApp's customer-service window: free text only within 24 h of the last inbound.
SERVICE_WINDOW = timedelta(hours=24)


@dataclass
class Sender:
    """Who wrote, as the channel knows them."""

    external_id: str
    name: str
    phone: str | None = None
    user_id: str | None = None
    ctwa_clid: str | None = None


@dataclass
class Inbound:
    """One customer message, already translated from the channel's payload."""

    sender: Sender
    chat_id: str
    external_id: str
    kind: str = "text"
    text: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None


async def identify(batch: EventBatch, *, channel_id: int, sender: Sender) -> Contact:
    """The contact behind a channel identity, created on first contact unless a contact
    with the sender's phone exists (a WhatsApp customer who was a Telegram or booking
    contact already is one person).

    A later message may bring what the first lacked (a shared phone, an ad click id).
    """
    identity = await ContactIdentity.get_or_none(
        channel_id=channel_id, external_id=sender.external_id
    ).select_related("contact")
    phone = _phone(sender)
    if identity is None:
        contact = (await find_by_phone(phone) if phone else None) or await create_contact(
            actor=batch.actor, name=sender.name or sender.external_id, phone=phone
        )
        await _identity(channel_id, contact, sender).save()
        return contact
    contact = identity.contact
    if fresh := _fresh(identity, sender):
        await identity.update_from_dict(fresh).save(update_fields=list(fresh))
    if phone and contact.phone != phone:
        if await find_by_phone(phone) is None:
            contact = await update_contact(actor=batch.actor, contact_id=contact.id, phone=phone)
        else:  # another contact is that person already: merging is a person's decision
            log.warning("contact %s shared a phone another contact has; kept apart", contact.id)
    return contact


def _fresh(identity: ContactIdentity, sender: Sender) -> dict[str, str]:
    """What a message tells about its sender that the identity does not hold yet."""
    extra = {"user_id": sender.user_id, "ctwa_clid": sender.ctwa_clid}
    return {k: v for k, v in extra.items() if v and getattr(identity, k) != v}


async def known_dialogs(*, channel_id: int, senders: Sequence[Sender]) -> dict[str, Dialog]:
    """The dialogs of the senders that :func:`identify` and :func:`open_dialog` would
    change nothing for (known on the channel, nothing new about them, a dialog open),
    by sender's external id: what most messages are, read for a whole batch at once.

    The dialogs are locked for the rest of the transaction, in id order, as
    :func:`open_dialog` locks one; the other senders take the one-by-one way.
    """
    by_id = {sender.external_id: sender for sender in senders}
    identities = await ContactIdentity.filter(
        channel_id=channel_id, external_id__in=list(by_id)
    ).select_related("contact")
    unchanged: dict[int, str] = {}
    for identity in identities:
        sender = by_id[identity.external_id]
        if not _fresh(identity, sender) and _phone(sender) in (None, identity.contact.phone):
            unchanged[identity.contact_id] = identity.external_id
    if not unchanged:
        return {}
    dialogs = await (
        Dialog.filter(channel_id=channel_id, contact_id__in=list(unchanged))
        .order_by("id")
        .select_for_update()
    )
    return {unchanged[dialog.contact_id]: dialog for dialog in dialogs}


async def first_contacts(
    batch: EventBatch, *, channel_id: int, messages: Sequence[Inbound]
) -> dict[str, Dialog]:
    """The first contact of the messages' senders whom nobody knows yet (no identity on
    the channel, no contact with their phone), made at once: a contact, its identity and
    an open dialog each, what :func:`identify` and :func:`open_dialog` do one by one.
    Returns their dialogs by sender's external id; other senders are left alone.

    Not for a channel that assigns new dialogs in turn: its caller takes the one-by-one
    way, which keeps the turn.
    """
    strangers = await _strangers(channel_id, messages) if messages else []
    if not strangers:
        return {}
    people = [NewContact(name=m.sender.name or m.sender.external_id, phone=phone)
              for m, phone in strangers]  # fmt: skip
    contacts = await create_contacts(actor=batch.actor, people=people)
    pairs = [(contact, m) for contact, (m, _) in zip(contacts, strangers, strict=True)]
    await insert_all([_identity(channel_id, contact, m.sender) for contact, m in pairs])
    dialogs = [
        Dialog(channel_id=channel_id, contact=contact, chat_id=m.chat_id) for contact, m in pairs
    ]
    await insert_all(dialogs)
    await batch.record_all("dialog.created", [_created(dialog) for dialog in dialogs])
    return {m.sender.external_id: dialog for dialog, (_, m) in zip(dialogs, pairs, strict=True)}


async def _strangers(
    channel_id: int, messages: Sequence[Inbound]
) -> list[tuple[Inbound, str | None]]:
    """Each unknown sender's first message, in arrival order, with the sender's phone:
    not known on the channel, and no contact (nor an earlier of them) has the phone."""
    firsts: dict[str, Inbound] = {}
    for message in messages:
        firsts.setdefault(message.sender.external_id, message)
    known = ContactIdentity.filter(channel_id=channel_id, external_id__in=list(firsts))
    for external_id in await known.values_list("external_id", flat=True):
        del firsts[external_id]  # type: ignore[arg-type]
    phones = [(m, _phone(m.sender)) for m in firsts.values()]
    held = Contact.filter(phone__in=[phone for _, phone in phones if phone])
    taken: set[str | None] = set(await held.values_list("phone", flat=True))  # type: ignore[arg-type]
    strangers = []
    for message, phone in phones:
        if phone not in taken:
            strangers.append((message, phone))
        if phone:
            taken.add(phone)
    return strangers


def _identity(channel_id: int, contact: Contact, sender: Sender) -> ContactIdentity:
    """How a channel knows a contact: what the sender's first message told."""
    return ContactIdentity(
        channel_id=channel_id, contact=contact, external_id=sender.external_id,
        user_id=sender.user_id, ctwa_clid=sender.ctwa_clid,
    )  # fmt: skip


def _created(dialog: Dialog) -> dict[str, int]:
    """A ``dialog.created`` event's data: it puts the dialog in the live inbox."""
    return {
        "dialog_id": dialog.id, "channel_id": dialog.channel_id,
        "contact_id": dialog.contact_id,
    }  # fmt: skip


def _phone(sender: Sender) -> str | None:
    """The sender's phone in E.164, or ``None`` (logged) when the channel sent one that is
    not a valid number: a message is never refused for its sender's phone."""
    if not sender.phone:
        return None
    try:
        return normalize_phone(sender.phone)
    except ValidationFailed:
        log.warning(
            "sender %s: ignoring phone %r, not a valid number", sender.external_id, sender.phone
        )
        return None


async def open_dialog(
    batch: EventBatch, *, channel_id: int, contact: Contact, chat_id: str, round_robin: bool = False
) -> Dialog:
    """The contact's dialog on the channel, created on first message (``dialog.created``,
    which puts it in the live inbox) and locked for the rest of the transaction so
    concurrent messages of one customer queue up here. With ``round_robin`` (a channel
    setting) a new dialog goes to the operator after the one who got the channel's last."""
    dialog = await Dialog.filter(channel_id=channel_id, contact=contact).select_for_update().first()
    if dialog is None:
        dialog = await Dialog.create(channel_id=channel_id, contact=contact, chat_id=chat_id)
        await batch.record("dialog.created", **_created(dialog))
        if round_robin:
            await set_assignee(batch, dialog=dialog, assignee_id=await _next_in_turn(channel_id))
    return dialog


async def _next_in_turn(channel_id: int) -> int | None:
    """The operator whose turn follows the assignee of the channel's latest assigned dialog."""
    last = (
        await Dialog.filter(channel_id=channel_id, assignee_id__not_isnull=True)
        .order_by("-id")
        .first()
    )
    return await next_operator(last.assignee_id if last else None)  # type: ignore[attr-defined]


async def set_assignee(batch: EventBatch, *, dialog: Dialog, assignee_id: int | None) -> bool:
    """Give the dialog to ``assignee_id`` (``None``: nobody), recording ``dialog.assigned``
    with from and to; False when it is theirs already. Who may do it is
    :mod:`inbox.assignment`'s rule."""
    previous = dialog.assignee_id  # type: ignore[attr-defined]
    if previous == assignee_id:
        return False
    dialog.assignee_id = assignee_id
    await dialog.save(update_fields=["assignee_id"])
    await batch.record(
        "dialog.assigned", dialog_id=dialog.id, **{"from": previous, "to": assignee_id}
    )
    return True


async def add_inbound(batch: EventBatch, *, dialog: Dialog, message: Inbound) -> Message | None:
    """Store a customer message; ``None`` when this external id was stored already."""
    stored = await add_inbound_all(batch, messages=[(dialog, message)])
    return stored[0] if stored else None


async def add_inbound_all(
    batch: EventBatch, *, messages: Sequence[tuple[Dialog, Inbound]]
) -> list[Message]:
    """Store customer messages of one channel, each in its dialog, in order: the ones
    whose external id is stored already are skipped; returns those stored.

    A whole batch of the webhook intake takes one statement per table (``insert_all``),
    a single message the same path: one rule for what storing a message means (the
    dialog's last-inbound marks, a ``message.received`` event).
    """
    if not messages:
        return []
    channel_id: int = messages[0][0].channel_id
    query = Message.filter(
        channel_id=channel_id, external_id__in=[m.external_id for _, m in messages]
    )
    known: list[str] = await query.values_list("external_id", flat=True)  # type: ignore[assignment]
    seen = set(known)
    fresh = []
    for dialog, message in messages:
        if message.external_id not in seen:
            seen.add(message.external_id)
            fresh.append((dialog, message))
    if not fresh:
        return []
    stored = [_received(dialog, message) for dialog, message in fresh]
    await insert_all(stored)
    await _mark_inbound(stored, [dialog for dialog, _ in fresh])
    received = [
        {
            "dialog_id": dialog.id,
            "message_id": row.id,
            "contact_id": dialog.contact_id,
            "kind": row.kind,
        }
        for row, (dialog, _) in zip(stored, fresh, strict=True)
    ]
    await batch.record_all("message.received", received)
    return stored


def _received(dialog: Dialog, message: Inbound) -> Message:
    return Message(
        channel_id=dialog.channel_id,
        dialog=dialog,
        direction=Direction.IN,
        author=Author.CUSTOMER,
        kind=message.kind,
        text=message.text,
        payload=message.payload,
        external_id=message.external_id,
        status=DeliveryStatus.RECEIVED,
    )


async def _mark_inbound(stored: Sequence[Message], dialogs: Sequence[Dialog]) -> None:
    """Each dialog's last inbound (and last) message is its latest one stored here."""
    now, latest = datetime.now(UTC), {}
    for row, dialog in zip(stored, dialogs, strict=True):
        dialog.last_inbound_at = dialog.last_message_at = now
        dialog.last_inbound_id = row.id
        latest[dialog.id] = dialog
    await update_all(
        list(latest.values()), ["last_inbound_at", "last_message_at", "last_inbound_id"]
    )


async def edit_inbound(
    batch: EventBatch, *, channel_id: int, external_id: str, text: str
) -> Message | None:
    """Apply a customer's edit to a stored message (``None`` if we never saw the original)."""
    stored = await Message.get_or_none(channel_id=channel_id, external_id=external_id)
    if stored is None:
        return None
    if stored.text != text:
        await batch.record(
            "message.edited",
            dialog_id=stored.dialog_id,
            message_id=stored.id,
            changes={"text": {"from": stored.text, "to": text}},
        )
        stored.text, stored.edited_at = text, datetime.now(UTC)
        await stored.save(update_fields=["text", "edited_at"])
    return stored


async def add_outbound(
    batch: EventBatch,
    *,
    dialog: Dialog,
    author: Author,
    author_user: User | None,
    text: str,
    kind: str = "text",
    payload: dict[str, Any] | None = None,
) -> Message:
    """Store a message we are about to send; the channel's outbox delivers it."""
    stored = await Message.create(
        channel_id=dialog.channel_id,
        dialog=dialog,
        direction=Direction.OUT,
        author=author,
        author_user=author_user,
        kind=kind,
        text=text,
        payload=payload or {},
        status=DeliveryStatus.QUEUED,
    )
    dialog.last_message_at = datetime.now(UTC)
    await dialog.save(update_fields=["last_message_at"])
    await batch.record(
        "message.queued", dialog_id=dialog.id, message_id=stored.id, author=author.value
    )
    return stored


async def add_note(batch: EventBatch, *, dialog: Dialog, author_user: User, text: str) -> Message:
    """Store a team note on the dialog. It has no outbox row, so nothing ever sends it, and
    it leaves ``last_message_at`` alone: the dialog list orders by the conversation."""
    stored = await Message.create(
        channel_id=dialog.channel_id,
        dialog=dialog,
        direction=Direction.NOTE,
        author=Author.OPERATOR,
        author_user=author_user,
        text=text,
        status=DeliveryStatus.RECEIVED,
    )
    await batch.record("note.added", dialog_id=dialog.id, message_id=stored.id)
    return stored


async def send_again(batch: EventBatch, *, message_id: int) -> None:
    """A failed message whose send a person put back in the queue: queued again, its
    old error cleared (the one way a message leaves failed)."""
    message = await Message.get(id=message_id)
    message.status, message.error = DeliveryStatus.QUEUED, None
    await message.save(update_fields=["status", "error"])
    await batch.record(
        "message.status",
        dialog_id=message.dialog_id,
        message_id=message.id,
        status=message.status.value,
        error=None,
    )


async def note_waiting(batch: EventBatch, *, message: Message, reason: str) -> None:
    """Why a queued message has not gone yet (shown with it until it is sent); recorded
    when the reason changes, so a message retried for one cause writes it once."""
    if message.status != DeliveryStatus.QUEUED or message.error == reason:
        return
    message.error = reason
    await message.save(update_fields=["error"])
    await batch.record(
        "message.status",
        dialog_id=message.dialog_id,
        message_id=message.id,
        status=message.status.value,
        error=reason,
    )


async def set_delivery(
    batch: EventBatch,
    *,
    message: Message,
    status: DeliveryStatus,
    external_id: str | None = None,
    error: str | None = None,
) -> bool:
    """Move an outbound message's status forward (False when it would go back).

    Failed is final; a late "delivered" never undoes "read".
    """
    if message.status == DeliveryStatus.FAILED or STATUS_RANK[status] <= STATUS_RANK.get(
        message.status, -1
    ):
        return False
    message.status, message.error = status, error
    fields = ["status", "error"]
    if external_id:
        message.external_id = external_id
        fields.append("external_id")
    await message.save(update_fields=fields)
    await batch.record(
        "message.status",
        dialog_id=message.dialog_id,
        message_id=message.id,
        status=status.value,
        error=error,
    )
    return True


async def backdate(batch: EventBatch, *, message: Message, at: datetime) -> None:
    """Give a message the time it was written elsewhere (history brought in, like the demo
    workspace's), and its dialog that activity. Called oldest first, as it happened."""
    await Message.filter(id=message.id).update(created_at=at)
    dialog = await Dialog.get(id=message.dialog_id)
    stamps = {"last_message_at": at, "created_at": min(dialog.created_at, at)}
    if message.direction == Direction.IN:
        stamps["last_inbound_at"] = at
    await Dialog.filter(id=dialog.id).update(**stamps)
    await batch.record(
        "message.backdated", dialog_id=dialog.id, message_id=message.id, at=at.isoformat()
    )


async def get_dialog(*, dialog_id: int) -> Dialog:
    """A dialog by id with its contact, or :class:`NotFound`."""
    dialog = await Dialog.get_or_none(id=dialog_id).select_related("contact")
    if dialog is None:
        raise NotFound(f"dialog {dialog_id} does not exist", field="dialog_id")
    return dialog


def window_ends(dialog: Dialog) -> datetime | None:
    """When WhatsApp's 24-hour customer-service window closes (closed already when in the
    past); ``None`` when the customer never wrote, so only a template may go first."""
    if dialog.last_inbound_at is None:
        return None
    return dialog.last_inbound_at + SERVICE_WINDOW


async def latest_dialog(*, contact_id: int) -> Dialog | None:
    """The contact's most recently active dialog on an active channel (where a booking's
    reminders reach them), if they have one."""
    query = Dialog.filter(contact_id=contact_id, channel__is_active=True)
    return await query.order_by("-last_message_at", "-id").first()


def window_open(dialog: Dialog, *, at: datetime | None = None) -> bool:
    """Whether WhatsApp's 24-hour customer-service window is open at ``at`` (now)."""
    ends = window_ends(dialog)
    return ends is not None and (at or datetime.now(UTC)) <= ends


def check_service_window(dialog: Dialog, *, now: datetime | None = None) -> None:
    """Refuse free text when WhatsApp's 24-hour customer-service window is closed."""
    if not window_open(dialog, at=now):
        raise Conflict(
            "the 24-hour customer service window is closed: send an approved template",
            field="text",
            code="window_closed",
        )


async def list_identities(*, contact_id: int) -> list[ContactIdentity]:
    """How each channel knows the contact, with the channel, oldest first."""
    return (
        await ContactIdentity.filter(contact_id=contact_id).select_related("channel").order_by("id")
    )


async def list_contact_dialogs(*, contact_id: int) -> list[Dialog]:
    """A contact's dialogs (one per channel), latest activity first, with contact and
    channel: the deal and contact pages show their conversations."""
    return (
        await Dialog.filter(contact_id=contact_id)
        .select_related("contact", "channel")
        .order_by("-last_message_at", "-id")
    )


async def list_bot_messages(*, dialog_id: int, since: datetime, limit: int = 200) -> list[Message]:
    """What the bot (auto-messages, greetings) wrote in a dialog since ``since``, oldest
    first: a deal's timeline shows its auto-messages."""
    query = Message.filter(dialog_id=dialog_id, author=Author.BOT, created_at__gte=since)
    return await query.order_by("id").limit(limit)


async def find_message(*, channel_id: int, external_id: str) -> Message | None:
    """A message by the id the platform gave it."""
    return await Message.get_or_none(channel_id=channel_id, external_id=external_id)


async def list_messages(
    *, dialog_id: int, before_id: int | None = None, limit: int = 50
) -> list[Message]:
    """The newest ``limit`` messages of a dialog (before ``before_id``), oldest first."""
    await get_dialog(dialog_id=dialog_id)
    query = Message.filter(dialog_id=dialog_id)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    newest = await query.order_by("-id").limit(limit)
    return newest[::-1]


async def get_message(*, message_id: int) -> Message:
    """A message by id, or :class:`NotFound`."""
    message = await Message.get_or_none(id=message_id)
    if message is None:
        raise NotFound(f"message {message_id} does not exist", field="message_id")
    return message


async def queue(
    batch: EventBatch,
    *,
    dialog: Dialog,
    author: Author,
    text: str,
    author_user: User | None = None,
    kind: str = "text",
    payload: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    purpose: str | None = None,
    key: str | None = None,
) -> Message:
    """Record an outbound message and its send in the open transaction.

    ``not_before`` holds a delayed message (a trigger's "2 hours after") until then;
    ``purpose`` names the check that decides, when it is due, whether it still goes
    (``inbox.outgoing.register_check``). ``key`` is unique: queueing for the same reason
    twice (see :func:`queued`) fails in the database rather than sending twice.
    """
    message = await add_outbound(
        batch,
        dialog=dialog,
        author=author,
        author_user=author_user,
        text=text,
        kind=kind,
        payload=payload,
    )
    await Outbox.create(
        message=message, dialog_id=dialog.id, next_attempt_at=not_before or datetime.now(UTC),
        purpose=purpose, key=key,
    )  # fmt: skip
    return message


async def queued(key: str) -> bool:
    """Whether a send under ``key`` was queued already (a redelivered event)."""
    return await Outbox.filter(key=key).exists()
