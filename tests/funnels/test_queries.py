"""The deal list (filters, sorts, keyset pages) and the board (counts, totals, cards)."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from core.models import User
from funnels import catalog, deals, pipelines
from funnels.models import Deal
from funnels.queries import DealFilter, DealSort, attach_tags, board, list_deals
from inbox.service import create_contact
from tests.conftest import Api


@pytest.fixture
async def world(admin: User, owner: User) -> dict:
    """Two pipelines and 40 deals with varied amounts, currencies, dates and owners."""
    sales = await pipelines.create_pipeline(actor=admin, name="Sales")
    other = await pipelines.create_pipeline(actor=admin, name="Other")
    talks = await pipelines.create_stage(
        actor=admin, pipeline_id=sales.id, name="Talks", probability=50
    )
    stages = await pipelines.list_stages(pipeline_id=sales.id)
    contact = await create_contact(actor=admin, name="Ann")
    rng = random.Random(7)
    created = []
    for i in range(40):
        amount = None if i % 5 == 0 else Decimal(rng.randint(0, 50000)) / 100
        deal = await deals.create_deal(
            actor=admin,
            contact_ids=[contact.id],
            pipeline_id=sales.id if i % 4 else other.id,
            stage_id=(talks.id if i % 3 else stages[0].id) if i % 4 else None,
            owner_id=owner.id if i % 2 else admin.id,
            title=f"Deal {i:02d} {'wedding' if i % 7 == 0 else 'haircut'}",
            amount=amount,
            currency=None if amount is None else ("EUR" if i % 3 == 0 else "USD"),
            close_date=None
            if i % 6 == 0
            else date(2027, 1, 1) + timedelta(days=rng.randint(0, 90)),
        )
        created.append(deal)
    # spread creation times so date filters and the created sort mean something
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i, deal in enumerate(created):
        await Deal.filter(id=deal.id).update(created_at=base + timedelta(days=(i * 7) % 40))
    return {"sales": sales, "other": other, "talks": talks, "stages": stages}


def _key(deal: Deal, sort: DealSort):
    return {
        DealSort.TITLE: deal.title,
        DealSort.STAGE: deal.stage.position,
        DealSort.CREATED_AT: deal.created_at,
        DealSort.CLOSE_DATE: deal.close_date,
        DealSort.AMOUNT: deal.amount,
    }[sort]


@pytest.mark.parametrize("sort", list(DealSort))
@pytest.mark.parametrize("descending", [False, True])
async def test_keyset_pages_walk_every_deal_once_in_order(world, sort, descending) -> None:
    expected = await Deal.all().select_related("stage")
    filled = [d for d in expected if _key(d, sort) is not None]
    empty = [d for d in expected if _key(d, sort) is None]
    filled.sort(key=lambda d: (_key(d, sort), d.id), reverse=descending)
    empty.sort(key=lambda d: d.id, reverse=descending)
    seen, cursor = [], None
    while True:
        page = await list_deals(sort=sort, descending=descending, cursor=cursor, limit=7)
        seen += [d.id for d in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [d.id for d in filled + empty]


async def test_filters_narrow_the_list(world, owner: User) -> None:
    async def ids(**filters) -> set[int]:
        page = await list_deals(filters=DealFilter(**filters), limit=200)
        return {d.id for d in page.items}

    everything = await Deal.all().select_related("stage")
    sales = world["sales"].id
    assert await ids(pipeline_id=sales) == {d.id for d in everything if d.pipeline_id == sales}
    assert await ids(owner_id=owner.id) == {d.id for d in everything if d.owner_id == owner.id}
    assert await ids(title="WEDDING") == {d.id for d in everything if "wedding" in d.title}
    assert await ids(created_from=date(2026, 1, 10), created_to=date(2026, 1, 20)) == {
        d.id for d in everything if date(2026, 1, 10) <= d.created_at.date() <= date(2026, 1, 20)
    }
    assert await ids(close_from=date(2027, 2, 1), close_to=date(2027, 2, 28)) == {
        d.id
        for d in everything
        if d.close_date and date(2027, 2, 1) <= d.close_date <= date(2027, 2, 28)
    }
    assert len(await ids(pipeline_id=sales, owner_id=owner.id, title="haircut")) > 0


async def test_reference_is_findable(api: Api, world) -> None:
    deal = await Deal.first()
    await api.patch(f"/api/v1/deals/{deal.id}", {"reference": "ALT-7781"})
    status, body = await api.get("/api/v1/deals", params={"reference": "ALT-7781"})
    assert status == 200 and [d["id"] for d in body["items"]] == [deal.id]


async def test_list_api_sorts_and_pages(api: Api, world) -> None:
    params = {"sort": "amount", "order": "desc", "limit": "5", "pipeline_id": world["sales"].id}
    status, first = await api.get("/api/v1/deals", params=params)
    assert status == 200 and len(first["items"]) == 5
    amounts = [Decimal(d["amount"]) for d in first["items"]]
    assert amounts == sorted(amounts, reverse=True)
    _, second = await api.get("/api/v1/deals", params={**params, "cursor": first["next_cursor"]})
    assert Decimal(second["items"][0]["amount"]) <= amounts[-1]
    assert not {d["id"] for d in first["items"]} & {d["id"] for d in second["items"]}
    status, body = await api.get("/api/v1/deals", params={"cursor": "garbage!"})
    assert status == 422 and body["error"]["field"] == "cursor"
    status, body = await api.get("/api/v1/deals", params={"sort": "colour"})
    assert status == 422 and body["error"]["field"] == "sort"


async def test_board_counts_and_sums_per_currency_with_weighting(world) -> None:
    sales = world["sales"].id
    columns = await board(pipeline_id=sales, cards=3)
    assert [c.stage.name for c in columns] == ["New", "Talks", "Won", "Lost"]
    for column in columns:
        in_stage = await Deal.filter(stage_id=column.stage.id)
        assert column.count == len(in_stage)
        expected = {}
        for d in in_stage:
            if d.amount is not None:
                expected[d.currency] = expected.get(d.currency, Decimal(0)) + d.amount
        assert {t.currency: t.amount for t in column.totals} == expected
        for total in column.totals:
            weighted = total.amount * column.stage.probability / 100
            assert total.weighted == weighted.quantize(Decimal("0.01"))
        newest = sorted(in_stage, key=lambda d: (d.created_at, d.id), reverse=True)[:3]
        assert [d.id for d in column.deals] == [d.id for d in newest]
        assert (column.next_cursor is not None) == (len(in_stage) > 3)


async def test_board_filters_narrow_counts_sums_and_cards(world, owner: User) -> None:
    sales = world["sales"].id
    wanted = DealFilter(owner_id=owner.id, title="haircut", pipeline_id=world["other"].id)
    columns = await board(pipeline_id=sales, cards=50, filters=wanted)  # the board's pipeline
    for column in columns:
        in_stage = await Deal.filter(
            stage_id=column.stage.id, owner_id=owner.id, title__contains="haircut"
        )
        assert column.count == len(in_stage)
        assert {d.id for d in column.deals} == {d.id for d in in_stage}
        expected: dict[str, Decimal] = {}
        for d in in_stage:
            if d.amount is not None:
                expected[d.currency] = expected.get(d.currency, Decimal(0)) + d.amount
        assert {t.currency: t.amount for t in column.totals} == expected
    assert sum(c.count for c in columns) > 0


async def test_tag_filter_and_tags_of_a_page(world, admin: User) -> None:
    vip = await catalog.create_tag(actor=admin, name="VIP")
    cold = await catalog.create_tag(actor=admin, name="Cold")
    first, second, third = (await list_deals(limit=3)).items
    await deals.update_deal(actor=admin, deal_id=first.id, tag_ids=[vip.id, cold.id])
    await deals.update_deal(actor=admin, deal_id=third.id, tag_ids=[vip.id])
    page = await list_deals(filters=DealFilter(tag_id=vip.id), limit=50)
    assert [d.id for d in page.items] == [first.id, third.id]
    await attach_tags([first, second, third])
    assert [[t.name for t in d.tag_list] for d in (first, second, third)] == [
        ["Cold", "VIP"],
        [],
        ["VIP"],
    ]


async def test_board_sums_cents_exactly(admin: User, db) -> None:
    pipeline = await pipelines.create_pipeline(actor=admin, name="Cents")
    contact = await create_contact(actor=admin, name="C")
    for _ in range(10):
        await deals.create_deal(
            actor=admin, contact_ids=[contact.id], pipeline_id=pipeline.id,
            amount=Decimal("0.10"), currency="USD",
        )  # fmt: skip
    column = (await board(pipeline_id=pipeline.id, cards=0))[0]
    assert column.totals[0].amount == Decimal("1.00")
    assert str(column.totals[0].amount) == "1.00"


async def test_board_sums_the_largest_amounts_exactly(api: Api, admin: User) -> None:
    """Ten deals of the largest amount, and the largest plus a cent: exact on SQLite too
    (whose integers would overflow and whose REALs would round)."""
    pipeline = await pipelines.create_pipeline(actor=admin, name="Extreme")
    contact = await create_contact(actor=admin, name="C")
    amounts = [deals.MAX_AMOUNT] * 10 + [Decimal("0.01"), Decimal("1.50")]
    for amount in amounts:
        await deals.create_deal(
            actor=admin, contact_ids=[contact.id], pipeline_id=pipeline.id,
            amount=amount, currency="EUR",
        )  # fmt: skip
    status, body = await api.get(f"/api/v1/pipelines/{pipeline.id}/board?cards=0")
    assert status == 200, body
    [total] = body["columns"][0]["totals"]
    assert total["amount"] == "100000000000000001.41" == f"{sum(amounts):f}"


async def test_board_api_shows_cards_with_contacts(api: Api, world) -> None:
    status, body = await api.get(f"/api/v1/pipelines/{world['sales'].id}/board?cards=2")
    assert status == 200
    talks = next(c for c in body["columns"] if c["stage"]["name"] == "Talks")
    card = talks["deals"][0]
    assert card["contacts"][0]["name"] == "Ann"
    assert {"title", "owner", "amount", "created_at", "close_date"} <= card.keys()
    assert (await api.get("/api/v1/pipelines/999/board"))[0] == 404
