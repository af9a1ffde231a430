"""Meta Conversions API: the connection and the queue of reports."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from core.queue_row import QueueRow


class ConversionSettings(Model):
    """The Meta Pixel (dataset) that deal events are reported to. One row, edited by admins.

    The access token is stored encrypted like channel credentials."""

    id = fields.IntField(primary_key=True)
    is_enabled = fields.BooleanField(default=False)
    pixel_id = fields.CharField(max_length=32)
    credentials = fields.TextField()
    test_event_code = fields.CharField(max_length=64, null=True)
    #: Purchase needs a currency: this one is used for deals that have no amount.
    default_currency = fields.CharField(max_length=3, default="USD")
    api_base_url = fields.CharField(max_length=255)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "conversion_settings"


class ConversionState(StrEnum):
    """Where a Conversions API event is: waiting, accepted by Meta, too old, or given up."""

    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"
    FAILED = "failed"


class Conversion(QueueRow):
    """One server event for the Conversions API, queued by the event dispatcher and sent
    in batches. ``event_id`` is Meta's deduplication key and unique here, so a deal event
    seen twice never queues a second copy."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=100, unique=True)
    event_name = fields.CharField(max_length=32)
    deal_id = fields.IntField(null=True, db_index=True)
    #: The WhatsApp channel whose business account id business messaging events carry.
    channel_id = fields.IntField(null=True)
    event_time = fields.DatetimeField()
    body = fields.JSONField[dict[str, Any]]()
    state = fields.CharEnumField(ConversionState, max_length=16, default=ConversionState.PENDING)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    #: Set while parked: a bad item kept for a person, who may put it back in the queue.
    parked_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.SmallIntField(default=0)
    last_error: str | None = fields.TextField(null=True)
    sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "conversion"
