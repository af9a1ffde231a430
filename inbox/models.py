"""Inbox tables: contacts, channels, dialogs, messages and the outbound queue."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from core.models import User
from core.queue_row import QueueRow


class ChannelKind(StrEnum):
    """The messengers customers write from."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"


class Channel(Model):
    """A connected bot or business number, configured by admins.

    Credentials are stored encrypted. Where its new dialogs become deals is the
    funnels' business (``funnels.models.DealIntake``): the inbox points at nothing above it.
    """

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ChannelKind, max_length=16)
    name = fields.CharField(max_length=100)
    api_base_url = fields.CharField(max_length=255)
    #: Telegram bot id or WhatsApp phone_number_id: routes webhooks to the channel.
    external_id = fields.CharField(max_length=64, db_index=True)
    credentials = fields.TextField()
    settings = fields.JSONField[dict[str, Any]](default=dict)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    identities: fields.ReverseRelation["ContactIdentity"]
    dialogs: fields.ReverseRelation["Dialog"]
    messages: fields.ReverseRelation["Message"]

    class Meta:
        table = "channel"
        unique_together = (("kind", "external_id"),)


class Contact(Model):
    """A customer. Phones are stored in E.164 so messengers and bookings match on them."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    phone = fields.CharField(max_length=20, null=True, unique=True)
    email = fields.CharField(max_length=254, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    identities: fields.ReverseRelation["ContactIdentity"]
    dialogs: fields.ReverseRelation["Dialog"]

    class Meta:
        table = "contact"


class ContactIdentity(Model):
    """How a channel knows a contact: Telegram user id, or WhatsApp wa_id and user_id."""

    id = fields.IntField(primary_key=True)
    channel: fields.ForeignKeyRelation[Channel] = fields.ForeignKeyField(
        "funnelbox.Channel", related_name="identities", on_delete=fields.CASCADE
    )
    channel_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "funnelbox.Contact", related_name="identities", on_delete=fields.CASCADE
    )
    contact_id: int
    external_id = fields.CharField(max_length=64)
    user_id = fields.CharField(max_length=128, null=True)
    ctwa_clid = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "contact_identity"
        unique_together = (("channel", "external_id"),)


class Dialog(Model):
    """The conversation of one contact on one channel."""

    id = fields.IntField(primary_key=True)
    channel: fields.ForeignKeyRelation[Channel] = fields.ForeignKeyField(
        "funnelbox.Channel", related_name="dialogs", on_delete=fields.CASCADE
    )
    channel_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "funnelbox.Contact", related_name="dialogs", on_delete=fields.CASCADE
    )
    contact_id: int
    #: Telegram chat id or WhatsApp wa_id: where replies go.
    chat_id = fields.CharField(max_length=64)
    #: The operator who answers it (none: anyone may pick it up).
    assignee: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "funnelbox.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    last_inbound_at = fields.DatetimeField(null=True)
    #: The newest customer message: a reader whose marker is below it has unread ones.
    last_inbound_id = fields.BigIntField(null=True)
    last_message_at = fields.DatetimeField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    messages: fields.ReverseRelation["Message"]

    class Meta:
        table = "dialog"
        unique_together = (("channel", "contact"),)
        indexes = (
            # the inbox list's order and keyset (``inbox.dialog_list``), and its "mine" tab
            Index(fields=("last_message_at", "id"), name="dialog_activity"),
            Index(fields=("assignee_id", "last_message_at"), name="dialog_assignee"),
        )


class DialogRead(Model):
    """How far one user has read one dialog: the id of the newest message they saw.

    The dialog's unread count for them is its customer messages above that id, counted
    on the message table's (dialog, id) index; no row means nothing was read yet.
    """

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "funnelbox.User", related_name=False, on_delete=fields.CASCADE
    )
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "funnelbox.Dialog", related_name="reads", on_delete=fields.CASCADE
    )
    message_id = fields.BigIntField()

    class Meta:
        table = "dialog_read"
        unique_together = (("user", "dialog"),)


class ReadBaseline(Model):
    """Where the unread counts of one user start, a message id.

    Customer messages up to ``message_id`` came before the user joined, so a new
    colleague does not inherit the whole history as unread. Made on the first count
    (``inbox.unread``): the newest message from before the user was created. Users who
    existed before the table count from 0, as they did.
    """

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation = fields.OneToOneField(
        "funnelbox.User", related_name=False, on_delete=fields.CASCADE
    )
    message_id: int = fields.BigIntField()

    class Meta:
        table = "read_baseline"


class Direction(StrEnum):
    """Inbound from the customer, outbound to the customer, or a note the team keeps on
    the dialog (never queued, never sent: no outbox row is ever made for one)."""

    IN = "in"
    OUT = "out"
    NOTE = "note"


class Author(StrEnum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    OPERATOR = "operator"
    BOT = "bot"


class DeliveryStatus(StrEnum):
    """Outbound delivery, in the order it only ever moves forward (failed is final)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    #: Nothing to deliver: a customer's message, or a team's note, as we stored it.
    RECEIVED = "received"


class Message(Model):
    """One message of a dialog. The external id is unique per channel: redeliveries collide."""

    id = fields.BigIntField(primary_key=True)
    channel: fields.ForeignKeyRelation[Channel] = fields.ForeignKeyField(
        "funnelbox.Channel", related_name="messages", on_delete=fields.CASCADE
    )
    channel_id: int
    dialog: fields.ForeignKeyRelation[Dialog] = fields.ForeignKeyField(
        "funnelbox.Dialog", related_name="messages", on_delete=fields.CASCADE
    )
    dialog_id: int
    direction = fields.CharEnumField(Direction, max_length=4)
    author = fields.CharEnumField(Author, max_length=16)
    author_user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "funnelbox.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    author_user_id: int | None
    kind = fields.CharField(max_length=32, default="text")
    text = fields.TextField(default="")
    payload = fields.JSONField[dict[str, Any]](default=dict)
    external_id = fields.CharField(max_length=128, null=True)
    status = fields.CharEnumField(DeliveryStatus, max_length=16)
    error: str | None = fields.TextField(null=True)
    edited_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "message"
        unique_together = (("channel", "external_id"),)
        indexes = (Index(fields=("dialog_id", "id"), name="message_dialog"),)


class OutboxState(StrEnum):
    """Life of a send: pending until the platform answers, then done or failed."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Outbox(QueueRow):
    """A send recorded before it is attempted, so a crash or restart loses nothing.

    A row of the shared queue (``core.queue``): pending while ``next_attempt_at`` is set,
    each dialog's sends in order. ``purpose`` names who still has to want the send when
    it is due (``inbox.outgoing``); ``key`` makes a send queued for the same reason
    twice (a trigger and the event that fired it) collide in the database.
    """

    id = fields.BigIntField(primary_key=True)
    message: fields.OneToOneRelation[Message] = fields.OneToOneField(
        "funnelbox.Message", related_name="outbox", on_delete=fields.CASCADE
    )
    message_id: int
    #: The dialog whose sends go out in order (copied from the message for the claim).
    dialog_id = fields.IntField(null=True, db_index=True)
    state = fields.CharEnumField(OutboxState, max_length=8, default=OutboxState.PENDING)
    attempts = fields.SmallIntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    #: Set while parked: a bad item kept for a person, who may put it back in the queue.
    parked_at = fields.DatetimeField(null=True, db_index=True)
    last_error: str | None = fields.TextField(null=True)
    purpose = fields.CharField(max_length=32, null=True)
    key = fields.CharField(max_length=200, null=True, unique=True)

    class Meta:
        table = "outbox"
