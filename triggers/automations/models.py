"""Deal automations and their run log."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from funnels.models import Pipeline, Stage


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
    pipeline: fields.ForeignKeyNullableRelation[Pipeline] = fields.ForeignKeyField(
        "funnelbox.Pipeline", related_name="automations", null=True, on_delete=fields.CASCADE
    )
    pipeline_id: int | None
    stage: fields.ForeignKeyNullableRelation[Stage] = fields.ForeignKeyField(
        "funnelbox.Stage", related_name="automations", null=True, on_delete=fields.CASCADE
    )
    stage_id: int | None
    condition = fields.JSONField[dict[str, Any] | None](null=True)
    action = fields.JSONField[dict[str, Any]]()
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    runs: fields.ReverseRelation["AutomationRun"]

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
    automation_id: int
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
