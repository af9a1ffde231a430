"""The list view: the deals table, sorted and filtered from the address, keyset pages,
bulk delete after a confirmation, and the filtered list as CSV."""

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from core.errors import ValidationFailed
from funnels.deals import delete_deals
from funnels.models import Deal
from funnels.pipelines import list_pipelines
from funnels.queries import MAX_PAGE, DealSort, list_deals
from web.api import ADMINS
from web.pages import deal_query
from web.pages.access import page, see_other, signed_in
from web.pages.deal_query import Shown
from web.pages.templating import render

routes = web.RouteTableDef()
LIST = "/deals/list"
PAGE_SIZE = 50
#: The CSV's columns, as a spreadsheet shows them.
CSV_HEADER = (
    "id", "title", "pipeline", "stage", "owner", "amount", "currency", "created_at",
    "close_date", "reference", "contacts",
)  # fmt: skip
#: A cell starting with one of these is a formula to a spreadsheet: a customer who names
#: themselves "=HYPERLINK(...)" must not get one into the export, so such cells get a "'".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@routes.get(LIST)
@page(ADMINS)
async def deal_list(request: web.Request) -> web.Response:
    shown = deal_query.read(request)
    found = await list_deals(
        filters=shown.filters,
        sort=shown.query.sort,
        descending=shown.query.order == "desc",
        cursor=shown.query.cursor,
        limit=PAGE_SIZE,
    )
    context: dict[str, Any] = {
        "deals": found.items,
        "next_cursor": found.next_cursor,
        "shown": shown,
        "typed": dict(request.query),
        "sorts": list(DealSort),
        "back": request.path_qs,
        **await deal_query.filter_choices(),
    }
    return render("deals/list.html", request, context, status=422 if shown.error else 200)


@routes.post(LIST + "/delete")
@page(ADMINS)
async def bulk_delete(request: web.Request) -> web.StreamResponse:
    """Delete the ticked deals, all or nothing, then show the list the form came from."""
    form = await request.post()
    raw = [str(v) for v in form.getall("ids", [])]
    if not all(v.isdigit() and len(v) < 10 for v in raw):
        raise ValidationFailed("ids must be deal ids", field="ids")
    await delete_deals(actor=signed_in(request), deal_ids=[int(v) for v in raw])
    back = str(form.get("back", LIST))
    return see_other(back if back.startswith(LIST) else LIST)


@routes.get("/deals/export.csv")
@page(ADMINS)
async def export(request: web.Request) -> web.StreamResponse:
    """Every deal of the filtered, sorted list (not only the page on screen), streamed in
    keyset pages; amounts are the exact decimals, times UTC in ISO 8601."""
    shown = deal_query.read(request)
    if shown.error is not None:
        raise shown.error
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="deals.csv"',
        }
    )
    await response.prepare(request)
    names = {p.id: p.name for p in await list_pipelines()}
    async for chunk in _csv_chunks(shown, names):
        await response.write(chunk)
    await response.write_eof()
    return response


async def _csv_chunks(shown: Shown, pipelines: dict[int, str]) -> AsyncIterator[bytes]:
    """The header, then one chunk per page of deals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    cursor: str | None = None
    while True:
        found = await list_deals(
            filters=shown.filters,
            sort=shown.query.sort,
            descending=shown.query.order == "desc",
            cursor=cursor,
            limit=MAX_PAGE,
        )
        writer.writerows(_csv_row(deal, pipelines) for deal in found.items)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        if found.next_cursor is None:
            return
        cursor = found.next_cursor


def _csv_row(deal: Deal, pipelines: dict[int, str]) -> list[str]:
    cells = [
        str(deal.id),
        deal.title,
        pipelines.get(deal.pipeline_id, ""),
        deal.stage.name,
        deal.owner.name or deal.owner.email,
        "" if deal.amount is None else f"{deal.amount:.2f}",
        deal.currency or "",
        deal.created_at.isoformat(),
        deal.close_date.isoformat() if deal.close_date else "",
        deal.reference or "",
        "; ".join(c.name for c in deal.contact_list),
    ]
    return [f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell for cell in cells]
