"""Deal automations: the only code that writes ``Automation`` rows; it also reads their log.

An automation reacts to one deal event (created, updated, stage changed, contact added or
removed), optionally only in one pipeline or into one stage, and only when its condition
(the rule language's ``when`` part, :mod:`triggers.rules`) holds; it then creates or
updates a deal. Everything is checked when saved: templates compile in the sandbox,
the condition parses, the pipeline, stages, owner and custom fields exist. Running them
is :mod:`triggers.automation_flows`.
"""

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from core.errors import NotFound, ValidationFailed
from core.events import UNSET, Unset, change
from core.models import User
from funnels.models import CustomField, Stage
from funnels.pipelines import get_pipeline, get_stage
from triggers.automations.models import Automation, AutomationEvent, AutomationRun
from triggers.rules import MAX_TAG_LENGTH, RuleError, parse_condition
from triggers.templates import check_template

_T = TypeVar("_T")

#: The most automations an account may have; each deal event is tested against all of them.
MAX_AUTOMATIONS = 200

#: Events whose data names a stage the ``stage_id`` filter can test.
STAGE_OF_EVENT = {
    AutomationEvent.DEAL_CREATED: "stage_id",
    AutomationEvent.STAGE_CHANGED: "to_stage_id",
}

TagName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TAG_LENGTH)
]
Template = Annotated[str, StringConstraints(max_length=2000)]
UserId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateDeal(_Action):
    """Open a new deal for the same contacts. ``title``, ``amount`` and ``currency`` are
    templates over the triggering deal (``"{{ deal.amount }}"`` copies its amount)."""

    kind: Literal["create_deal"]
    pipeline_id: UserId
    stage_id: UserId | None = None
    title: Template = "{{ deal.title }}"
    amount: Template | None = None
    currency: Template | None = None
    owner: Literal["deal_owner"] | UserId = "deal_owner"
    tags: list[TagName] = Field(default_factory=list, max_length=50)
    link_dialog: bool = True


class UpdateDeal(_Action):
    """Change the triggering deal: fields (templates), stage, owner, tags, custom fields."""

    kind: Literal["update_deal"]
    title: Template | None = None
    amount: Template | None = None
    currency: Template | None = None
    stage_id: UserId | None = None
    owner_id: UserId | None = None
    add_tags: list[TagName] = Field(default_factory=list, max_length=50)
    remove_tags: list[TagName] = Field(default_factory=list, max_length=50)
    fields: dict[Annotated[str, StringConstraints(max_length=100)], Template] = Field(
        default_factory=dict, max_length=50
    )


class _ActionDoc(BaseModel):
    action: Annotated[CreateDeal | UpdateDeal, Field(discriminator="kind")]


def parse_action(action: Any) -> CreateDeal | UpdateDeal:
    """The action validated by its ``kind``; errors name ``action.<key>``."""
    try:
        return _ActionDoc.model_validate({"action": action}).action
    except ValidationError as exc:
        first = exc.errors()[0]
        # loc is ("action", <kind>, key, ...) once the kind is known, ("action",) before
        keys = [str(part) for part in first["loc"][2:]] if len(first["loc"]) > 2 else []
        where = ".".join(["action", *keys])
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None


async def _check_action(action: CreateDeal | UpdateDeal) -> None:
    templates = {"title": action.title, "amount": action.amount, "currency": action.currency}
    if isinstance(action, UpdateDeal):
        templates |= {f"fields.{name}": source for name, source in action.fields.items()}
    for key, source in templates.items():
        if source is not None:
            check_template(source, field=f"action.{key}")
    if isinstance(action, CreateDeal):
        await get_pipeline(pipeline_id=action.pipeline_id)
        if action.stage_id is not None:
            await _stage_of(action.stage_id, action.pipeline_id, field="action.stage_id")
        if isinstance(action.owner, int):
            await _user(action.owner, field="action.owner")
        return
    if action.stage_id is not None:
        await get_stage(stage_id=action.stage_id, field="action.stage_id")
    if action.owner_id is not None:
        await _user(action.owner_id, field="action.owner_id")
    names = CustomField.filter(name__in=list(action.fields))
    # tortoise's stubs type values_list(flat=True) as tuples
    known: set[str] = set(await names.values_list("name", flat=True))  # type: ignore[arg-type]
    for name in action.fields:
        if name not in known:
            raise NotFound(f"no custom field named {name!r}", field=f"action.fields.{name}")


async def _user(user_id: int, *, field: str) -> None:
    if not await User.filter(id=user_id, is_active=True).exists():
        raise NotFound(f"user {user_id} does not exist", field=field)


async def _stage_of(stage_id: int, pipeline_id: int | None, *, field: str) -> Stage:
    stage = await get_stage(stage_id=stage_id, field=field)
    if pipeline_id is not None and stage.pipeline_id != pipeline_id:
        raise ValidationFailed(
            f"stage {stage_id} is not a stage of pipeline {pipeline_id}", field=field
        )
    return stage


async def _checked(
    *,
    event: AutomationEvent,
    pipeline_id: int | None,
    stage_id: int | None,
    condition: Any,
    action: Any,
) -> dict[str, Any]:
    """Every part of an automation validated, as stored."""
    if pipeline_id is not None:
        await get_pipeline(pipeline_id=pipeline_id)
    if stage_id is not None:
        if event not in STAGE_OF_EVENT:
            raise ValidationFailed(
                "only 'deal.created' and 'deal.stage_changed' automations can name a stage",
                field="stage_id",
            )
        await _stage_of(stage_id, pipeline_id, field="stage_id")
    if condition is not None:
        try:
            parse_condition(condition)
        except RuleError as exc:
            raise exc.under("condition") from None
    parsed = parse_action(action)
    await _check_action(parsed)
    return {
        "event": event,
        "pipeline_id": pipeline_id,
        "stage_id": stage_id,
        "condition": condition,
        "action": parsed.model_dump(),
    }


def _name(name: str) -> str:
    if not name.strip():
        raise ValidationFailed("name must not be empty", field="name")
    if len(name.strip()) > 255:
        raise ValidationFailed("name is longer than 255 characters", field="name")
    return name.strip()


async def get_automation(*, automation_id: int) -> Automation:
    """An automation by id, or :class:`NotFound`."""
    automation = await Automation.get_or_none(id=automation_id)
    if automation is None:
        raise NotFound(f"automation {automation_id} does not exist", field="automation_id")
    return automation


async def list_automations() -> list[Automation]:
    """All automations, oldest first (the order they run in for one event)."""
    return await Automation.all().order_by("id")


async def create_automation(
    *,
    actor: User | None,
    name: str,
    event: AutomationEvent,
    action: Any,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    condition: Any = None,
    is_active: bool = True,
) -> Automation:
    """Add an automation; it reacts to events committed from now on."""
    values = await _checked(
        event=AutomationEvent(event),
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        condition=condition,
        action=action,
    )
    async with change(actor) as batch:
        if await Automation.all().count() >= MAX_AUTOMATIONS:
            raise ValidationFailed(
                f"there can be at most {MAX_AUTOMATIONS} automations", field="name"
            )
        automation = await Automation.create(name=_name(name), is_active=is_active, **values)
        await batch.record(
            "automation.created",
            automation_id=automation.id,
            name=automation.name,
            event=automation.event.value,
        )
    return automation


async def update_automation(
    *,
    actor: User | None,
    automation_id: int,
    name: str | Unset = UNSET,
    event: AutomationEvent | Unset = UNSET,
    pipeline_id: int | Unset | None = UNSET,
    stage_id: int | Unset | None = UNSET,
    condition: dict[str, Any] | Unset | None = UNSET,
    action: dict[str, Any] | Unset = UNSET,
    is_active: bool | Unset = UNSET,
) -> Automation:
    """Change any part of an automation; the result is validated as a whole."""
    async with change(actor) as batch:
        automation = await get_automation(automation_id=automation_id)

        def given(value: _T | Unset, current: _T) -> _T:
            return current if value is UNSET else value

        values = await _checked(
            event=AutomationEvent(given(event, automation.event)),
            pipeline_id=given(pipeline_id, automation.pipeline_id),
            stage_id=given(stage_id, automation.stage_id),
            condition=given(condition, automation.condition),
            action=given(action, automation.action),
        )
        values["name"] = _name(given(name, automation.name))
        values["is_active"] = bool(given(is_active, automation.is_active))
        await batch.save(automation, values, "automation.updated", automation_id=automation.id)
    return automation


async def delete_automation(*, actor: User | None, automation_id: int) -> None:
    """Remove an automation and its run log."""
    async with change(actor) as batch:
        automation = await get_automation(automation_id=automation_id)
        await automation.delete()
        await batch.record("automation.deleted", automation_id=automation_id, name=automation.name)


async def list_runs(
    *, automation_id: int | None = None, deal_id: int | None = None, limit: int = 100
) -> list[AutomationRun]:
    """The run log, newest first, of one automation and/or one deal."""
    query = AutomationRun.all()
    if automation_id is not None:
        await get_automation(automation_id=automation_id)
        query = query.filter(automation_id=automation_id)
    if deal_id is not None:
        query = query.filter(deal_id=deal_id)
    return await query.order_by("-id").limit(limit)
