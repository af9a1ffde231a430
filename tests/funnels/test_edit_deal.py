"""The deal page's Save (``edit_deal``): fields and stage in one change, all or nothing."""

from decimal import Decimal

import pytest

from core.errors import ValidationFailed
from core.models import Event, User
from funnels import catalog, deals, pipelines
from funnels.models import Deal
from inbox import service as contacts


async def a_deal(admin: User) -> Deal:
    pipeline = await pipelines.create_pipeline(actor=admin, name="Sales", initial_stage="New")
    ann = await contacts.create_contact(actor=admin, name="Ann Lee")
    return await deals.create_deal(actor=admin, contact_ids=[ann.id], pipeline_id=pipeline.id)


async def test_fields_and_a_move_are_saved_together_as_their_own_events(admin: User) -> None:
    deal = await a_deal(admin)
    won = (await pipelines.list_stages(pipeline_id=deal.pipeline_id))[-2]
    await deals.edit_deal(
        actor=admin, deal_id=deal.id, stage_id=won.id, title="Ann: colouring",
        amount=Decimal("80.00"), currency="EUR",
    )  # fmt: skip
    saved = await Deal.get(id=deal.id)
    assert (saved.title, saved.amount, saved.stage_id) == (
        "Ann: colouring",
        Decimal("80.00"),
        won.id,
    )
    assert saved.close_date is not None
    kinds = [e.kind for e in await Event.filter(deal_id=deal.id).order_by("id")]
    assert kinds[-3:] == ["deal.updated", "deal.stage_changed", "deal.updated"]


async def test_a_refused_move_undoes_the_field_edits_before_it(admin: User) -> None:
    deal = await a_deal(admin)
    reason = await catalog.create_lost_reason(actor=admin, name="Too expensive")
    events = await Event.filter(deal_id=deal.id).count()
    with pytest.raises(ValidationFailed) as refused:
        await deals.edit_deal(  # a lost reason outside the Lost stage
            actor=admin, deal_id=deal.id, stage_id=deal.stage_id, lost_reason_id=reason.id,
            title="Renamed",
        )  # fmt: skip
    assert refused.value.field == "lost_reason_id"
    assert (await Deal.get(id=deal.id)).title == "Ann Lee"
    assert await Event.filter(deal_id=deal.id).count() == events


async def test_saving_what_the_deal_already_has_records_nothing(admin: User) -> None:
    deal = await a_deal(admin)
    events = await Event.filter(deal_id=deal.id).count()
    await deals.edit_deal(actor=admin, deal_id=deal.id, stage_id=deal.stage_id, title="Ann Lee")
    assert await Event.filter(deal_id=deal.id).count() == events
