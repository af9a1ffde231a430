"""Pipelines and stages."""

from aiohttp import web

from funnels import pipelines
from web.api import actor
from web.routes import api
from web.schemas import (
    Order,
    PipelineCreate,
    PipelineOut,
    PipelineUpdate,
    StageCreate,
    StageOut,
    StageUpdate,
)


async def _out(pipeline_id: int) -> PipelineOut:
    pipeline = await pipelines.get_pipeline(pipeline_id=pipeline_id)
    return PipelineOut.of(pipeline, await pipelines.list_stages(pipeline_id=pipeline_id))


@api.route(
    "GET",
    "/api/v1/pipelines",
    summary="List pipelines with their stages",
    tag="pipelines",
    response=list[PipelineOut],
)
async def list_pipelines(request: web.Request) -> list[PipelineOut]:
    return [PipelineOut.of(p, list(p.stages)) for p in await pipelines.list_pipelines()]


@api.route(
    "POST",
    "/api/v1/pipelines",
    summary="Create a pipeline (initial, Won and Lost stages)",
    tag="pipelines",
    body=PipelineCreate,
    response=PipelineOut,
    status=201,
)
async def create_pipeline(request: web.Request, *, body: PipelineCreate) -> PipelineOut:
    pipeline = await pipelines.create_pipeline(actor=actor(request), **body.model_dump())
    return await _out(pipeline.id)


@api.route(
    "GET",
    "/api/v1/pipelines/{pipeline_id}",
    summary="Get a pipeline",
    tag="pipelines",
    response=PipelineOut,
)
async def get_pipeline(request: web.Request, *, pipeline_id: int) -> PipelineOut:
    return await _out(pipeline_id)


@api.route(
    "PATCH",
    "/api/v1/pipelines/{pipeline_id}",
    summary="Rename or recolour a pipeline",
    tag="pipelines",
    body=PipelineUpdate,
    response=PipelineOut,
)
async def update_pipeline(
    request: web.Request, *, pipeline_id: int, body: PipelineUpdate
) -> PipelineOut:
    await pipelines.update_pipeline(
        actor=actor(request), pipeline_id=pipeline_id, **body.model_dump(exclude_unset=True)
    )
    return await _out(pipeline_id)


@api.route(
    "DELETE",
    "/api/v1/pipelines/{pipeline_id}",
    summary="Delete an empty pipeline",
    tag="pipelines",
    status=204,
)
async def delete_pipeline(request: web.Request, *, pipeline_id: int) -> None:
    await pipelines.delete_pipeline(actor=actor(request), pipeline_id=pipeline_id)


@api.route(
    "PUT",
    "/api/v1/pipelines/order",
    summary="Set the order of all pipelines",
    tag="pipelines",
    body=Order,
    response=list[PipelineOut],
)
async def reorder_pipelines(request: web.Request, *, body: Order) -> list[PipelineOut]:
    result = await pipelines.reorder_pipelines(actor=actor(request), pipeline_ids=body.ids)
    return [PipelineOut.of(p, list(p.stages)) for p in result]


@api.route(
    "POST",
    "/api/v1/pipelines/{pipeline_id}/stages",
    summary="Add an open stage",
    tag="stages",
    body=StageCreate,
    response=StageOut,
    status=201,
)
async def create_stage(request: web.Request, *, pipeline_id: int, body: StageCreate) -> StageOut:
    stage = await pipelines.create_stage(
        actor=actor(request), pipeline_id=pipeline_id, **body.model_dump()
    )
    return StageOut.model_validate(stage)


@api.route(
    "PUT",
    "/api/v1/pipelines/{pipeline_id}/stages/order",
    summary="Set the order of the open stages",
    tag="stages",
    body=Order,
    response=list[StageOut],
)
async def reorder_stages(request: web.Request, *, pipeline_id: int, body: Order) -> list[StageOut]:
    stages = await pipelines.reorder_stages(
        actor=actor(request), pipeline_id=pipeline_id, stage_ids=body.ids
    )
    return [StageOut.model_validate(s) for s in stages]


@api.route(
    "PATCH",
    "/api/v1/stages/{stage_id}",
    summary="Rename a stage or set its probability",
    tag="stages",
    body=StageUpdate,
    response=StageOut,
)
async def update_stage(request: web.Request, *, stage_id: int, body: StageUpdate) -> StageOut:
    stage = await pipelines.update_stage(
        actor=actor(request), stage_id=stage_id, **body.model_dump(exclude_unset=True)
    )
    return StageOut.model_validate(stage)


@api.route(
    "DELETE",
    "/api/v1/stages/{stage_id}",
    summary="Delete an empty open stage",
    tag="stages",
    status=204,
)
async def delete_stage(request: web.Request, *, stage_id: int) -> None:
    await pipelines.delete_stage(actor=actor(request), stage_id=stage_id)
