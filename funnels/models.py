"""Funnel tables, each written only by its funnels service module."""

from datetime import date
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from core.models import User
from inbox.models import Channel, Contact, Dialog


class StageKind(StrEnum):
    """Open stages are the user's; every pipeline has exactly one Won and one Lost stage."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class FieldKind(StrEnum):
    """Custom deal fields hold text or a date (the sales-funnels guide)."""

    TEXT = "text"
    DATE = "date"


class Pipeline(Model):
    """A sales process, at most ten per account."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    color = fields.CharField(max_length=7, default="#4f7cff")
    position = fields.IntField(default=0)
    #: Switches for the stage triggers of the whole pipeline.
    #: A database default too, so adding the columns works on tables that hold rows.
    auto_messages_enabled = fields.BooleanField(default=True, db_default=True)
    auto_tasks_enabled = fields.BooleanField(default=True, db_default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    stages: fields.ReverseRelation["Stage"]
    deals: fields.ReverseRelation["Deal"]
    deal_intakes: fields.ReverseRelation["DealIntake"]

    class Meta:
        table = "pipeline"
        ordering = ("position", "id")


class Stage(Model):
    """A step of a pipeline with its closing probability (0-100)."""

    id = fields.IntField(primary_key=True)
    pipeline: fields.ForeignKeyRelation[Pipeline] = fields.ForeignKeyField(
        "funnelbox.Pipeline", related_name="stages", on_delete=fields.CASCADE
    )
    pipeline_id: int
    name = fields.CharField(max_length=100)
    probability = fields.SmallIntField()
    kind = fields.CharEnumField(StageKind, max_length=8, default=StageKind.OPEN)
    position = fields.IntField(default=0)

    deals: fields.ReverseRelation["Deal"]
    deal_intakes: fields.ReverseRelation["DealIntake"]

    class Meta:
        table = "stage"
        ordering = ("position", "id")


class LostReason(Model):
    """Why deals are lost, a list admins keep."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    position = fields.IntField(default=0)

    deals: fields.ReverseRelation["Deal"]

    class Meta:
        table = "lost_reason"
        ordering = ("position", "id")


class Tag(Model):
    """A label on deals, such as Loyal."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    color = fields.CharField(max_length=7, default="#888888")

    deals: fields.ManyToManyRelation["Deal"]

    class Meta:
        table = "tag"
        ordering = ("name",)


class CustomField(Model):
    """An extra deal field defined by admins (the guide calls them additional information)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    kind = fields.CharEnumField(FieldKind, max_length=8)
    position = fields.IntField(default=0)

    values: fields.ReverseRelation["DealFieldValue"]

    class Meta:
        table = "custom_field"
        ordering = ("position", "id")


class Deal(Model):
    """A sales opportunity with one or more contacts, moving through a pipeline's stages."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=255)
    pipeline: fields.ForeignKeyRelation[Pipeline] = fields.ForeignKeyField(
        "funnelbox.Pipeline", related_name="deals", on_delete=fields.RESTRICT
    )
    pipeline_id: int
    stage: fields.ForeignKeyRelation[Stage] = fields.ForeignKeyField(
        "funnelbox.Stage", related_name="deals", on_delete=fields.RESTRICT
    )
    stage_id: int
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "funnelbox.User", related_name="deals", on_delete=fields.RESTRICT
    )
    owner_id: int
    amount = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    currency = fields.CharField(max_length=3, null=True)
    close_date = fields.DateField(null=True)
    reference = fields.CharField(max_length=255, null=True, db_index=True)
    lost_reason: fields.ForeignKeyNullableRelation[LostReason] = fields.ForeignKeyField(
        "funnelbox.LostReason", related_name="deals", null=True, on_delete=fields.SET_NULL
    )
    lost_reason_id: int | None
    #: The messenger dialog this deal came from, if any.
    dialog: fields.ForeignKeyNullableRelation[Dialog] = fields.ForeignKeyField(
        "funnelbox.Dialog", related_name="deals", null=True, on_delete=fields.SET_NULL
    )
    dialog_id: int | None
    tags: fields.ManyToManyRelation[Tag] = fields.ManyToManyField(
        "funnelbox.Tag", related_name="deals", through="deal_tag"
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    stage_changed_at = fields.DatetimeField(auto_now_add=True)

    deal_contacts: fields.ReverseRelation["DealContact"]
    field_values: fields.ReverseRelation["DealFieldValue"]
    #: Not a column: the contacts in order, loaded by ``funnels.queries`` for a page.
    contact_list: list[Contact]
    #: Not a column either: the tags, loaded by ``funnels.queries.attach_tags`` for a page.
    tag_list: list["Tag"]

    class Meta:
        table = "deal"
        indexes = (
            Index(fields=("pipeline_id", "stage_id", "currency", "amount"), name="deal_board"),
            Index(fields=("stage_id", "created_at", "id"), name="deal_stage_created"),
            Index(fields=("pipeline_id", "created_at", "id"), name="deal_pipeline_created"),
            Index(fields=("created_at", "id"), name="deal_created"),
            Index(fields=("owner_id", "created_at"), name="deal_owner_created"),
            Index(fields=("close_date", "id"), name="deal_close_date"),
            Index(fields=("title", "id"), name="deal_title"),
            Index(fields=("amount", "id"), name="deal_amount"),
            #: A dialog's deals: every customer message asks whether one is open.
            Index(fields=("dialog_id", "id"), name="deal_dialog"),
        )


class DealContact(Model):
    """A contact on a deal. The position keeps the order, and the first contact names the deal."""

    id = fields.IntField(primary_key=True)
    deal: fields.ForeignKeyRelation[Deal] = fields.ForeignKeyField(
        "funnelbox.Deal", related_name="deal_contacts", on_delete=fields.CASCADE
    )
    deal_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "funnelbox.Contact", related_name="deal_contacts", on_delete=fields.CASCADE
    )
    contact_id: int
    position = fields.SmallIntField(default=0)

    class Meta:
        table = "deal_contact"
        unique_together = (("deal", "contact"),)


class DealFieldValue(Model):
    """The value of one custom field on one deal."""

    id = fields.IntField(primary_key=True)
    deal: fields.ForeignKeyRelation[Deal] = fields.ForeignKeyField(
        "funnelbox.Deal", related_name="field_values", on_delete=fields.CASCADE
    )
    deal_id: int
    field: fields.ForeignKeyRelation[CustomField] = fields.ForeignKeyField(
        "funnelbox.CustomField", related_name="values", on_delete=fields.CASCADE
    )
    field_id: int
    value_text: str | None = fields.TextField(null=True)
    value_date = fields.DateField(null=True)

    @property
    def value(self) -> str | date:
        """The value in the column of the field's kind (the field loaded): a row exists
        only while it holds one, since clearing a field deletes its row."""
        value = self.value_date if self.field.kind == FieldKind.DATE else self.value_text
        if value is None:
            raise ValueError(f"deal field value {self.id} holds no value")
        return value

    class Meta:
        table = "deal_field_value"
        unique_together = (("deal", "field"),)


class BookingStatus(StrEnum):
    """Where an appointment stands (Altegio's attendance: pending, confirmed, arrived,
    did not come), plus cancelled for a deleted one."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    ARRIVED = "arrived"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class Booking(Model):
    """The appointment behind a deal: an Altegio record, or one entered by hand.

    Stage triggers count back from its start (a reminder 1 day before) and show its date,
    time, services and staff. The start is stored in UTC, shown in the booking's zone.
    """

    id = fields.IntField(primary_key=True)
    deal: fields.OneToOneRelation[Deal] = fields.OneToOneField(
        "funnelbox.Deal", related_name="booking", on_delete=fields.CASCADE
    )
    deal_id: int
    source = fields.CharField(max_length=32, default="manual")
    external_id = fields.CharField(max_length=64, null=True)
    status = fields.CharEnumField(BookingStatus, max_length=16)
    starts_at = fields.DatetimeField()
    duration_minutes = fields.IntField(default=60)
    timezone = fields.CharField(max_length=64, default="UTC")
    services = fields.JSONField[list[dict[str, Any]]](default=list)
    staff = fields.CharField(max_length=200, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "booking"
        unique_together = (("source", "external_id"),)


class DealIntake(Model):
    """Where a channel's new dialogs become deals: a pipeline, its stage and their owner.

    The funnels' half of a channel: the channel belongs to the inbox, which points at
    nothing above it, so the routing into the funnels points down at the channel instead.
    """

    id = fields.IntField(primary_key=True)
    channel: fields.OneToOneRelation[Channel] = fields.OneToOneField(
        "funnelbox.Channel", related_name="deal_intake", on_delete=fields.CASCADE
    )
    channel_id: int
    pipeline: fields.ForeignKeyRelation[Pipeline] = fields.ForeignKeyField(
        "funnelbox.Pipeline", related_name="deal_intakes", on_delete=fields.RESTRICT
    )
    pipeline_id: int
    stage: fields.ForeignKeyRelation[Stage] = fields.ForeignKeyField(
        "funnelbox.Stage", related_name="deal_intakes", on_delete=fields.RESTRICT
    )
    stage_id: int
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "funnelbox.User", related_name="deal_intakes", on_delete=fields.RESTRICT
    )
    owner_id: int

    class Meta:
        table = "deal_intake"
