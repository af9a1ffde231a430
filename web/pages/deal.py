"""The deal page (``/deals/{id}``) and the Create deal form (``/deals/new``), for owners
and admins.

Left, one fragment (``deal/_details.html``): the deal's contacts, its form, tasks and
timeline. Every action on them (save, add, create or remove a contact, add or complete a
task) posts through htmx and gets the fragment back, drawn again from the database, or
with the refusal under the field it names (its 4xx status, the typed values kept). Right: the chat
with the selected contact, the inbox's conversation component, reply box included.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from core.auth import list_users
from core.errors import DomainError
from funnels import bookings, deals, queries
from funnels.catalog import list_custom_fields, list_lost_reasons, list_tags
from funnels.pipelines import list_pipelines
from funnels.queries import DealView
from inbox import dialogs
from inbox import service as contacts
from inbox.models import Contact, Dialog
from triggers import tasks
from web.api import ADMINS
from web.keys import SETTINGS
from web.middleware import status_of
from web.pages import deal_form
from web.pages.access import page, redirect, see_other, signed_in
from web.pages.deal_timeline import Names, entries
from web.pages.inbox import conversation_context
from web.pages.templating import CLOCK, render

routes = web.RouteTableDef()
DEAL = r"/deals/{deal_id:\d{1,9}}"
#: The task service's field names as the task form names its inputs.
TASK_FIELDS = {"title": "task_title", "due_at": "task_due", "assignee_id": "task_assignee_id"}


def _deal_id(request: web.Request) -> int:
    return int(request.match_info["deal_id"])


@routes.get("/deals/new")
@page(ADMINS)
async def new_deal(request: web.Request) -> web.Response:
    """The empty form; ``?pipeline_id=`` picks the pipeline, ``?contact_id=`` links the
    contact and names the deal after them."""
    query = request.query
    values: dict[str, Any] = {"owner_id": str(signed_in(request).id), "tag_ids": set()}
    if query.get("pipeline_id", "").isdigit():
        values["pipeline_id"] = query["pipeline_id"]
    chosen: list[Contact] = []
    if query.get("contact_id", "").isdigit():
        chosen = [await contacts.get_contact(contact_id=int(query["contact_id"]))]
        values["title"] = chosen[0].name
    return await _new_form(request, values, chosen)


@routes.post("/deals/new")
@page(ADMINS)
async def create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = deal_form.submitted(form)
    try:
        fields = deal_form.deal_fields(form, await list_custom_fields())
        place = deal_form.placement(form, await list_pipelines())
        deal = await deals.create_deal(
            actor=signed_in(request), contact_ids=values["contact_ids"], **place, **fields
        )
    except DomainError as exc:
        chosen = await _contacts(values["contact_ids"])
        return await _new_form(request, values, chosen, error=exc)
    return see_other(f"/deals/{deal.id}")


async def _contacts(ids: list[int]) -> list[Contact]:
    """The chosen contacts that still exist, in the order chosen."""
    found = []
    for contact_id in dict.fromkeys(ids):
        try:
            found.append(await contacts.get_contact(contact_id=contact_id))
        except DomainError:
            continue
    return found


async def _new_form(
    request: web.Request,
    values: dict[str, Any],
    chosen: list[Contact],
    error: DomainError | None = None,
) -> web.Response:
    context = await _choices()
    context |= {"values": values, "chosen": chosen, "error": error}
    return render("deal/new.html", request, context, status=status_of(error) if error else 200)


async def _choices() -> dict[str, Any]:
    """What the form's selects and checkboxes offer (``users``: deactivated ones too, who
    still name what they did in the timeline)."""
    users = await list_users()
    return {
        "users": users,
        "pipelines": await list_pipelines(),
        "owners": [u for u in users if u.is_active],
        "custom_fields": await list_custom_fields(),
        "tags": await list_tags(),
        "lost_reasons": await list_lost_reasons(),
    }


@routes.get(DEAL)
@page(ADMINS)
async def deal_page(request: web.Request) -> web.Response:
    view = await queries.deal_detail(deal_id=_deal_id(request))
    context = await _details_context(request, view)
    context |= await _chat_context(request, view)
    return render("deal/page.html", request, context)


@routes.get(DEAL + "/chat")
@page(ADMINS)
async def chat(request: web.Request) -> web.Response:
    """The right column alone: picking another contact (or channel) swaps it."""
    view = await queries.deal_detail(deal_id=_deal_id(request))
    return render("deal/_chat.html", request, await _chat_context(request, view))


@routes.post(DEAL)
@page(ADMINS)
async def save(request: web.Request) -> web.Response:
    """The form's Save: fields and stage in one change, or nothing and the reason."""
    deal_id, form = _deal_id(request), await request.post()
    try:
        fields = deal_form.deal_fields(form, await list_custom_fields())
        place = deal_form.placement(form, await list_pipelines())
        await deals.edit_deal(
            actor=signed_in(request),
            deal_id=deal_id,
            stage_id=place["stage_id"],
            lost_reason_id=place["lost_reason_id"],
            **fields,
        )
    except DomainError as exc:
        return await _details(request, deal_id, error=exc, values=deal_form.submitted(form))
    return await _details(request, deal_id, saved=True)


@routes.post(DEAL + "/contacts")
@page(ADMINS)
async def add_contact(request: web.Request) -> web.Response:
    """Link a contact found by the picker, or one created here (``name``, ``phone``,
    ``email``) in the same change, so a refused link leaves no stray contact."""
    deal_id, form, actor = _deal_id(request), await request.post(), signed_in(request)
    try:
        contact_id = deal_form.number(form, "contact_id")
        if contact_id is None:
            contact_id = await _create_contact(request, form)
        await deals.add_contact(actor=actor, deal_id=deal_id, contact_id=contact_id)
    except DomainError as exc:
        return await _details(request, deal_id, error=exc, values=deal_form.submitted(form))
    return await _details(request, deal_id)


async def _create_contact(request: web.Request, form: deal_form.Form) -> int:
    contact = await contacts.create_contact(
        actor=signed_in(request),
        name=deal_form.text(form, "name"),
        phone=deal_form.text(form, "phone") or None,
        email=deal_form.text(form, "email") or None,
        region=request.app[SETTINGS].phone_region,
    )
    return contact.id


@routes.post(DEAL + r"/contacts/{contact_id:\d{1,9}}/remove")
@page(ADMINS)
async def remove_contact(request: web.Request) -> web.Response:
    deal_id, contact_id = _deal_id(request), int(request.match_info["contact_id"])
    try:
        await deals.remove_contact(actor=signed_in(request), deal_id=deal_id, contact_id=contact_id)
    except DomainError as exc:
        return await _details(request, deal_id, error=exc)
    return await _details(request, deal_id)


@routes.post(DEAL + "/tasks")
@page(ADMINS)
async def add_task(request: web.Request) -> web.Response:
    deal_id, form = _deal_id(request), await request.post()
    try:
        await tasks.create_task(
            actor=signed_in(request),
            deal_id=deal_id,
            title=deal_form.text(form, "task_title"),
            due_at=deal_form.moment(form, "task_due", request.app[CLOCK].zone),
            assignee_id=deal_form.number(form, "task_assignee_id"),
        )
    except DomainError as exc:
        exc.field = TASK_FIELDS.get(exc.field or "", exc.field)
        return await _details(request, deal_id, error=exc, values=deal_form.submitted(form))
    return await _details(request, deal_id)


@routes.post(DEAL + r"/tasks/{task_id:\d{1,9}}/complete")
@page(ADMINS)
async def complete_task(request: web.Request) -> web.Response:
    deal_id, task_id = _deal_id(request), int(request.match_info["task_id"])
    await tasks.complete_task(actor=signed_in(request), task_id=task_id)
    return await _details(request, deal_id)


@routes.post(DEAL + "/clone")
@page(ADMINS)
async def clone(request: web.Request) -> web.StreamResponse:
    copy = await deals.clone_deal(actor=signed_in(request), deal_id=_deal_id(request))
    return redirect(request, f"/deals/{copy.id}")


@routes.post(DEAL + "/delete")
@page(ADMINS)
async def delete(request: web.Request) -> web.StreamResponse:
    await deals.delete_deals(actor=signed_in(request), deal_ids=[_deal_id(request)])
    return redirect(request, "/deals")


async def _details(
    request: web.Request,
    deal_id: int,
    *,
    error: DomainError | None = None,
    values: dict[str, Any] | None = None,
    saved: bool = False,
) -> web.Response:
    """The left column drawn again; a refusal keeps what was typed."""
    view = await queries.deal_detail(deal_id=deal_id)
    context = await _details_context(request, view, typed=values if error else None)
    context |= {"error": error, "saved": saved}
    return render("deal/_details.html", request, context, status=status_of(error) if error else 200)


async def _details_context(
    request: web.Request, view: DealView, *, typed: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The left column: the deal, what its form offers and shows (``typed`` over the
    deal's own values after a refusal), its booking, tasks and timeline."""
    deal, now = view.deal, datetime.now(UTC)
    tomorrow = request.app[CLOCK].local(now + timedelta(days=1))
    values = {"task_due": tomorrow.replace(hour=10, minute=0).strftime("%Y-%m-%dT%H:%M")}
    values |= _values(view) | (typed or {})
    context = await _choices()
    names = Names.of(context["users"], context["pipelines"], context["lost_reasons"])
    auto = []
    if deal.dialog_id is not None:
        auto = await dialogs.list_bot_messages(dialog_id=deal.dialog_id, since=deal.created_at)
    return context | {
        "view": view,
        "deal": deal,
        "values": values,
        "now": now,
        "error": None,
        "saved": False,
        "booking": await bookings.get_booking(deal_id=deal.id),
        "tasks": await tasks.list_tasks(actor=signed_in(request), deal_id=deal.id),
        "timeline": entries(await queries.timeline(deal_id=deal.id), auto, names),
        "me": signed_in(request),
    }


def _values(view: DealView) -> dict[str, Any]:
    """The form's fields as the deal has them now."""
    deal = view.deal
    values: dict[str, Any] = {
        "title": deal.title,
        "pipeline_id": str(deal.pipeline_id),
        "stage_id": str(deal.stage_id),
        "owner_id": str(deal.owner_id),
        "amount": "" if deal.amount is None else f"{deal.amount:f}",
        "currency": deal.currency or "",
        "close_date": deal.close_date.isoformat() if deal.close_date else "",
        "reference": deal.reference or "",
        "lost_reason_id": str(deal.lost_reason_id or ""),
        "tag_ids": {t.id for t in view.tags},
    }
    for value in view.values:
        shown = value.value
        values[f"fields.{value.field_id}"] = shown.isoformat() if isinstance(shown, date) else shown
    return values


async def _chat_context(request: web.Request, view: DealView) -> dict[str, Any]:
    """The chat of ``?contact_id=`` (else the contact whose dialog made the deal, else the
    first), on ``?dialog_id=`` when that contact writes on several channels."""
    deal, query = view.deal, request.query
    if not deal.contact_list:  # its contacts were deleted since
        return {"deal": deal, "chat_contact": None, "chat_dialogs": [], "dialog": None}
    contact = _chosen(deal.contact_list, query.get("contact_id", ""))
    if deal.dialog_id is not None and "contact_id" not in query:
        source = await dialogs.get_dialog(dialog_id=deal.dialog_id)
        contact = next((c for c in deal.contact_list if c.id == source.contact_id), contact)
    found = await dialogs.list_contact_dialogs(contact_id=contact.id)
    wanted = query.get("dialog_id", "")
    dialog = next((d for d in found if str(d.id) == wanted), None) or _preferred(found, deal)
    context: dict[str, Any] = {
        "deal": deal,
        "chat_contact": contact,
        "chat_dialogs": found,
        "dialog": dialog,
    }
    if dialog is not None:
        context |= await conversation_context(request, dialog)
        context["chat_only"] = True
        context["reload_url"] = (
            f"/deals/{deal.id}/chat?contact_id={contact.id}&dialog_id={dialog.id}"
        )
    return context


def _chosen(contact_list: list[Contact], wanted: str) -> Contact:
    return next((c for c in contact_list if str(c.id) == wanted), contact_list[0])


def _preferred(found: list[Dialog], deal: Any) -> Dialog | None:
    """The deal's own dialog when it is this contact's, else their latest."""
    return next((d for d in found if d.id == deal.dialog_id), found[0] if found else None)
