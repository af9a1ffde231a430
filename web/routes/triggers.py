"""Stage triggers (admins) and tasks (everyone's own; admins see all)."""

from aiohttp import web

from triggers import facts, service, tasks
from web.api import EVERYONE, actor
from web.routes import api
from web.schemas_triggers import (
    EvaluateIn,
    EvaluateOut,
    RenderIn,
    RenderOut,
    TaskIn,
    TaskOut,
    TaskQuery,
    TaskUpdate,
    TriggerIn,
    TriggerOut,
    TriggerUpdate,
)


@api.route(
    "GET",
    "/api/v1/stages/{stage_id}/triggers",
    summary="List a stage's triggers in the order they run",
    tag="triggers",
    response=list[TriggerOut],
)
async def list_triggers(request: web.Request, *, stage_id: int) -> list[TriggerOut]:
    return [TriggerOut.model_validate(t) for t in await service.list_triggers(stage_id=stage_id)]


@api.route(
    "POST",
    "/api/v1/stages/{stage_id}/triggers",
    summary="Add a trigger that fires when a deal enters the stage",
    tag="triggers",
    body=TriggerIn,
    response=TriggerOut,
    status=201,
)
async def create_trigger(request: web.Request, *, stage_id: int, body: TriggerIn) -> TriggerOut:
    trigger = await service.create_trigger(
        actor=actor(request), stage_id=stage_id, **body.model_dump()
    )
    return TriggerOut.model_validate(trigger)


@api.route(
    "PATCH",
    "/api/v1/triggers/{trigger_id}",
    summary="Change a trigger's config, switch it on or off, or move it",
    tag="triggers",
    body=TriggerUpdate,
    response=TriggerOut,
)
async def update_trigger(
    request: web.Request, *, trigger_id: int, body: TriggerUpdate
) -> TriggerOut:
    trigger = await service.update_trigger(
        actor=actor(request), trigger_id=trigger_id, **body.model_dump(exclude_unset=True)
    )
    return TriggerOut.model_validate(trigger)


@api.route(
    "DELETE",
    "/api/v1/triggers/{trigger_id}",
    summary="Delete a trigger (its tasks stay)",
    tag="triggers",
    status=204,
)
async def delete_trigger(request: web.Request, *, trigger_id: int) -> None:
    await service.delete_trigger(actor=actor(request), trigger_id=trigger_id)


@api.route(
    "POST",
    "/api/v1/triggers/render",
    summary="Dry run: fill a message template with a deal's data",
    tag="triggers",
    body=RenderIn,
    response=RenderOut,
)
async def render_template(request: web.Request, *, body: RenderIn) -> RenderOut:
    text = await facts.render_for_deal(template=body.template, deal_id=body.deal_id)
    return RenderOut(text=text)


@api.route(
    "POST",
    "/api/v1/triggers/evaluate",
    summary="Dry run: what a deal rule would do to a deal",
    tag="triggers",
    body=EvaluateIn,
    response=EvaluateOut,
)
async def evaluate_rule(request: web.Request, *, body: EvaluateIn) -> EvaluateOut:
    outcome = await facts.evaluate_for_deal(rule=body.rule, deal_id=body.deal_id)
    return EvaluateOut(
        matched=outcome.matched,
        add_tags=list(outcome.add_tags),
        remove_tags=list(outcome.remove_tags),
        set_fields=dict(outcome.set_fields),
    )


@api.route(
    "GET",
    "/api/v1/tasks",
    summary="List tasks by due time (operators: their own)",
    tag="tasks",
    roles=EVERYONE,
    query=TaskQuery,
    response=list[TaskOut],
)
async def list_tasks(request: web.Request, *, query: TaskQuery) -> list[TaskOut]:
    found = await tasks.list_tasks(
        actor=actor(request),
        assignee_id=query.assignee_id,
        deal_id=query.deal_id,
        contact_id=query.contact_id,
        open_only=query.open,
    )
    return [TaskOut.model_validate(t) for t in found]


@api.route(
    "POST",
    "/api/v1/tasks/{task_id}/complete",
    summary="Mark a task done (operators: their own)",
    tag="tasks",
    roles=EVERYONE,
    response=TaskOut,
)
async def complete_task(request: web.Request, *, task_id: int) -> TaskOut:
    task = await tasks.complete_task(actor=actor(request), task_id=task_id)
    return TaskOut.model_validate(task)


@api.route(
    "POST",
    "/api/v1/tasks",
    summary="Add a task by hand (operators: for themselves)",
    tag="tasks",
    roles=EVERYONE,
    body=TaskIn,
    response=TaskOut,
    status=201,
)
async def create_task(request: web.Request, *, body: TaskIn) -> TaskOut:
    task = await tasks.create_task(actor=actor(request), **body.model_dump())
    return TaskOut.model_validate(task)


@api.route(
    "GET",
    "/api/v1/tasks/{task_id}",
    summary="One task (operators: their own)",
    tag="tasks",
    roles=EVERYONE,
    response=TaskOut,
)
async def get_task(request: web.Request, *, task_id: int) -> TaskOut:
    return TaskOut.model_validate(await tasks.get_task(actor=actor(request), task_id=task_id))


@api.route(
    "PATCH",
    "/api/v1/tasks/{task_id}",
    summary="Change a task's title, description, due time or assignee",
    tag="tasks",
    roles=EVERYONE,
    body=TaskUpdate,
    response=TaskOut,
)
async def update_task(request: web.Request, *, task_id: int, body: TaskUpdate) -> TaskOut:
    task = await tasks.update_task(
        actor=actor(request), task_id=task_id, **body.model_dump(exclude_unset=True)
    )
    return TaskOut.model_validate(task)


@api.route(
    "DELETE",
    "/api/v1/tasks/{task_id}",
    summary="Delete a task (operators: their own)",
    tag="tasks",
    roles=EVERYONE,
    status=204,
)
async def delete_task(request: web.Request, *, task_id: int) -> None:
    await tasks.delete_task(actor=actor(request), task_id=task_id)
