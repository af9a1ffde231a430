"""Read side of the funnels: the deal list (keyset pages), the board and contact deals.

Pages are keyset-paginated on (sort column, id), so page 1,000 costs what page 1
costs. Nullable sort columns (close date, amount) keep their empty values last in
either direction: a page first walks the filled rows, then the empty ones by id.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tortoise.expressions import Q, RawSQL
from tortoise.queryset import QuerySet

from core import cursors
from core.errors import NotFound, ValidationFailed
from core.models import Event
from funnels.models import Deal, DealContact, DealFieldValue, Stage, StageKind, Tag
from funnels.pipelines import get_pipeline, list_stages
from inbox.models import Contact

MAX_PAGE = 200
#: COUNT(*), not COUNT(id): the board's totals then read only columns of the deal_board
#: index (pipeline, stage, currency, amount), which PostgreSQL scans index-only.
COUNT_ALL = RawSQL("COUNT(*)")
#: PostgreSQL sums NUMERIC exactly.
SUM_NUMERIC = RawSQL("SUM(amount)")
#: SQLite keeps a decimal as text ("9999999999999999.99") and has no exact decimal sum:
#: its REAL arithmetic rounds past 2**53 and its integer SUM overflows past 2**63. So the
#: text is cut into integers that stay small -- whole units above and below 10**8, and the
#: cents -- summed apart (in range for 90 billion deals) and put together in Python.
SUM_WHOLE_HIGH = RawSQL("SUM(CAST(amount AS INTEGER) / 100000000)")
SUM_WHOLE_LOW = RawSQL("SUM(CAST(amount AS INTEGER) % 100000000)")
SUM_CENTS = RawSQL(
    "SUM(CASE WHEN instr(amount, '.') > 0"
    " THEN CAST(substr(amount || '0', instr(amount, '.') + 1, 2) AS INTEGER) ELSE 0 END)"
)


class DealSort(StrEnum):
    """Columns the deal list sorts by (the guide: name, stage, dates and amount)."""

    TITLE = "title"
    STAGE = "stage"
    CREATED_AT = "created_at"
    CLOSE_DATE = "close_date"
    AMOUNT = "amount"


@dataclass(frozen=True)
class _SortSpec:
    column: str
    parse: Callable[[Any], Any]
    read: Callable[[Deal], Any]
    nullable: bool = False


_SORTS = {
    DealSort.TITLE: _SortSpec("title", str, lambda d: d.title),
    DealSort.STAGE: _SortSpec("stage__position", int, lambda d: d.stage.position),
    DealSort.CREATED_AT: _SortSpec("created_at", datetime.fromisoformat, lambda d: d.created_at),
    DealSort.CLOSE_DATE: _SortSpec("close_date", date.fromisoformat, lambda d: d.close_date, True),
    DealSort.AMOUNT: _SortSpec("amount", Decimal, lambda d: d.amount, True),
}


@dataclass
class DealFilter:
    """What the deal list and the board can be narrowed to (the guide's filter bar, plus
    reference and a tag)."""

    title: str | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    reference: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    close_from: date | None = None
    close_to: date | None = None
    tag_id: int | None = None

    def apply(self, query: QuerySet[Deal]) -> QuerySet[Deal]:
        """Narrow ``query``; date ranges are inclusive whole days in UTC."""
        exact = {
            "pipeline_id": self.pipeline_id,
            "stage_id": self.stage_id,
            "owner_id": self.owner_id,
            "reference": self.reference,
            "tags__id": self.tag_id,
        }
        query = query.filter(**{k: v for k, v in exact.items() if v is not None})
        if self.title:
            query = query.filter(title__icontains=self.title)
        if self.created_from:
            query = query.filter(created_at__gte=_day_start(self.created_from))
        if self.created_to:
            query = query.filter(created_at__lt=_day_start(self.created_to, next_day=True))
        if self.close_from:
            query = query.filter(close_date__gte=self.close_from)
        if self.close_to:
            query = query.filter(close_date__lte=self.close_to)
        return query


@dataclass
class DealPage:
    """One page of deals and the cursor of the next one (``None`` on the last page)."""

    items: list[Deal]
    next_cursor: str | None


async def list_deals(
    *,
    filters: DealFilter | None = None,
    sort: DealSort = DealSort.CREATED_AT,
    descending: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> DealPage:
    """A page of deals, sorted and filtered, with stage, owner and contacts loaded."""
    page = await _select_page(filters or DealFilter(), sort, descending, cursor, limit)
    await attach_contacts(page.items)
    return page


async def _select_page(
    filters: DealFilter, sort: DealSort, descending: bool, cursor: str | None, limit: int
) -> DealPage:
    """The page's deals with stage and owner, contacts not yet attached."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    spec = _SORTS[sort]
    after = cursors.decode(cursor, spec.parse) if cursor else None
    items = await _page(filters.apply(Deal.all()), spec, descending, after, limit + 1)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = cursors.encode(spec.read(last), last.id)
    return DealPage(items=items, next_cursor=next_cursor)


async def _page(
    base: QuerySet[Deal],
    spec: _SortSpec,
    descending: bool,
    after: tuple[Any, int] | None,
    limit: int,
) -> list[Deal]:
    sign = "-" if descending else ""
    op = "lt" if descending else "gt"
    order = (f"{sign}{spec.column}", f"{sign}id")
    rows: list[Deal] = []
    if after is None or after[0] is not None:
        filled = base.filter(**{f"{spec.column}__isnull": False}) if spec.nullable else base
        if after is not None:
            value, last_id = after
            # The OR alone is no index condition, so the scan would start at the top and
            # filter every row before the cursor; the plain bound lets it start there.
            filled = filled.filter(**{f"{spec.column}__{op}e": value}).filter(
                Q(**{f"{spec.column}__{op}": value})
                | Q(**{spec.column: value, f"id__{op}": last_id})
            )
        rows = await _load(filled.order_by(*order).limit(limit))
    if spec.nullable and len(rows) < limit:
        empty = base.filter(**{f"{spec.column}__isnull": True})
        if after is not None and after[0] is None:
            empty = empty.filter(**{f"id__{op}": after[1]})
        rows += await _load(empty.order_by(f"{sign}id").limit(limit - len(rows)))
    return rows


async def _load(query: QuerySet[Deal]) -> list[Deal]:
    return await query.select_related("stage", "owner")


async def attach_tags(deals: list[Deal]) -> None:
    """Give each deal a ``tag_list`` (by name), with one query for all of them."""
    by_deal: dict[int, list[Tag]] = {d.id: [] for d in deals}
    rows = await Tag.filter(deals__id__in=list(by_deal)).values_list(
        "deals__id", "id", "name", "color"
    )
    for deal_id, tag_id, name, color in rows:
        by_deal[deal_id].append(Tag(id=tag_id, name=name, color=color))
    for deal in deals:
        deal.tag_list = by_deal[deal.id]


async def attach_contacts(deals: list[Deal]) -> None:
    """Give each deal a ``contact_list`` in deal order, with one query for all of them."""
    by_deal: dict[int, list[Contact]] = {d.id: [] for d in deals}
    links = (
        await DealContact.filter(deal_id__in=list(by_deal))
        .select_related("contact")
        .order_by("position", "id")
    )
    for link in links:
        by_deal[link.deal_id].append(link.contact)
    for deal in deals:
        deal.contact_list = by_deal[deal.id]


def _day_start(day: date, *, next_day: bool = False) -> datetime:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if next_day else start


@dataclass
class CurrencyTotal:
    """Money in one currency: never added to another currency."""

    currency: str
    amount: Decimal
    weighted: Decimal


@dataclass
class StageColumn:
    """One column of the board: its totals and first cards."""

    stage: Stage
    count: int = 0
    totals: list[CurrencyTotal] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    next_cursor: str | None = None


async def board(
    *, pipeline_id: int, cards: int = 20, filters: DealFilter | None = None
) -> list[StageColumn]:
    """Every stage of a pipeline with its deal count, per-currency total and weighted
    total (amount x probability), and its newest ``cards`` deals; ``filters`` narrow the
    deals counted and shown (the pipeline stays this one)."""
    filters = replace(filters or DealFilter(), pipeline_id=pipeline_id)
    if not 0 <= cards <= MAX_PAGE:
        raise ValidationFailed(f"cards must be between 0 and {MAX_PAGE}", field="cards")
    await get_pipeline(pipeline_id=pipeline_id)
    columns = {s.id: StageColumn(stage=s) for s in await list_stages(pipeline_id=pipeline_id)}
    for row in await _stage_sums(filters):
        column = columns[row["stage_id"]]
        column.count += row["n"]
        if row["currency"] is not None and row["amount"] is not None:
            amount = row["amount"].quantize(Decimal("0.01"))
            weighted = (amount * column.stage.probability / 100).quantize(Decimal("0.01"))
            column.totals.append(CurrencyTotal(row["currency"], amount, weighted))
    for column in columns.values():
        column.totals.sort(key=lambda t: t.currency)
        if cards and column.count:
            page = await stage_cards(
                filters=filters, stage_id=column.stage.id, cursor=None, limit=cards
            )
            column.deals, column.next_cursor = page.items, page.next_cursor
    await attach_contacts([deal for column in columns.values() for deal in column.deals])
    return list(columns.values())


async def stage_cards(
    *, filters: DealFilter, stage_id: int, cursor: str | None, limit: int = 20
) -> DealPage:
    """A board column's cards, newest first, after ``cursor``: what scrolling a column
    to its end loads. Contacts are attached by the caller, once for every column."""
    narrowed = replace(filters, stage_id=stage_id)
    return await _select_page(narrowed, DealSort.CREATED_AT, True, cursor, limit)


async def _stage_sums(filters: DealFilter) -> list[dict[str, Any]]:
    """Per stage and currency: the deal count ``n`` and the exact total ``amount``."""
    query = filters.apply(Deal.all()).group_by("stage_id", "currency")
    if Deal._meta.db.capabilities.dialect == "postgres":
        rows = await query.annotate(n=COUNT_ALL, total=SUM_NUMERIC).values(
            "stage_id", "currency", "n", "total"
        )
        return [{**row, "amount": _decimal(row["total"])} for row in rows]
    parts = {"high": SUM_WHOLE_HIGH, "low": SUM_WHOLE_LOW, "cents": SUM_CENTS}
    rows = await query.annotate(n=COUNT_ALL, **parts).values("stage_id", "currency", "n", *parts)
    return [{**row, "amount": _from_parts(row)} for row in rows]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _from_parts(row: dict[str, Any]) -> Decimal | None:
    """SQLite's three integer sums (see ``SUM_WHOLE_HIGH``) as one exact total."""
    if row["high"] is None:
        return None
    whole = int(row["high"]) * 10**8 + int(row["low"])
    return Decimal(whole) + Decimal(int(row["cents"])) / 100


async def contact_deals(*, contact_id: int) -> tuple[list[Deal], list[Deal]]:
    """A contact's open deals and closed (won or lost) deals, newest first."""
    deals = await _load(
        Deal.filter(deal_contacts__contact_id=contact_id).order_by("-created_at", "-id")
    )
    await attach_contacts(deals)
    open_deals = [d for d in deals if d.stage.kind == StageKind.OPEN]
    return open_deals, [d for d in deals if d.stage.kind != StageKind.OPEN]


@dataclass
class DealView:
    """A deal with everything its page shows."""

    deal: Deal
    tags: list[Tag]
    values: list[DealFieldValue]


async def deal_detail(*, deal_id: int) -> DealView:
    """One deal with stage, owner, contacts, tags and custom field values loaded."""
    deal = await Deal.get_or_none(id=deal_id).select_related("stage", "owner")
    if deal is None:
        raise NotFound(f"deal {deal_id} does not exist", field="deal_id")
    await attach_contacts([deal])
    values = await DealFieldValue.filter(deal_id=deal_id).select_related("field")
    return DealView(deal=deal, tags=list(await deal.tags.all()), values=values)


async def timeline(*, deal_id: int) -> list[Event]:
    """A deal's events, oldest first; still readable after the deal was deleted."""
    events = await Event.filter(deal_id=deal_id).order_by("id")
    if not events:
        raise NotFound(f"deal {deal_id} does not exist", field="deal_id")
    return events
