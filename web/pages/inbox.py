"""The inbox: dialog list, conversation and contact side panel, read through the services.

Opening a dialog from the list is an htmx request: it gets only the conversation and
side panel, the list stays (and keeps its scroll position).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from bot.channels import list_channels
from core.auth import list_users
from core.models import User
from funnels.queries import contact_deals
from inbox import dialogs
from inbox.models import Author, Dialog, Direction, Message
from inbox.previews import last_messages
from triggers import tasks
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

    @property
    def note(self) -> bool:
        return self.message.direction == Direction.NOTE


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
        context["channel"] = channels[dialog.channel_id]  # type: ignore[attr-defined]
        context |= await _panel_context(signed_in(request), dialog)
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        return render("inbox/_conversation.html", request, context)
    context |= await _list_context()
    return render("inbox/page.html", request, context)


async def _panel_context(user: User, dialog: Dialog) -> dict[str, Any]:
    """The side panel: the contact's channel identities, their deals' open tasks (an
    operator's own only) and, for owners and admins, their open deals."""
    contact_id = dialog.contact.id
    context: dict[str, Any] = {
        "identities": await dialogs.list_identities(contact_id=contact_id),
        "tasks": await tasks.list_tasks(actor=user, contact_id=contact_id, open_only=True),
        "now": datetime.now(UTC),
    }
    if user.role in ADMINS:  # Deals are for owners and admins only
        context["deals"], _ = await contact_deals(contact_id=contact_id)
    return context


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
    user = staff.get(message.author_user_id)  # type: ignore[attr-defined]
    return (user.name or user.email) if user is not None else None
