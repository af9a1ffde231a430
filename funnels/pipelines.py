"""Pipelines and stages: the only code that writes ``Pipeline`` and ``Stage`` rows."""

from typing import Any

from core.errors import Conflict, LimitReached, NotFound, ValidationFailed
from core.events import change
from core.models import User
from funnels.catalog import check_color
from funnels.models import Deal, Pipeline, Stage, StageKind

MAX_PIPELINES = 10
FIXED_PROBABILITY = {StageKind.WON: 100, StageKind.LOST: 0}


def _check_name(name: str, field: str = "name") -> str:
    if not name or not name.strip():
        raise ValidationFailed("name must not be empty", field=field)
    return name.strip()


def _check_probability(probability: int) -> int:
    if not 0 <= probability <= 100:
        raise ValidationFailed("probability must be between 0 and 100", field="probability")
    return probability


async def get_pipeline(*, pipeline_id: int) -> Pipeline:
    """A pipeline by id, or :class:`NotFound`."""
    pipeline = await Pipeline.get_or_none(id=pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id} does not exist", field="pipeline_id")
    return pipeline


async def list_pipelines() -> list[Pipeline]:
    """All pipelines in display order, stages prefetched."""
    return await Pipeline.all().prefetch_related("stages")


async def get_stage(*, stage_id: int, field: str = "stage_id") -> Stage:
    """A stage by id, or :class:`NotFound` naming ``field``."""
    stage = await Stage.get_or_none(id=stage_id)
    if stage is None:
        raise NotFound(f"stage {stage_id} does not exist", field=field)
    return stage


async def list_stages(*, pipeline_id: int) -> list[Stage]:
    """A pipeline's stages in order: open stages, then Won, then Lost."""
    return await Stage.filter(pipeline_id=pipeline_id).order_by("position", "id")


async def create_pipeline(
    *,
    actor: User | None,
    name: str,
    color: str | None = None,
    initial_stage: str = "New",
    initial_probability: int = 10,
) -> Pipeline:
    """A new pipeline gets one editable initial stage plus the fixed Won and Lost stages."""
    name = _check_name(name)
    _check_probability(initial_probability)
    async with change(actor) as batch:
        # only(), not values_list(): values_list() drops FOR UPDATE
        count = len(await Pipeline.all().select_for_update().only("id"))
        if count >= MAX_PIPELINES:
            raise LimitReached(f"an account can have at most {MAX_PIPELINES} pipelines")
        colored: dict[str, Any] = {"color": check_color(color)} if color else {}
        pipeline = await Pipeline.create(name=name, position=count, **colored)
        stages = [
            (_check_name(initial_stage, "initial_stage"), initial_probability, StageKind.OPEN),
            ("Won", 100, StageKind.WON),
            ("Lost", 0, StageKind.LOST),
        ]
        for position, (stage_name, probability, kind) in enumerate(stages):
            await Stage.create(
                pipeline=pipeline,
                name=stage_name,
                probability=probability,
                kind=kind,
                position=position,
            )
        await batch.record("pipeline.created", pipeline_id=pipeline.id, name=name)
    return pipeline


async def update_pipeline(
    *,
    actor: User | None,
    pipeline_id: int,
    name: str | None = None,
    color: str | None = None,
    auto_messages_enabled: bool | None = None,
    auto_tasks_enabled: bool | None = None,
) -> Pipeline:
    """Rename or recolour a pipeline, or switch its auto-messages or auto-tasks on or off."""
    async with change(actor) as batch:
        pipeline = await get_pipeline(pipeline_id=pipeline_id)
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = _check_name(name)
        if color is not None:
            values["color"] = check_color(color)
        if auto_messages_enabled is not None:
            values["auto_messages_enabled"] = auto_messages_enabled
        if auto_tasks_enabled is not None:
            values["auto_tasks_enabled"] = auto_tasks_enabled
        await batch.save(pipeline, values, "pipeline.updated", pipeline_id=pipeline.id)
    return pipeline


async def reorder_pipelines(*, actor: User | None, pipeline_ids: list[int]) -> list[Pipeline]:
    """Set the display order; the list must name every pipeline exactly once."""
    async with change(actor) as batch:
        pipelines = {p.id: p for p in await Pipeline.all().select_for_update()}
        _check_permutation(pipeline_ids, set(pipelines), "pipeline_ids")
        for position, pipeline_id in enumerate(pipeline_ids):
            await Pipeline.filter(id=pipeline_id).update(position=position)
        await batch.record("pipeline.reordered", pipeline_ids=pipeline_ids)
    return await list_pipelines()


async def delete_pipeline(*, actor: User | None, pipeline_id: int) -> None:
    """Delete a pipeline; only an empty one (no deals) may go."""
    async with change(actor) as batch:
        pipeline = await get_pipeline(pipeline_id=pipeline_id)
        if await Deal.filter(pipeline_id=pipeline_id).exists():
            raise Conflict("only a pipeline without deals can be deleted", field="pipeline_id")
        await pipeline.delete()
        await batch.record("pipeline.deleted", pipeline_id=pipeline_id, name=pipeline.name)


async def create_stage(
    *,
    actor: User | None,
    pipeline_id: int,
    name: str,
    probability: int,
    position: int | None = None,
) -> Stage:
    """Insert an open stage at ``position`` among the open stages (default: last open)."""
    name = _check_name(name)
    _check_probability(probability)
    async with change(actor) as batch:
        await get_pipeline(pipeline_id=pipeline_id)
        open_stages = await _open_stages(pipeline_id)
        index = len(open_stages) if position is None else max(0, min(position, len(open_stages)))
        stage = await Stage.create(pipeline_id=pipeline_id, name=name, probability=probability)
        open_stages.insert(index, stage)
        await _renumber(pipeline_id, [s.id for s in open_stages])
        await batch.record("stage.created", pipeline_id=pipeline_id, stage_id=stage.id, name=name)
    return await get_stage(stage_id=stage.id)


async def update_stage(
    *,
    actor: User | None,
    stage_id: int,
    name: str | None = None,
    probability: int | None = None,
) -> Stage:
    """Rename a stage or change its probability; Won and Lost keep 100% and 0%."""
    async with change(actor) as batch:
        stage = await get_stage(stage_id=stage_id)
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = _check_name(name)
        if probability is not None:
            _check_probability(probability)
            fixed = FIXED_PROBABILITY.get(stage.kind)
            if fixed is not None and probability != fixed:
                raise ValidationFailed(
                    f"the {stage.kind.value} stage always has {fixed}% probability",
                    field="probability",
                )
            values["probability"] = probability
        await batch.save(
            stage,
            values,
            "stage.updated",
            pipeline_id=stage.pipeline_id,
            stage_id=stage.id,
        )
    return stage


async def reorder_stages(
    *, actor: User | None, pipeline_id: int, stage_ids: list[int]
) -> list[Stage]:
    """Order the open stages; Won and Lost always close the pipeline and are not listed."""
    async with change(actor) as batch:
        await get_pipeline(pipeline_id=pipeline_id)
        open_ids = {s.id for s in await _open_stages(pipeline_id)}
        _check_permutation(stage_ids, open_ids, "stage_ids")
        await _renumber(pipeline_id, stage_ids)
        await batch.record("stage.reordered", pipeline_id=pipeline_id, stage_ids=stage_ids)
    return await list_stages(pipeline_id=pipeline_id)


async def delete_stage(*, actor: User | None, stage_id: int) -> None:
    """Delete an empty open stage; Won, Lost and the last open stage stay."""
    async with change(actor) as batch:
        stage = await get_stage(stage_id=stage_id)
        pipeline_id: int = stage.pipeline_id
        if stage.kind != StageKind.OPEN:
            raise Conflict(f"the {stage.kind.value} stage cannot be deleted", field="stage_id")
        if await Deal.filter(stage_id=stage_id).exists():
            raise Conflict("only a stage without deals can be deleted", field="stage_id")
        remaining = [s.id for s in await _open_stages(pipeline_id) if s.id != stage_id]
        if not remaining:
            raise Conflict("a pipeline needs at least one open stage", field="stage_id")
        await stage.delete()
        await _renumber(pipeline_id, remaining)
        await batch.record(
            "stage.deleted", pipeline_id=pipeline_id, stage_id=stage_id, name=stage.name
        )


async def _open_stages(pipeline_id: int) -> list[Stage]:
    return await Stage.filter(pipeline_id=pipeline_id, kind=StageKind.OPEN).order_by(
        "position", "id"
    )


async def _renumber(pipeline_id: int, open_ids: list[int]) -> None:
    """Number open stages in the given order, then Won, then Lost."""
    for position, stage_id in enumerate(open_ids):
        await Stage.filter(id=stage_id).update(position=position)
    for offset, kind in enumerate((StageKind.WON, StageKind.LOST)):
        await Stage.filter(pipeline_id=pipeline_id, kind=kind).update(
            position=len(open_ids) + offset
        )


def _check_permutation(given: list[int], expected: set[int], field: str) -> None:
    if len(given) != len(expected) or set(given) != expected:
        raise ValidationFailed(f"must list each of {sorted(expected)} exactly once", field=field)
