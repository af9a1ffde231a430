"""Deal intake: where each channel's new dialogs become deals. The only writer of
``DealIntake``.

A channel belongs to the inbox, which points at nothing above it, so its routing into the
funnels (pipeline, stage, owner) lives here. The channel service (``bot.channels``) calls
these inside its own change: a channel and its intake are written in one transaction.
"""

from core.errors import ValidationFailed
from core.events import EventBatch
from funnels.models import DealIntake
from funnels.pipelines import get_stage


async def _check_stage(pipeline_id: int, stage_id: int) -> None:
    stage = await get_stage(stage_id=stage_id)
    if stage.pipeline_id != pipeline_id:
        raise ValidationFailed(
            f"stage {stage_id} is not a stage of pipeline {pipeline_id}", field="stage_id"
        )


async def open_intake(
    batch: EventBatch, *, channel_id: int, pipeline_id: int, stage_id: int, owner_id: int
) -> DealIntake:
    """Route a new channel's dialogs into ``stage_id``, as deals of ``owner_id``."""
    await _check_stage(pipeline_id, stage_id)
    intake = await DealIntake.create(
        channel_id=channel_id, pipeline_id=pipeline_id, stage_id=stage_id, owner_id=owner_id
    )
    await batch.record(
        "deal_intake.created",
        channel_id=channel_id,
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        owner_id=owner_id,
    )
    return intake


async def reroute(
    batch: EventBatch,
    intake: DealIntake,
    *,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    owner_id: int | None = None,
) -> None:
    """Send the channel's later new dialogs elsewhere; omitted (None) parts stay."""
    given = {"pipeline_id": pipeline_id, "stage_id": stage_id, "owner_id": owner_id}
    values = {k: v for k, v in given.items() if v is not None}
    if pipeline_id is not None or stage_id is not None:
        await _check_stage(
            values.get("pipeline_id", intake.pipeline_id),
            values.get("stage_id", intake.stage_id),
        )
    await batch.save(
        intake,
        values,
        "deal_intake.updated",
        channel_id=intake.channel_id,
    )


async def intake_of(*, channel_id: int) -> DealIntake:
    """The channel's routing (every channel has one, made with it)."""
    return await DealIntake.get(channel_id=channel_id)
