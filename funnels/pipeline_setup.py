"""A pipeline with its stages in one go, as the first-visit prompt of Deals asks for them."""

from core.errors import ValidationFailed
from core.events import change
from core.models import User
from funnels.models import Pipeline
from funnels.pipelines import create_pipeline, create_stage


async def create_pipeline_with_stages(
    *, actor: User | None, name: str, stages: list[tuple[str, int]]
) -> Pipeline:
    """``stages`` are the open stages in order (Won and Lost come with every pipeline).

    One transaction: a stage that is refused leaves no half-made pipeline behind.
    """
    if not stages:
        raise ValidationFailed("a pipeline needs at least one stage", field="stages")
    (first, first_probability), *rest = stages
    async with change(actor):
        pipeline = await create_pipeline(
            actor=actor, name=name, initial_stage=first, initial_probability=first_probability
        )
        for stage_name, probability in rest:
            await create_stage(
                actor=actor, pipeline_id=pipeline.id, name=stage_name, probability=probability
            )
    return pipeline
