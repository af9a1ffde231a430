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
from inbox.models import Author, Dialog, Direction, Message
from inbox.previews import last_messages
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
    """The dialog list alone: what the live socket makes the page fetch again."""
    open_id = request.query.get("open", "")
    context = await _list_context()
    context["dialog"] = {"id": int(open_id)} if open_id.isdigit() else None  # marked current
    return render("inbox/_dialogs.html", request, context)


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
        context["channel"] = channels[dialog.channel_id]
        if signed_in(request).role in ADMINS:  # Deals are for owners and admins only
            context["deals"], _ = await contact_deals(contact_id=dialog.contact.id)
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        return render("inbox/_conversation.html", request, context)
    context |= await _list_context()
    return render("inbox/page.html", request, context)


async def _list_context() -> dict[str, Any]:
    found = await dialogs.list_dialogs()
    return {
        "dialogs": found,
        "previews": await last_messages(dialog_ids=[d.id for d in found]),
        "channels": {c.id: c for c in await list_channels()},
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
    if message.author_user_id is None:  # the bot, or a user deleted since
        return None
    user = staff.get(message.author_user_id)
    return (user.name or user.email) if user is not None else None
