"""Trigger tables: what a stage does when a deal enters it, and the tasks it hands out."""

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class TriggerKind(StrEnum):
    """The stage triggers of the sales-funnels guide."""

    AUTO_MESSAGE = "auto_message"
    AUTO_TASK = "auto_task"
    DEAL_SOURCE = "deal_source"


class Trigger(Model):
    """One action a stage runs for each deal that enters it. Config depends on the kind."""

    id = fields.IntField(primary_key=True)
    stage: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "funnelbox.Stage", related_name="triggers", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(TriggerKind, max_length=16)
    config = fields.JSONField(default=dict)
    is_active = fields.BooleanField(default=True)
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "trigger"
        ordering = ("position", "id")


class Task(Model):
    """A to-do for a user, usually about a deal, made by hand or by an auto-task trigger.

    A trigger makes at most one task per event (trigger and source event are unique),
    so a redelivered event never doubles a task.
    """

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=255)
    description = fields.TextField(default="")
    deal: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "funnelbox.Deal", related_name="tasks", null=True, on_delete=fields.CASCADE
    )
    assignee: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "funnelbox.User", related_name="tasks", on_delete=fields.CASCADE
    )
    due_at = fields.DatetimeField()
    done_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    trigger: fields.ForeignKeyNullableRelation[Trigger] = fields.ForeignKeyField(
        "funnelbox.Trigger", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    source_event_id = fields.BigIntField(null=True)
    #: When the assignee was told through the Telegram bot, if the trigger asks for it.
    notified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "task"
        unique_together = (("trigger", "source_event_id"),)
        indexes = (
            Index(fields=("assignee_id", "done_at", "due_at"), name="task_assignee"),
            Index(fields=("deal_id", "due_at"), name="task_deal"),
        )


class AutomationEvent(StrEnum):
    """The deal events an automation can react to (the Deals guide's automation triggers)."""

    DEAL_CREATED = "deal.created"
    DEAL_UPDATED = "deal.updated"
    STAGE_CHANGED = "deal.stage_changed"
    CONTACT_ADDED = "deal.contact_added"
    CONTACT_REMOVED = "deal.contact_removed"


class Automation(Model):
    """When a deal event happens (in a pipeline, into a stage, if a condition holds), create
    or update a deal. The action is a JSON object whose kind says which."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=255)
    event = fields.CharEnumField(AutomationEvent, max_length=32)
    pipeline: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "funnelbox.Pipeline", related_name="automations", null=True, on_delete=fields.CASCADE
    )
    stage: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "funnelbox.Stage", related_name="automations", null=True, on_delete=fields.CASCADE
    )
    condition = fields.JSONField(null=True)
    action = fields.JSONField()
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "automation"
        ordering = ("id",)


class RunOutcome(StrEnum):
    """How one automation run ended."""

    APPLIED = "applied"
    CONDITION_FALSE = "condition_false"
    OWN_CHANGE = "own_change"
    DEPTH_LIMIT = "depth_limit"
    FAILED = "failed"


class AutomationRun(Model):
    """The log of an automation meeting one event. At most one run per automation and
    event, written with the action's own changes, so a redelivered event never acts twice."""

    id = fields.BigIntField(primary_key=True)
    automation: fields.ForeignKeyRelation[Automation] = fields.ForeignKeyField(
        "funnelbox.Automation", related_name="runs", on_delete=fields.CASCADE
    )
    event_id = fields.BigIntField()
    deal_id = fields.IntField(null=True)
    depth = fields.SmallIntField(default=0)
    outcome = fields.CharEnumField(RunOutcome, max_length=16)
    detail = fields.TextField(default="")
    result_deal_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "automation_run"
        unique_together = (("automation", "event_id"),)
        indexes = (Index(fields=("automation_id", "id"), name="automation_run_log"),)


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


class Conversion(Model):
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
    body = fields.JSONField()
    state = fields.CharEnumField(ConversionState, max_length=16, default=ConversionState.PENDING)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.SmallIntField(default=0)
    last_error = fields.TextField(null=True)
    sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "conversion"
