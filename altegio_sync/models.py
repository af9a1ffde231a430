"""Altegio sync tables: connections, their status-to-stage mapping, and what was synced.

The deals, contacts and bookings themselves are the funnels' and the inbox's; these rows
only remember which Altegio record and client became which deal and contact.
"""

from typing import Any

from tortoise import fields
from tortoise.models import Model

from core.models import User
from funnels.models import BookingStatus, Deal, Stage
from inbox.models import Contact


class AltegioConnection(Model):
    """One Altegio company whose records become deals.

    The partner and user tokens and the webhook secret are sealed like channel
    credentials and never returned. The watermark is the newest last_change_date the
    pull has seen (UTC), where the next incremental pull starts (minus an overlap).
    """

    id = fields.IntField(primary_key=True)
    company_id = fields.BigIntField(unique=True)
    name = fields.CharField(max_length=100)
    api_base_url = fields.CharField(max_length=255)
    credentials = fields.TextField()
    timezone = fields.CharField(max_length=64)
    currency = fields.CharField(max_length=3)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "funnelbox.User", related_name=False, on_delete=fields.RESTRICT
    )
    owner_id: int
    enabled = fields.BooleanField(default=True)
    watermark = fields.DatetimeField(null=True)
    last_sync_at = fields.DatetimeField(null=True)
    last_sync = fields.JSONField[dict[str, Any]](default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "altegio_connection"


class AltegioMapping(Model):
    """Which stage (of any pipeline) a record in one status puts its deal in.

    The statuses are the booking's: Altegio's attendance (0 pending, 2 confirmed,
    1 arrived, -1 did not come) and a deleted record (cancelled).
    """

    id = fields.IntField(primary_key=True)
    connection: fields.ForeignKeyRelation[AltegioConnection] = fields.ForeignKeyField(
        "funnelbox.AltegioConnection", related_name="mappings", on_delete=fields.CASCADE
    )
    connection_id: int
    status = fields.CharEnumField(BookingStatus, max_length=16)
    stage: fields.ForeignKeyRelation[Stage] = fields.ForeignKeyField(
        "funnelbox.Stage", related_name=False, on_delete=fields.RESTRICT
    )
    stage_id: int

    class Meta:
        table = "altegio_mapping"
        unique_together = (("connection", "status"),)


class AltegioRecord(Model):
    """An Altegio record and the deal it became.

    last_change is the record's newest last_change_date applied (UTC): an older
    delivery never moves the deal back. stage_id is the stage the sync last put the deal
    in, so a deal a person closed by hand is told apart and left alone. A deal deleted by
    a person leaves deal null, and the record is not turned into a deal again.
    """

    id = fields.BigIntField(primary_key=True)
    connection: fields.ForeignKeyRelation[AltegioConnection] = fields.ForeignKeyField(
        "funnelbox.AltegioConnection", related_name="records", on_delete=fields.CASCADE
    )
    connection_id: int
    record_id = fields.BigIntField()
    deal: fields.ForeignKeyNullableRelation[Deal] = fields.ForeignKeyField(
        "funnelbox.Deal", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    deal_id: int | None
    status = fields.CharEnumField(BookingStatus, max_length=16)
    stage_id = fields.IntField(null=True)
    last_change = fields.DatetimeField()

    class Meta:
        table = "altegio_record"
        unique_together = (("connection", "record_id"),)


class AltegioClient(Model):
    """An Altegio client and the contact it is: matched once, by id ever after."""

    id = fields.IntField(primary_key=True)
    connection: fields.ForeignKeyRelation[AltegioConnection] = fields.ForeignKeyField(
        "funnelbox.AltegioConnection", related_name="clients", on_delete=fields.CASCADE
    )
    connection_id: int
    client_id = fields.BigIntField()
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "funnelbox.Contact", related_name=False, on_delete=fields.CASCADE
    )
    contact_id: int

    class Meta:
        table = "altegio_client"
        unique_together = (("connection", "client_id"),)
