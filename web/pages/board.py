"""The pipeline view: a kanban column per stage, cards moved by drag and drop.

The board reads ``funnels.queries.board`` (the API's figures), narrowed by the filter
bar; a column shows its newest cards and loads the next ones when its end scrolls into
view. Moves are not made here: ``board.js`` posts them to ``POST /api/v1/deals/{id}/move``,
the one move service, then fetches the board again, as it does when the live socket
says someone else changed a deal.
"""

from typing import Any

from aiohttp import web

from core.models import User
from funnels.catalog import list_lost_reasons
from funnels.models import Deal
from funnels.pipelines import get_pipeline
from funnels.queries import attach_contacts, attach_tags, board, stage_cards
from inbox.previews import last_messages
from inbox.unread import unread_counts
from web.api import ADMINS
from web.pages import deal_query
from web.pages.access import page, signed_in
from web.pages.templating import render

routes = web.RouteTableDef()
#: Cards a column shows at first, and per "load more".
CARDS = 20
#: The cookie that remembers the pipeline last looked at, so /deals opens it again.
LAST_PIPELINE = "fbx_pipeline"
#: The board's filters: the pipeline is the board's own, a column is a stage.
BOARD_FILTERS = tuple(name for name in deal_query.FILTERS if name != "pipeline_id")


@routes.get(r"/deals/pipelines/{pipeline_id:\d{1,9}}")
@page(ADMINS)
async def pipeline_board(request: web.Request) -> web.Response:
    pipeline = await get_pipeline(pipeline_id=int(request.match_info["pipeline_id"]))
    shown = deal_query.read(request, keys=BOARD_FILTERS)
    columns = await board(pipeline_id=pipeline.id, cards=CARDS, filters=shown.filters)
    cards = [deal for column in columns for deal in column.deals]
    context: dict[str, Any] = {
        "pipeline": pipeline,
        "columns": columns,
        "shown": shown,
        "typed": dict(request.query),
        "lost_reasons": await list_lost_reasons(),
        **await _card_context(signed_in(request), cards),
        **await deal_query.filter_choices(),
    }
    response = render("deals/board.html", request, context)
    response.set_cookie(
        LAST_PIPELINE, str(pipeline.id), path="/deals", httponly=True, samesite="Strict"
    )
    return response


@routes.get(r"/deals/pipelines/{pipeline_id:\d{1,9}}/stages/{stage_id:\d{1,9}}/cards")
@page(ADMINS)
async def more_cards(request: web.Request) -> web.Response:
    """The column's next cards after ``cursor`` (what scrolling to its end fetches)."""
    pipeline = await get_pipeline(pipeline_id=int(request.match_info["pipeline_id"]))
    shown = deal_query.read(request, keys=(*BOARD_FILTERS, "cursor"))
    filters = shown.filters
    filters.pipeline_id = pipeline.id
    found = await stage_cards(
        filters=filters,
        stage_id=int(request.match_info["stage_id"]),
        cursor=shown.query.cursor,
        limit=CARDS,
    )
    await attach_contacts(found.items)
    context: dict[str, Any] = {
        "pipeline": pipeline,
        "deals": found.items,
        "next_cursor": found.next_cursor,
        "stage_id": int(request.match_info["stage_id"]),
        "shown": shown,
        **await _card_context(signed_in(request), found.items),
    }
    return render("deals/_cards.html", request, context)


async def _card_context(reader: User, deals: list[Deal]) -> dict[str, Any]:
    """What cards show beyond the deal: tags, and for a deal with a dialog its last
    message and the reader's unread count."""
    await attach_tags(deals)
    dialog_ids = [d.dialog_id for d in deals if d.dialog_id is not None]
    return {
        "previews": await last_messages(dialog_ids=dialog_ids),
        "unread": await unread_counts(reader=reader, dialog_ids=dialog_ids),
    }
