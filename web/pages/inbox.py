"""The inbox: dialog list, conversation and contact side panel, read through the services.

Opening a dialog from the list is an htmx request: it gets only the conversation and
side panel, the list stays (and keeps its scroll position).
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web

from bot.channels import list_channels
from core.auth import list_users
from core.models import User
from funnels.queries import contact_deals
from inbox import dialogs
from inbox.dialogs import Shown
from inbox.models import Author, Dialog, Direction, Message
from inbox.previews import last_messages
from inbox.unread import unread_counts
from web.api import ADMINS
from web.pages.access import page, signed_in
from web.pages.templating import CLOCK, render

routes = web.RouteTableDef()


@dataclass
class Bubble:
    """A message as the conversation shows it."""

    message: Message
    #: Who wrote it; ``None`` for the bot (the template names it in the reader's language).
    author: str | None
    day_starts: bool

    @property
    def outbound(self) -> bool:
        return self.message.direction == Direction.OUT


@routes.get("/inbox")
@page()
async def inbox(request: web.Request) -> web.Response:
    return await _render(request, dialog=None)


@routes.get("/inbox/dialogs")
@page()
async def dialog_list(request: web.Request) -> web.Response:
    """The dialog list alone: what the live socket and the filter tabs fetch again."""
    open_id = request.query.get("open", "")
    context = await _list_context(request)
    context["dialog"] = {"id": int(open_id)} if open_id.isdigit() else None  # marked current
    response = render("inbox/_dialogs.html", request, context)
    if request.query.get("push"):  # a filter tab: the address says which list is shown
        shown = context["shown"]
        where = f"/inbox/{open_id}" if open_id.isdigit() else "/inbox"
        response.headers["HX-Push-Url"] = where if shown == Shown.ALL else f"{where}?filter={shown}"
    return response


@routes.get(r"/inbox/{dialog_id:\d{1,18}}/assignment")
@page()
async def assignment(request: web.Request) -> web.Response:
    """The conversation header's assignment control alone, fetched again when it changes."""
    dialog = await dialogs.get_dialog(dialog_id=int(request.match_info["dialog_id"]))
    return render("inbox/_assignment.html", request, await _assignment_context(request, dialog))


@routes.get(r"/inbox/{dialog_id:\d{1,18}}")
@page()
async def conversation(request: web.Request) -> web.Response:
    dialog = await dialogs.get_dialog(dialog_id=int(request.match_info["dialog_id"]))
    return await _render(request, dialog=dialog)


async def _render(request: web.Request, *, dialog: Dialog | None) -> web.Response:
    channels = {c.id: c for c in await list_channels()}
    context: dict[str, Any] = {"dialog": dialog, "channels": channels, "bubbles": []}
    if dialog is not None:
        context["bubbles"] = await _bubbles(request, dialog)
        context["channel"] = channels[dialog.channel_id]  # type: ignore[attr-defined]
        context |= await _assignment_context(request, dialog)
        if signed_in(request).role in ADMINS:  # Deals are for owners and admins only
            context["deals"], _ = await contact_deals(contact_id=dialog.contact.id)
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        return render("inbox/_conversation.html", request, context)
    context |= await _list_context(request)
    return render("inbox/page.html", request, context)


def _shown(request: web.Request) -> Shown:
    """The list's filter tab from ``?filter=`` (all when absent or unknown)."""
    try:
        return Shown(request.query.get("filter", Shown.ALL))
    except ValueError:
        return Shown.ALL


async def _list_context(request: web.Request) -> dict[str, Any]:
    reader, shown = signed_in(request), _shown(request)
    found = await dialogs.list_dialogs(shown=shown, reader_id=reader.id)
    ids = [d.id for d in found]
    return {
        "dialogs": found,
        "shown": shown.value,
        "unread": await unread_counts(reader=reader, dialog_ids=ids),
        "previews": await last_messages(dialog_ids=ids),
        "channels": {c.id: c for c in await list_channels()},
    }


async def _assignment_context(request: web.Request, dialog: Dialog) -> dict[str, Any]:
    """Who has the dialog and whom the reader may give it to (owners and admins: anyone)."""
    reader = signed_in(request)
    staff = [u for u in await list_users() if u.is_active]
    assignee_id = dialog.assignee_id  # type: ignore[attr-defined]
    return {
        "dialog": dialog,
        "assignee": next((u for u in staff if u.id == assignee_id), None),
        "assignable": staff if reader.role in ADMINS else [],
    }


async def _bubbles(request: web.Request, dialog: Dialog) -> list[Bubble]:
    """The dialog's latest messages, each marked where a new day begins in the reader's zone."""
    clock = request.app[CLOCK]
    messages = await dialogs.list_messages(dialog_id=dialog.id)
    staff = {u.id: u for u in await list_users()}
    bubbles, previous_day = [], None
    for message in messages:
        day: date = clock.local_date(message.created_at)
        author = _author(message, dialog, staff)
        bubbles.append(Bubble(message, author, day != previous_day))
        previous_day = day
    return bubbles


def _author(message: Message, dialog: Dialog, staff: dict[int, User]) -> str | None:
    """The customer's name, the operator's name (or e-mail), or ``None`` for the bot."""
    if message.author == Author.CUSTOMER:
        return dialog.contact.name
    user = staff.get(message.author_user_id)  # type: ignore[attr-defined]
    return (user.name or user.email) if user is not None else None
