"""Deals: list, board, detail, edits, moves, contacts, clone and deletes."""

from aiohttp import web

from core.errors import NotFound
from funnels import bookings, deals, queries
from web.api import actor
from web.routes import api
from web.schemas import (
    BoardOut,
    BoardQuery,
    BookingIn,
    BookingOut,
    BulkDelete,
    ColumnOut,
    ContactLink,
    DealCreate,
    DealDetail,
    DealMove,
    DealPageOut,
    DealQuery,
    DealUpdate,
    EventOut,
)


async def _detail(deal_id: int) -> DealDetail:
    return DealDetail.of_detail(await queries.deal_detail(deal_id=deal_id))


@api.route(
    "GET",
    "/api/v1/deals",
    summary="List deals: filter, sort, keyset pages",
    tag="deals",
    query=DealQuery,
    response=DealPageOut,
)
async def list_deals(request: web.Request, *, query: DealQuery) -> DealPageOut:
    filters = queries.DealFilter(**query.model_dump(exclude={"sort", "order", "cursor", "limit"}))
    page = await queries.list_deals(
        filters=filters,
        sort=query.sort,
        descending=query.order == "desc",
        cursor=query.cursor,
        limit=query.limit,
    )
    return DealPageOut.of(page)


@api.route(
    "POST",
    "/api/v1/deals",
    summary="Create a deal",
    tag="deals",
    body=DealCreate,
    response=DealDetail,
    status=201,
)
async def create_deal(request: web.Request, *, body: DealCreate) -> DealDetail:
    deal = await deals.create_deal(actor=actor(request), **body.model_dump())
    return await _detail(deal.id)


@api.route(
    "GET",
    "/api/v1/deals/{deal_id}",
    summary="Get a deal with tags and custom fields",
    tag="deals",
    response=DealDetail,
)
async def get_deal(request: web.Request, *, deal_id: int) -> DealDetail:
    return await _detail(deal_id)


@api.route(
    "PATCH",
    "/api/v1/deals/{deal_id}",
    summary="Edit a deal's fields, tags and custom fields",
    tag="deals",
    body=DealUpdate,
    response=DealDetail,
)
async def update_deal(request: web.Request, *, deal_id: int, body: DealUpdate) -> DealDetail:
    await deals.update_deal(
        actor=actor(request), deal_id=deal_id, **body.model_dump(exclude_unset=True)
    )
    return await _detail(deal_id)


@api.route(
    "POST",
    "/api/v1/deals/{deal_id}/move",
    summary="Move a deal to a stage (Won, Lost...)",
    tag="deals",
    body=DealMove,
    response=DealDetail,
)
async def move_deal(request: web.Request, *, deal_id: int, body: DealMove) -> DealDetail:
    """The stage may belong to another pipeline: the deal then moves to that pipeline.
    Won and Lost fill an empty close date with today; Lost takes an optional lost reason.
    The entered stage's triggers fire as for any move."""
    await deals.move_deal(actor=actor(request), deal_id=deal_id, **body.model_dump())
    return await _detail(deal_id)


@api.route(
    "POST",
    "/api/v1/deals/{deal_id}/contacts",
    summary="Add a contact to a deal",
    tag="deals",
    body=ContactLink,
    response=DealDetail,
)
async def add_contact(request: web.Request, *, deal_id: int, body: ContactLink) -> DealDetail:
    await deals.add_contact(actor=actor(request), deal_id=deal_id, contact_id=body.contact_id)
    return await _detail(deal_id)


@api.route(
    "DELETE",
    "/api/v1/deals/{deal_id}/contacts/{contact_id}",
    summary="Remove a contact from a deal",
    tag="deals",
    response=DealDetail,
)
async def remove_contact(request: web.Request, *, deal_id: int, contact_id: int) -> DealDetail:
    await deals.remove_contact(actor=actor(request), deal_id=deal_id, contact_id=contact_id)
    return await _detail(deal_id)


@api.route(
    "POST",
    "/api/v1/deals/{deal_id}/clone",
    summary="Clone a deal",
    tag="deals",
    response=DealDetail,
    status=201,
)
async def clone_deal(request: web.Request, *, deal_id: int) -> DealDetail:
    deal = await deals.clone_deal(actor=actor(request), deal_id=deal_id)
    return await _detail(deal.id)


@api.route("DELETE", "/api/v1/deals/{deal_id}", summary="Delete a deal", tag="deals", status=204)
async def delete_deal(request: web.Request, *, deal_id: int) -> None:
    await deals.delete_deals(actor=actor(request), deal_ids=[deal_id])


@api.route(
    "POST",
    "/api/v1/deals/bulk-delete",
    summary="Delete many deals, all or nothing",
    tag="deals",
    body=BulkDelete,
    status=204,
)
async def bulk_delete_deals(request: web.Request, *, body: BulkDelete) -> None:
    await deals.delete_deals(actor=actor(request), deal_ids=body.ids)


@api.route(
    "GET",
    "/api/v1/deals/{deal_id}/booking",
    summary="The appointment behind a deal (404 when it has none)",
    tag="deals",
    response=BookingOut,
)
async def get_booking(request: web.Request, *, deal_id: int) -> BookingOut:
    booking = await bookings.get_booking(deal_id=deal_id)
    if booking is None:
        raise NotFound(f"deal {deal_id} has no booking", field="deal_id")
    return BookingOut.model_validate(booking)


@api.route(
    "PUT",
    "/api/v1/deals/{deal_id}/booking",
    summary="Set a deal's appointment by hand (Altegio deals get theirs from the sync)",
    tag="deals",
    body=BookingIn,
    response=BookingOut,
)
async def put_booking(request: web.Request, *, deal_id: int, body: BookingIn) -> BookingOut:
    values = body.model_dump()
    values["services"] = [s.model_dump(exclude_none=True) for s in body.services]
    booking = await bookings.set_booking(actor=actor(request), deal_id=deal_id, **values)
    return BookingOut.model_validate(booking)


@api.route(
    "GET",
    "/api/v1/deals/{deal_id}/timeline",
    summary="Every change of a deal: who, when, from, to",
    tag="deals",
    response=list[EventOut],
)
async def deal_timeline(request: web.Request, *, deal_id: int) -> list[EventOut]:
    return [EventOut.model_validate(e) for e in await queries.timeline(deal_id=deal_id)]


@api.route(
    "GET",
    "/api/v1/pipelines/{pipeline_id}/board",
    summary="Stages with counts, totals per currency, weighted totals and first cards",
    tag="deals",
    query=BoardQuery,
    response=BoardOut,
)
async def board(request: web.Request, *, pipeline_id: int, query: BoardQuery) -> BoardOut:
    columns = await queries.board(pipeline_id=pipeline_id, cards=query.cards)
    return BoardOut(pipeline_id=pipeline_id, columns=[ColumnOut.of(c) for c in columns])
