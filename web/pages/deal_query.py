"""What the deals pages show, read from the address: filters, sort and page.

The board and the list keep their filters (and the list its sort) in the query string,
so a view can be bookmarked and shared. They are read with the API's own ``DealQuery``,
so a page and ``GET /api/v1/deals`` accept exactly the same values; empty form fields
mean "no filter".
"""

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from aiohttp import web

from core.auth import list_users
from core.errors import ValidationFailed
from core.storable import checked_text
from funnels.catalog import list_tags
from funnels.pipelines import list_pipelines
from funnels.queries import DealFilter
from web.api import parse_input
from web.schemas import DealQuery

#: The filter bar's fields, in the order of the form.
FILTERS = (
    "title",
    "pipeline_id",
    "owner_id",
    "tag_id",
    "reference",
    "created_from",
    "created_to",
    "close_from",
    "close_to",
)
#: What the address may carry besides the filters.
PAGING = ("sort", "order", "cursor")


@dataclass
class Shown:
    """The query of a deals page, or the error of a query that could not be read."""

    query: DealQuery
    error: ValidationFailed | None = None

    @property
    def filters(self) -> DealFilter:
        """The deals the page is narrowed to."""
        return DealFilter(**self.query.model_dump(include=set(FILTERS)))

    @property
    def filtered(self) -> bool:
        return any(getattr(self.query, name) is not None for name in FILTERS)

    def address(self, path: str, **changes: Any) -> str:
        """``path`` with this page's filters and sort, some changed (``None`` drops one)."""
        values = self.query.model_dump(include=set(FILTERS + PAGING), mode="json")
        values.update(changes)
        defaults = {"sort": "created_at", "order": "asc"}
        kept = {k: v for k, v in values.items() if v is not None and defaults.get(k) != v}
        return f"{path}?{urlencode(kept)}" if kept else path


def read(request: web.Request, *, keys: tuple[str, ...] = FILTERS + PAGING) -> Shown:
    """The page's query from the address; a value that does not parse is reported and
    the page is shown unfiltered (the form keeps what was typed)."""
    values = {k: v.strip() for k, v in request.query.items() if k in keys and v.strip()}
    try:
        query = parse_input(DealQuery, checked_text(values), location="query")
    except ValidationFailed as exc:
        return Shown(DealQuery(), exc)
    return Shown(cast(DealQuery, query))


async def filter_choices() -> dict[str, Any]:
    """What the filter bar's selects offer: pipelines, people who can own deals, tags."""
    users = [u for u in await list_users() if u.is_active]
    return {"pipelines": await list_pipelines(), "owners": users, "tags": await list_tags()}
