"""Stage triggers: the only code that writes ``Trigger`` rows.

Each trigger's ``config`` is checked for its kind when saved (templates compiled in the
sandbox, rules parsed), so firing never meets a config it cannot read. The facts about
a deal that rules test and templates show are built here too (:func:`deal_facts`).
"""

import logging
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import NotFound, ValidationFailed
from core.events import UNSET, Unset, change, diff
from core.models import User
from funnels.pipelines import get_stage
from triggers.models import Trigger, TriggerKind
from triggers.rules import RuleError, parse_rule
from triggers.templates import check_template

log = logging.getLogger(__name__)

#: The most triggers one stage may hold.
MAX_TRIGGERS_PER_STAGE = 20

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BusinessHours(_Config):
    """When messages may go out: a message due at night waits for ``start`` next morning."""

    start: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "09:00"
    end: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "21:00"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> "BusinessHours":
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class WhatsAppTemplate(_Config):
    """The approved template to use when WhatsApp's 24-hour window is closed; each body
    parameter is a template filled with the deal's fields like the message itself."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,512}$")]
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] = "en_US"
    parameters: list[Annotated[str, StringConstraints(max_length=1000)]] = Field(
        default_factory=list, max_length=20
    )


class AutoMessageConfig(_Config):
    """Send a message into the deal's dialog, ``delay_minutes`` after the deal entered
    the stage (or ``before_booking_minutes`` before its booking starts), within
    ``business_hours`` when given, and (``only_in_stage``) only if the deal is still in
    the stage when the message is due."""

    template: Annotated[str, StringConstraints(min_length=1)]
    delay_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 365)] = 0
    #: Instead of a delay: this long before the deal's booking starts ("1 day before" is
    #: 1440). Re-planned when the booking moves; a message for the old time is dropped.
    before_booking_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 60)] | None = None
    business_hours: BusinessHours | None = None
    only_in_stage: bool = True
    whatsapp_template: WhatsAppTemplate | None = None


class AutoTaskConfig(_Config):
    """Give someone a task about the deal, due ``due_in_minutes`` after it enters the stage.

    Title and description are templates like an auto-message's."""

    title: Text
    description: str = ""
    due_in_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 365)] = 0
    assignee: Literal["deal_owner", "round_robin"] | Annotated[int, Field(ge=1, le=2**31 - 1)] = (
        "deal_owner"
    )
    #: Tell the assignee through the Telegram bot (once they linked their chat).
    notify_assignee: bool = False


class DealSourceConfig(_Config):
    """Test the deal with a rule (``triggers.rules``) and apply its tags and fields."""

    rule: dict[str, Any]


CONFIGS: dict[TriggerKind, type[_Config]] = {
    TriggerKind.AUTO_MESSAGE: AutoMessageConfig,
    TriggerKind.AUTO_TASK: AutoTaskConfig,
    TriggerKind.DEAL_SOURCE: DealSourceConfig,
}


async def check_config(kind: TriggerKind, config: Any) -> dict[str, Any]:
    """The config validated for ``kind``, as stored; errors name ``config.<key>``."""
    try:
        parsed = CONFIGS[kind].model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        # configs are flat: the key is enough (a union adds its member's tag to the path)
        where = f"config.{first['loc'][0]}" if first["loc"] else "config"
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None
    match parsed:
        case AutoMessageConfig():
            if parsed.before_booking_minutes is not None and parsed.delay_minutes:
                raise ValidationFailed(
                    "give delay_minutes or before_booking_minutes, not both",
                    field="config.before_booking_minutes",
                )
            check_template(parsed.template, field="config.template")
            for index, source in enumerate(
                parsed.whatsapp_template.parameters if parsed.whatsapp_template else []
            ):
                check_template(source, field=f"config.whatsapp_template.parameters.{index}")
        case AutoTaskConfig():
            check_template(parsed.title, field="config.title")
            check_template(parsed.description, field="config.description")
            assignee = parsed.assignee
            if (
                isinstance(assignee, int)
                and not await User.filter(id=assignee, is_active=True).exists()
            ):
                raise NotFound(f"user {assignee} does not exist", field="config.assignee")
        case DealSourceConfig():
            try:
                parse_rule(parsed.rule)
            except RuleError as exc:
                raise exc.under("config.rule") from None
    return parsed.model_dump()


# --- triggers ----------------------------------------------------------------------------


async def get_trigger(*, trigger_id: int) -> Trigger:
    """A trigger by id, or :class:`NotFound`."""
    trigger = await Trigger.get_or_none(id=trigger_id)
    if trigger is None:
        raise NotFound(f"trigger {trigger_id} does not exist", field="trigger_id")
    return trigger


async def list_triggers(*, stage_id: int) -> list[Trigger]:
    """A stage's triggers in the order they run."""
    await get_stage(stage_id=stage_id)
    return await Trigger.filter(stage_id=stage_id).order_by("position", "id")


async def create_trigger(
    *,
    actor: User | None,
    stage_id: int,
    kind: TriggerKind,
    config: Any,
    is_active: bool = True,
) -> Trigger:
    """Add a trigger after the stage's last one."""
    kind = TriggerKind(kind)
    values = await check_config(kind, config)
    async with change(actor) as batch:
        stage = await get_stage(stage_id=stage_id)
        existing = await Trigger.filter(stage_id=stage_id).order_by("-position").all()
        if len(existing) >= MAX_TRIGGERS_PER_STAGE:
            raise ValidationFailed(
                f"a stage can have at most {MAX_TRIGGERS_PER_STAGE} triggers", field="stage_id"
            )
        trigger = await Trigger.create(
            stage=stage,
            kind=kind,
            config=values,
            is_active=is_active,
            position=existing[0].position + 1 if existing else 0,
        )
        await batch.record(
            "trigger.created",
            trigger_id=trigger.id,
            stage_id=stage.id,
            kind=kind.value,
            is_active=is_active,
        )
    return trigger


async def update_trigger(
    *,
    actor: User | None,
    trigger_id: int,
    config: dict[str, Any] | Unset = UNSET,
    is_active: bool | Unset = UNSET,
    position: int | Unset = UNSET,
) -> Trigger:
    """Change a trigger's config, switch it on or off, or move it to ``position`` among
    its stage's triggers (the others shift); its kind stays."""
    async with change(actor) as batch:
        trigger = await get_trigger(trigger_id=trigger_id)
        values: dict[str, Any] = {}
        if config is not UNSET:
            values["config"] = await check_config(trigger.kind, config)
        if is_active is not UNSET:
            values["is_active"] = bool(is_active)
        changes = diff(trigger, values)
        if position is not UNSET:
            siblings = [
                t.id
                for t in await Trigger.filter(stage_id=trigger.stage_id)
                .order_by("position", "id")
                .exclude(id=trigger.id)
            ]
            siblings.insert(max(0, min(int(position), len(siblings))), trigger.id)
            for index, sibling_id in enumerate(siblings):
                await Trigger.filter(id=sibling_id).update(position=index)
            new_position = siblings.index(trigger.id)
            if new_position != trigger.position:
                changes["position"] = {"from": trigger.position, "to": new_position}
            trigger.position = new_position
        if changes:
            await trigger.update_from_dict(values).save()
            await batch.record(
                "trigger.updated",
                trigger_id=trigger.id,
                stage_id=trigger.stage_id,
                changed=sorted(changes),
            )
    return trigger


async def delete_trigger(*, actor: User | None, trigger_id: int) -> None:
    """Remove a trigger; the tasks it made stay."""
    async with change(actor) as batch:
        trigger = await get_trigger(trigger_id=trigger_id)
        await trigger.delete()
        await batch.record(
            "trigger.deleted",
            trigger_id=trigger_id,
            stage_id=trigger.stage_id,
            kind=trigger.kind.value,
        )
