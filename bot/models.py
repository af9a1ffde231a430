"""Bot tables: accepted webhook deliveries and staff members' own bot chats.

Channels themselves are the inbox's (``inbox.models.Channel``); the bot is one adapter of them.
"""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from altegio_sync.models import AltegioConnection
from core.models import User
from core.queue_row import QueueRow
from inbox.models import Channel


class DeliveryKind(StrEnum):
    """What an accepted webhook item is."""

    TELEGRAM_UPDATE = "telegram_update"
    WHATSAPP_MESSAGE = "whatsapp_message"
    WHATSAPP_STATUS = "whatsapp_status"
    ALTEGIO_RECORD = "altegio_record"


class InboundDelivery(QueueRow):
    """A webhook item, stored before the webhook is answered and processed after.

    It came from a channel (Telegram, WhatsApp) or an Altegio connection. The key
    (update id, wamid, status id and status, record id and last change) is unique per
    source, so a redelivery is recognised before anything else happens. Pending rows
    have a next_attempt_at, processed and parked rows do not.
    """

    id = fields.BigIntField(primary_key=True)
    channel: fields.ForeignKeyNullableRelation[Channel] = fields.ForeignKeyField(
        "funnelbox.Channel", related_name="deliveries", null=True, on_delete=fields.CASCADE
    )
    channel_id: int | None
    altegio: fields.ForeignKeyNullableRelation[AltegioConnection] = fields.ForeignKeyField(
        "funnelbox.AltegioConnection",
        related_name="deliveries",
        null=True,
        on_delete=fields.CASCADE,
    )
    altegio_id: int | None
    kind = fields.CharEnumField(DeliveryKind, max_length=24)
    key = fields.CharField(max_length=160)
    #: The conversation (channel and chat) the item belongs to: handled in order.
    thread = fields.CharField(max_length=200, null=True)
    payload = fields.JSONField[dict[str, Any]]()
    received_at = fields.DatetimeField(auto_now_add=True)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    #: Set while parked: a bad item kept for a person, who may put it back in the queue.
    parked_at = fields.DatetimeField(null=True, db_index=True)
    processed_at = fields.DatetimeField(null=True)
    attempts = fields.SmallIntField(default=0)
    last_error: str | None = fields.TextField(null=True)

    class Meta:
        table = "inbound_delivery"
        unique_together = (("channel", "key"), ("altegio", "key"))


class StaffChat(Model):
    """A user's own chat with one of the business's Telegram bots, where the bot tells
    them about tasks. Linked by the user opening a signed /start link."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "funnelbox.User", related_name="staff_chat", on_delete=fields.CASCADE
    )
    user_id: int
    channel: fields.ForeignKeyRelation[Channel] = fields.ForeignKeyField(
        "funnelbox.Channel", related_name="staff_chats", on_delete=fields.CASCADE
    )
    channel_id: int
    chat_id = fields.CharField(max_length=32)
    linked_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "staff_chat"
