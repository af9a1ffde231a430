"""Deals, for owners and admins: the first visit asks for a pipeline, later visits open
the pipeline last looked at; ``/deals/pipelines`` lists them and makes new ones."""

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from core.errors import DomainError, ValidationFailed
from funnels.pipeline_setup import create_pipeline_with_stages
from funnels.pipelines import list_pipelines
from web.api import ADMINS
from web.pages.access import page, see_other, signed_in
from web.pages.board import LAST_PIPELINE
from web.pages.templating import render

routes = web.RouteTableDef()
#: What the first-visit form suggests; every row can be changed or emptied.
SUGGESTED_STAGES = [("New", 10), ("Qualified", 30), ("Proposal", 60), ("", "")]
NEW_FORM = {"name": "", "stages": SUGGESTED_STAGES}


@routes.get("/deals")
@page(ADMINS)
async def deals(request: web.Request) -> web.StreamResponse:
    """The prompt while there is no pipeline; then the board last looked at (else the first)."""
    pipelines = await list_pipelines()
    if not pipelines:
        return await _render(request, form=NEW_FORM)
    last = request.cookies.get(LAST_PIPELINE, "")
    chosen = next((p for p in pipelines if str(p.id) == last), pipelines[0])
    return see_other(f"/deals/pipelines/{chosen.id}")


@routes.get("/deals/pipelines")
@page(ADMINS)
async def pipeline_list(request: web.Request) -> web.Response:
    return await _render(request, form=NEW_FORM)


@routes.post("/deals/pipelines")
@page(ADMINS)
async def create(request: web.Request) -> web.StreamResponse:
    """Create the pipeline the form describes; a refusal shows inline, next to its field."""
    form = await request.post()
    name = str(form.get("name", ""))
    rows = _rows(form)
    try:
        stages = [(stage, _probability(raw)) for stage, raw in rows if stage.strip()]
        pipeline = await create_pipeline_with_stages(
            actor=signed_in(request), name=name, stages=stages
        )
    except DomainError as exc:
        error = {"field": exc.field, "message": exc.message}
        return await _render(request, form={"name": name, "stages": rows}, error=error)
    return see_other(f"/deals/pipelines/{pipeline.id}")


async def _render(
    request: web.Request, *, form: dict[str, Any], error: dict[str, Any] | None = None
) -> web.Response:
    context = {"pipelines": await list_pipelines(), "form": form, "error": error}
    return render("deals/index.html", request, context, status=422 if error else 200)


def _rows(form: MultiDictProxy[Any]) -> list[tuple[str, str]]:
    names = [str(v) for v in form.getall("stage_name", [])]
    probabilities = [str(v) for v in form.getall("stage_probability", [])]
    return list(zip(names, probabilities + [""] * (len(names) - len(probabilities)), strict=True))


def _probability(raw: str) -> int:
    try:
        return int(raw.strip() or "0")
    except ValueError:
        raise ValidationFailed(
            f"probability must be a whole number from 0 to 100, not {raw!r}", field="probability"
        ) from None
