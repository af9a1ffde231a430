"""Trigger tables: what a stage does when a deal enters it, and the tasks it hands out."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from core.models import User
from funnels.models import Deal, Stage


class TriggerKind(StrEnum):
    """The stage triggers of the sales-funnels guide."""

    AUTO_MESSAGE = "auto_message"
    AUTO_TASK = "auto_task"
    DEAL_SOURCE = "deal_source"


class Trigger(Model):
    """One action a stage runs for each deal that enters it. Config depends on the kind."""

    id = fields.IntField(primary_key=True)
    stage: fields.ForeignKeyRelation[Stage] = fields.ForeignKeyField(
        "funnelbox.Stage", related_name="triggers", on_delete=fields.CASCADE
    )
    stage_id: int
    kind = fields.CharEnumField(TriggerKind, max_length=16)
    config = fields.JSONField[dict[str, Any]](default=dict)
    is_active = fields.BooleanField(default=True)
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    tasks: fields.ReverseRelation["Task"]

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
    deal: fields.ForeignKeyNullableRelation[Deal] = fields.ForeignKeyField(
        "funnelbox.Deal", related_name="tasks", null=True, on_delete=fields.CASCADE
    )
    deal_id: int | None
    assignee: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "funnelbox.User", related_name="tasks", on_delete=fields.CASCADE
    )
    assignee_id: int
    due_at = fields.DatetimeField()
    done_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    trigger: fields.ForeignKeyNullableRelation[Trigger] = fields.ForeignKeyField(
        "funnelbox.Trigger", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    trigger_id: int | None
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


class CannedReply(Model):
    """A reply admins keep ready for operators, who pick it by its shortcut in the reply box.

    The text is a sandboxed template (``triggers.templates``) filled with the dialog's
    contact and deal when picked, then edited and sent like any reply.
    """

    id = fields.IntField(primary_key=True)
    shortcut = fields.CharField(max_length=32, unique=True)
    title = fields.CharField(max_length=100)
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "canned_reply"
        ordering = ("shortcut",)
