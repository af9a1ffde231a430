"""Request and response bodies of the stage trigger and task endpoints."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, computed_field

from triggers.models import TriggerKind
from web.schemas import Id, Input, Output


class TriggerIn(Input):
    """``config`` depends on ``kind``: auto_message ``{template, delay_minutes}``, auto_task
    ``{title, description, due_in_minutes, assignee}``, deal_source ``{rule}``."""

    kind: TriggerKind
    config: dict[str, Any]
    is_active: bool = True


class TriggerUpdate(Input):
    """Omitted fields stay as they are; the kind cannot change."""

    config: dict[str, Any] = Field(default=None)
    is_active: bool = Field(default=None)
    position: Annotated[int, Field(ge=0, le=1000)] = Field(default=None)


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


class TaskQuery(Input):
    assignee_id: Id | None = None
    deal_id: Id | None = None
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
