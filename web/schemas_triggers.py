"""Request and response bodies of the stage trigger and task endpoints."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, computed_field

from triggers.automations.models import AutomationEvent, RunOutcome
from triggers.conversions.models import ConversionState
from triggers.models import TriggerKind
from web.omitted import omitted
from web.schemas import Id, Input, Output


class TriggerIn(Input):
    """``config`` depends on ``kind``: auto_message ``{template, delay_minutes}``, auto_task
    ``{title, description, due_in_minutes, assignee}``, deal_source ``{rule}``."""

    kind: TriggerKind
    config: dict[str, Any]
    is_active: bool = True


class TriggerUpdate(Input):
    """Omitted fields stay as they are; the kind cannot change."""

    config: dict[str, Any] = omitted()
    is_active: bool = omitted()
    position: Annotated[int, Field(ge=0, le=1000)] = omitted()


class TriggerOut(Output):
    id: int
    stage_id: int
    kind: TriggerKind
    config: dict[str, Any]
    is_active: bool
    position: int
    created_at: datetime


class RenderIn(Input):
    template: Annotated[str, Field(min_length=1)]
    deal_id: Id


class RenderOut(BaseModel):
    text: str


class EvaluateIn(Input):
    rule: Any
    deal_id: Id


class EvaluateOut(BaseModel):
    matched: bool
    add_tags: list[str]
    remove_tags: list[str]
    set_fields: dict[str, str]


class TaskIn(Input):
    """A task by hand; the assignee defaults to you."""

    title: Annotated[str, Field(min_length=1, max_length=255)]
    description: Annotated[str, Field(max_length=10_000)] = ""
    due_at: datetime
    assignee_id: Id | None = None
    deal_id: Id | None = None


class TaskUpdate(Input):
    """Omitted fields stay as they are."""

    title: Annotated[str, Field(min_length=1, max_length=255)] = omitted()
    description: Annotated[str, Field(max_length=10_000)] = omitted()
    due_at: datetime = omitted()
    assignee_id: Id = omitted()


class TaskQuery(Input):
    assignee_id: Id | None = None
    deal_id: Id | None = None
    contact_id: Id | None = Field(default=None, description="The tasks of the contact's deals.")
    open: bool = False


class TaskOut(Output):
    id: int
    title: str
    description: str
    deal_id: int | None
    assignee_id: int
    trigger_id: int | None
    due_at: datetime
    done_at: datetime | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overdue(self) -> bool:
        """Not done and past its due time."""
        return self.done_at is None and self.due_at < datetime.now(UTC)


class AutomationIn(Input):
    """``action`` is ``{"kind": "create_deal", "pipeline_id", ...}`` or
    ``{"kind": "update_deal", ...}``; ``condition`` is a rule condition (``triggers.rules``)."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    event: AutomationEvent
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    condition: dict[str, Any] | None = None
    action: dict[str, Any]
    is_active: bool = True


class AutomationUpdate(Input):
    """Omitted fields stay as they are; ``null`` clears the pipeline, stage or condition."""

    name: Annotated[str, Field(min_length=1, max_length=255)] = omitted()
    event: AutomationEvent = omitted()
    pipeline_id: Id | None = Field(default=None)
    stage_id: Id | None = Field(default=None)
    condition: dict[str, Any] | None = Field(default=None)
    action: dict[str, Any] = omitted()
    is_active: bool = omitted()


class AutomationOut(Output):
    id: int
    name: str
    event: AutomationEvent
    pipeline_id: int | None
    stage_id: int | None
    condition: dict[str, Any] | None
    action: dict[str, Any]
    is_active: bool
    created_at: datetime


class RunQuery(Input):
    deal_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class AutomationRunOut(Output):
    id: int
    automation_id: int
    event_id: int
    deal_id: int | None
    depth: int
    outcome: RunOutcome
    detail: str
    result_deal_id: int | None
    created_at: datetime


class ConversionSettingsIn(Input):
    """``access_token`` may be left out to keep the stored one; it is never shown again."""

    pixel_id: Annotated[str, Field(pattern=r"^\d{5,32}$")]
    is_enabled: bool
    access_token: Annotated[str, Field(min_length=10, max_length=1000)] | None = None
    test_event_code: Annotated[str, Field(max_length=64)] | None = None
    default_currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")] = "USD"
    api_base_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=255)] | None = (
        Field(default=None, description="Graph API base with its version (tests, proxies).")
    )


class ConversionSettingsOut(Output):
    pixel_id: str
    is_enabled: bool
    test_event_code: str | None
    default_currency: str
    api_base_url: str
    updated_at: datetime


class ConversionQuery(Input):
    deal_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class ConversionOut(Output):
    id: int
    event_id: str
    event_name: str
    deal_id: int | None
    event_time: datetime
    state: ConversionState
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    body: dict[str, Any]
