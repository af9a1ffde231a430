"""Stage triggers and tasks: the only code that writes ``Trigger`` and ``Task`` rows.

Each trigger's ``config`` is checked for its kind when saved (templates compiled in the
sandbox, rules parsed), so firing never meets a config it cannot read. The facts about
a deal that rules test and templates show are built here too (:func:`deal_facts`).
"""

import logging
from datetime import UTC, datetime
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

from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.events import UNSET, change, diff
from core.models import Event, Role, User
from funnels import catalog
from funnels.deals import get_deal
from funnels.models import (
    Booking,
    CustomField,
    Deal,
    DealContact,
    DealFieldValue,
    FieldKind,
    StageKind,
    Tag,
)
from funnels.pipelines import get_stage
from inbox.models import ContactIdentity, Dialog, Direction, Message
from triggers.models import Task, Trigger, TriggerKind
from triggers.rules import Outcome, RuleError, evaluate, parse_rule
from triggers.templates import check_template, render

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


def rule_field(error: RuleError, prefix: str) -> RuleError:
    """The rule error with its JSON path put under ``prefix`` (``$.when`` -> ``rule.when``)."""
    return RuleError(error.message, prefix + error.path.removeprefix("$"))


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
                raise rule_field(exc, "config.rule") from None
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
    config: Any = UNSET,
    is_active: Any = UNSET,
    position: Any = UNSET,
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
                for t in await Trigger.filter(stage_id=trigger.stage_id)  # type: ignore[attr-defined]
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
                stage_id=trigger.stage_id,  # type: ignore[attr-defined]
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
            stage_id=trigger.stage_id,  # type: ignore[attr-defined]
            kind=trigger.kind.value,
        )


# --- tasks -------------------------------------------------------------------------------


async def list_tasks(
    *,
    actor: User,
    assignee_id: int | None = None,
    deal_id: int | None = None,
    open_only: bool = False,
) -> list[Task]:
    """Tasks by due time. Operators see their own tasks only."""
    if actor.role == Role.OPERATOR:
        if assignee_id is not None and assignee_id != actor.id:
            raise PermissionDenied("operators see only their own tasks", field="assignee_id")
        assignee_id = actor.id
    query = Task.all()
    if assignee_id is not None:
        query = query.filter(assignee_id=assignee_id)
    if deal_id is not None:
        query = query.filter(deal_id=deal_id)
    if open_only:
        query = query.filter(done_at__isnull=True)
    return await query.order_by("due_at", "id").limit(500)


async def get_task(*, actor: User, task_id: int, for_update: bool = False) -> Task:
    """A task the actor may see (operators: their own), or :class:`NotFound`."""
    query = Task.filter(id=task_id)
    task = await (query.select_for_update() if for_update else query).first()
    if task is None:
        raise NotFound(f"task {task_id} does not exist", field="task_id")
    if actor.role == Role.OPERATOR and task.assignee_id != actor.id:  # type: ignore[attr-defined]
        raise PermissionDenied("operators work on their own tasks only", field="task_id")
    return task


async def create_task(
    *,
    actor: User,
    title: str,
    due_at: datetime,
    description: str = "",
    assignee_id: int | None = None,
    deal_id: int | None = None,
) -> Task:
    """A task by hand, for the actor unless another assignee is named (operators give
    tasks to themselves only)."""
    values = _task_values(title=title, description=description, due_at=due_at)
    assignee = await _assignee(actor, assignee_id if assignee_id is not None else actor.id)
    async with change(actor) as batch:
        if deal_id is not None:
            await get_deal(deal_id=deal_id)
        task = await Task.create(deal_id=deal_id, assignee=assignee, **values)
        await batch.record(
            "task.created",
            deal_id=deal_id,
            task_id=task.id,
            title=task.title,
            assignee_id=assignee.id,
        )
    return task


async def update_task(
    *,
    actor: User,
    task_id: int,
    title: Any = UNSET,
    description: Any = UNSET,
    due_at: Any = UNSET,
    assignee_id: Any = UNSET,
) -> Task:
    """Change a task's title, description, due time or assignee."""
    async with change(actor) as batch:
        task = await get_task(actor=actor, task_id=task_id, for_update=True)
        values = _task_values(
            title=task.title if title is UNSET else title,
            description=task.description if description is UNSET else description,
            due_at=task.due_at if due_at is UNSET else due_at,
        )
        if assignee_id is not UNSET:
            values["assignee_id"] = (await _assignee(actor, assignee_id)).id
        await batch.save(
            task,
            values,
            "task.updated",
            deal_id=task.deal_id,  # type: ignore[attr-defined]
            task_id=task.id,
            assignee_id=values.get("assignee_id", task.assignee_id),  # type: ignore[attr-defined]
        )
    return task


async def complete_task(*, actor: User, task_id: int) -> Task:
    """Mark a task done (again is fine). Operators complete only their own tasks."""
    async with change(actor) as batch:
        task = await get_task(actor=actor, task_id=task_id, for_update=True)
        if task.done_at is None:
            task.done_at = datetime.now(UTC)
            await task.save(update_fields=["done_at"])
            await batch.record(
                "task.completed",
                deal_id=task.deal_id,  # type: ignore[attr-defined]
                task_id=task.id,
                title=task.title,
                assignee_id=task.assignee_id,  # type: ignore[attr-defined]
            )
    return task


async def delete_task(*, actor: User, task_id: int) -> None:
    """Remove a task (operators: their own)."""
    async with change(actor) as batch:
        task = await get_task(actor=actor, task_id=task_id, for_update=True)
        await task.delete()
        await batch.record(
            "task.deleted",
            deal_id=task.deal_id,  # type: ignore[attr-defined]
            task_id=task_id,
            title=task.title,
            assignee_id=task.assignee_id,  # type: ignore[attr-defined]
        )


def _task_values(*, title: str, description: str, due_at: datetime) -> dict[str, Any]:
    if not title or not title.strip():
        raise ValidationFailed("title must not be empty", field="title")
    if len(title.strip()) > 255:
        raise ValidationFailed("title is longer than 255 characters", field="title")
    if due_at.tzinfo is None:
        raise ValidationFailed("due_at needs a UTC offset", field="due_at")
    return {"title": title.strip(), "description": description, "due_at": due_at.astimezone(UTC)}


async def _assignee(actor: User, assignee_id: int) -> User:
    if actor.role == Role.OPERATOR and assignee_id != actor.id:
        raise PermissionDenied("operators give tasks to themselves only", field="assignee_id")
    assignee = await User.get_or_none(id=assignee_id, is_active=True)
    if assignee is None:
        raise NotFound(f"user {assignee_id} does not exist", field="assignee_id")
    return assignee


# --- applying tag and field changes -------------------------------------------------------


async def tag_and_field_changes(
    deal: Deal,
    *,
    add_tags: list[str],
    remove_tags: list[str],
    set_fields: dict[str, str],
    by: str,
) -> dict[str, Any]:
    """The ``update_deal`` arguments that add and remove tags by name (a tag named for the
    first time is created) and set custom fields by name; empty when nothing would change.
    A field name that no longer exists is skipped with a warning naming ``by``."""
    current = {tag.name: tag.id for tag in await deal.tags.all()}
    wanted = {name: tag_id for name, tag_id in current.items() if name not in remove_tags}
    for name in add_tags:
        if name not in wanted:
            tag = await Tag.get_or_none(name=name)
            if tag is None:
                tag = await catalog.create_tag(actor=None, name=name)
            wanted[name] = tag.id
    changes: dict[str, Any] = {}
    if set(wanted) != set(current):
        changes["tag_ids"] = sorted(wanted.values())
    if set_fields:
        known = {f.name: f.id for f in await CustomField.filter(name__in=list(set_fields))}
        fields = {known[name]: value for name, value in set_fields.items() if name in known}
        for name in set_fields.keys() - known.keys():
            log.warning("%s: no custom field %r", by, name)
        if fields:
            changes["fields"] = fields
    return changes


# --- facts and dry runs ------------------------------------------------------------------


async def deal_facts(deal: Deal) -> dict[str, Any]:
    """The facts document of ``triggers.rules`` for one deal, plus what templates show:
    ``contacts`` (all of them), ``owner`` and ``fields`` (custom fields by name)."""
    await deal.fetch_related("pipeline", "stage", "owner", "tags")
    links = await DealContact.filter(deal=deal).order_by("position").select_related("contact")
    contacts = [
        {"id": c.id, "name": c.name, "phone": c.phone, "email": c.email}
        for c in (link.contact for link in links)
    ]
    names = {f.id: f for f in await CustomField.all()}
    fields: dict[str, Any] = {}
    for value in await DealFieldValue.filter(deal=deal):
        field = names.get(value.field_id)  # type: ignore[attr-defined]
        if field is not None:
            date = value.value_date
            fields[field.name] = (
                date.isoformat() if field.kind == FieldKind.DATE and date else value.value_text
            )
    deal_doc = {
        "id": deal.id,
        "title": deal.title,
        "amount": f"{deal.amount:f}" if deal.amount is not None else None,
        "currency": deal.currency,
        "reference": deal.reference,
        "close_date": deal.close_date.isoformat() if deal.close_date else None,
        "created_at": deal.created_at.isoformat(),
        "tags": sorted(tag.name for tag in deal.tags),
        "fields": fields,
    }
    stage = deal.stage
    facts: dict[str, Any] = {
        "deal": deal_doc,
        "pipeline": {"id": deal.pipeline.id, "name": deal.pipeline.name},
        "stage": {
            "id": stage.id,
            "name": stage.name,
            "probability": stage.probability,
            "kind": stage.kind.value,
        },
        "owner": {"id": deal.owner.id, "name": deal.owner.name, "email": deal.owner.email},
        "contacts": contacts,
        "fields": fields,
    }
    if contacts:
        first = dict(contacts[0])
        first["won_deals"] = await DealContact.filter(
            contact_id=first["id"], deal__stage__kind=StageKind.WON
        ).count()
        facts["contact"] = first
    dialog_id = deal.dialog_id  # type: ignore[attr-defined]
    if dialog_id is not None:
        dialog = await Dialog.get_or_none(id=dialog_id).select_related("channel")
        if dialog is not None:
            facts["dialog"] = await _dialog_facts(dialog)
    booking = await Booking.get_or_none(deal_id=deal.id)
    if booking is not None:
        facts["booking"] = booking_facts(booking)
    return facts


def booking_facts(booking: Booking) -> dict[str, Any]:
    """The booking as rules and templates see it: date and time in the booking's zone."""
    local = booking.starts_at.astimezone(ZoneInfo(booking.timezone))
    return {
        "status": booking.status.value,
        "starts_at": booking.starts_at.isoformat(),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "duration_minutes": booking.duration_minutes,
        "services": [service["title"] for service in booking.services],
        "staff": booking.staff,
    }


def event_facts(event: Event) -> dict[str, Any]:
    """The ``event`` root of the facts: its kind and data (what changed, from and to)."""
    data = {key: value for key, value in (event.data or {}).items() if key != "cause"}
    return {"kind": event.kind, **data}


async def _dialog_facts(dialog: Dialog) -> dict[str, Any]:
    identity = await ContactIdentity.filter(
        channel_id=dialog.channel_id,  # type: ignore[attr-defined]
        contact_id=dialog.contact_id,  # type: ignore[attr-defined]
    ).first()
    first = await Message.filter(dialog_id=dialog.id, direction=Direction.IN).order_by("id").first()
    doc: dict[str, Any] = {
        "channel": dialog.channel.kind.value,
        "ctwa_clid": identity.ctwa_clid if identity else None,
    }
    if first is not None:
        doc["first_message"] = {
            "text": first.text,
            "referral": (first.payload or {}).get("referral"),
        }
    return doc


async def render_for_deal(*, template: str, deal_id: int) -> str:
    """Fill a template with a deal's facts without sending anything."""
    check_template(template, field="template")
    deal = await get_deal(deal_id=deal_id)
    return render(template, await deal_facts(deal), field="template")


async def evaluate_for_deal(*, rule: Any, deal_id: int) -> Outcome:
    """What a rule would do to a deal, without doing it."""
    try:
        parsed = parse_rule(rule)
    except RuleError as exc:
        raise rule_field(exc, "rule") from None
    deal = await get_deal(deal_id=deal_id)
    return evaluate(parsed, await deal_facts(deal))
