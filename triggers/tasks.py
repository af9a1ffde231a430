"""Tasks: the only code that writes ``Task`` rows, made by hand or by auto-task triggers."""

from datetime import UTC, datetime
from typing import Any

from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.events import UNSET, Unset, change
from core.models import Role, User
from funnels.deals import get_deal
from triggers.models import Task


async def list_tasks(
    *,
    actor: User,
    assignee_id: int | None = None,
    deal_id: int | None = None,
    contact_id: int | None = None,
    open_only: bool = False,
) -> list[Task]:
    """Tasks by due time. Operators see their own tasks only. ``contact_id``: the tasks of
    the contact's deals (what the inbox's side panel shows next to the conversation)."""
    if actor.role == Role.OPERATOR:
        if assignee_id is not None and assignee_id != actor.id:
            raise PermissionDenied("operators see only their own tasks", field="assignee_id")
        assignee_id = actor.id
    query = Task.all()
    if assignee_id is not None:
        query = query.filter(assignee_id=assignee_id)
    if deal_id is not None:
        query = query.filter(deal_id=deal_id)
    if contact_id is not None:
        query = query.filter(deal__deal_contacts__contact_id=contact_id).distinct()
    if open_only:
        query = query.filter(done_at__isnull=True)
    return await query.order_by("due_at", "id").limit(500)


async def get_task(*, actor: User, task_id: int, for_update: bool = False) -> Task:
    """A task the actor may see (operators: their own), or :class:`NotFound`."""
    query = Task.filter(id=task_id)
    task = await (query.select_for_update() if for_update else query).first()
    if task is None:
        raise NotFound(f"task {task_id} does not exist", field="task_id")
    if actor.role == Role.OPERATOR and task.assignee_id != actor.id:
        raise PermissionDenied("operators work on their own tasks only", field="task_id")
    return task


async def create_task(
    *,
    actor: User | None,
    title: str,
    due_at: datetime,
    description: str = "",
    assignee_id: int | None = None,
    deal_id: int | None = None,
    trigger_id: int | None = None,
    source_event_id: int | None = None,
) -> Task:
    """A task, for the actor unless another assignee is named (operators give tasks to
    themselves only). An auto-task (``actor`` None) names its trigger and the event that
    fired it; it is made once per (trigger, event), so a redelivered event adds nothing."""
    if assignee_id is None:
        if actor is None:
            raise ValidationFailed("a task made by no one needs an assignee", field="assignee_id")
        assignee_id = actor.id
    values = _task_values(title=title, description=description, due_at=due_at)
    assignee = await _assignee(actor, assignee_id)
    async with change(actor) as batch:
        if source_event_id is not None:
            made = await Task.get_or_none(trigger_id=trigger_id, source_event_id=source_event_id)
            if made is not None:
                return made
        if deal_id is not None:
            await get_deal(deal_id=deal_id)
        task = await Task.create(
            deal_id=deal_id,
            assignee=assignee,
            trigger_id=trigger_id,
            source_event_id=source_event_id,
            **values,
        )
        origin = {"trigger_id": trigger_id, "event_id": source_event_id} if trigger_id else {}
        await batch.record(
            "task.created",
            deal_id=deal_id,
            task_id=task.id,
            title=task.title,
            assignee_id=assignee.id,
            **origin,
        )
    return task


async def update_task(
    *,
    actor: User,
    task_id: int,
    title: str | Unset = UNSET,
    description: str | Unset = UNSET,
    due_at: datetime | Unset = UNSET,
    assignee_id: int | Unset = UNSET,
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
            deal_id=task.deal_id,
            task_id=task.id,
            assignee_id=values.get("assignee_id", task.assignee_id),
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
                deal_id=task.deal_id,
                task_id=task.id,
                title=task.title,
                assignee_id=task.assignee_id,
            )
    return task


async def delete_task(*, actor: User, task_id: int) -> None:
    """Remove a task (operators: their own)."""
    async with change(actor) as batch:
        task = await get_task(actor=actor, task_id=task_id, for_update=True)
        await task.delete()
        await batch.record(
            "task.deleted",
            deal_id=task.deal_id,
            task_id=task_id,
            title=task.title,
            assignee_id=task.assignee_id,
        )


def _task_values(*, title: str, description: str, due_at: datetime) -> dict[str, Any]:
    if not title or not title.strip():
        raise ValidationFailed("title must not be empty", field="title")
    if len(title.strip()) > 255:
        raise ValidationFailed("title is longer than 255 characters", field="title")
    if due_at.tzinfo is None:
        raise ValidationFailed("due_at needs a UTC offset", field="due_at")
    return {"title": title.strip(), "description": description, "due_at": due_at.astimezone(UTC)}


async def _assignee(actor: User | None, assignee_id: int) -> User:
    if actor is not None and actor.role == Role.OPERATOR and assignee_id != actor.id:
        raise PermissionDenied("operators give tasks to themselves only", field="assignee_id")
    assignee = await User.get_or_none(id=assignee_id, is_active=True)
    if assignee is None:
        raise NotFound(f"user {assignee_id} does not exist", field="assignee_id")
    return assignee


async def mark_notified(*, task_id: int) -> None:
    """Stamp that the assignee was told through the bot, so a redelivered ``task.created``
    stays quiet; the timeline shows it."""
    async with change(None) as batch:
        task = await Task.get(id=task_id)
        await batch.save(
            task,
            {"notified_at": datetime.now(UTC)},
            "task.notified",
            deal_id=task.deal_id,
            task_id=task.id,
            assignee_id=task.assignee_id,
        )
