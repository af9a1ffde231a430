"""The inbox: dialog list, conversation and contact side panel, read through the services.

Opening a dialog from the list is an htmx request: it gets only the conversation and
side panel, the list stays (and keeps its scroll position). The list loads its next page
when its last item scrolls into view, and a search (``?q=``) narrows it; a conversation
shows its newest messages and loads older ones above on request.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from bot.channels import list_channels
from core.auth import list_users
from core.errors import ValidationFailed
from core.models import User
from funnels.queries import contact_deals
from inbox import dialog_list, dialogs
from inbox.attachments import LIMITS
from inbox.dialog_list import Shown
from inbox.models import Author, Dialog, Direction, Message
from inbox.previews import last_messages
from inbox.unread import unread_counts
from triggers import tasks
from web.api import ADMINS
from web.pages.access import page, signed_in
from web.pages.templating import CLOCK, render
from web.pages.window import window_context

routes = web.RouteTableDef()
#: Messages a conversation shows at first, and per "earlier messages".
HISTORY_PAGE = 50


@dataclass
class Bubble:
    """A message as the conversation shows it."""

    message: Message
    #: Who wrote it; ``None`` for the bot (the template names it in the reader's language).
    author: str | None
    day_starts: bool
    #: The reader's calendar day: loading older messages drops a repeated day separator.
    day: date

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
async def dialogs_fragment(request: web.Request) -> web.Response:
    """The dialog list alone (what the live socket, the search and the filter tabs fetch),
    or with a ``cursor`` only the next page's items (what scrolling to the end fetches)."""
    open_id = request.query.get("open", "")
    context = await _list_context(request)
    context["dialog"] = {"id": int(open_id)} if open_id.isdigit() else None  # marked current
    more = "cursor" in request.query
    response = render(
        "inbox/_dialog_items.html" if more else "inbox/_dialogs.html", request, context
    )
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


@routes.get(r"/inbox/{dialog_id:\d{1,18}}/messages")
@page()
async def earlier_messages(request: web.Request) -> web.Response:
    """The messages before ``before`` (a message id), to go above those shown."""
    dialog = await dialogs.get_dialog(dialog_id=int(request.match_info["dialog_id"]))
    before = request.query.get("before", "")
    if not before.isdigit():
        raise ValidationFailed("before must be a message id", field="before")
    bubbles, earlier = await _bubbles(request, dialog, before_id=int(before))
    context = {"dialog": dialog, "bubbles": bubbles, "earlier": earlier}
    return render("inbox/_messages.html", request, context)


async def _render(request: web.Request, *, dialog: Dialog | None) -> web.Response:
    channels = {c.id: c for c in await list_channels()}
    context: dict[str, Any] = {"dialog": dialog, "channels": channels, "bubbles": []}
    if dialog is not None:
        context |= await conversation_context(request, dialog)
        context |= await _panel_context(signed_in(request), dialog)
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        return render("inbox/_conversation.html", request, context)
    context |= await _list_context(request)
    return render("inbox/page.html", request, context)


async def conversation_context(request: web.Request, dialog: Dialog) -> dict[str, Any]:
    """What the conversation component (``inbox/_conversation.html``) shows of a dialog:
    its latest messages, channel, assignment and WhatsApp window; the deal page shows it
    too."""
    bubbles, earlier = await _bubbles(request, dialog)
    channel = next(c for c in await list_channels() if c.id == dialog.channel_id)
    context = {
        "bubbles": bubbles,
        "earlier": earlier,
        "channel": channel,
        "file_limits": LIMITS[channel.kind],
    }
    context |= window_context(dialog, channel.kind)
    return context | await _assignment_context(request, dialog)


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


def _shown(request: web.Request) -> Shown:
    """The list's filter tab from ``?filter=`` (all when absent or unknown)."""
    try:
        return Shown(request.query.get("filter", Shown.ALL))
    except ValueError:
        return Shown.ALL


async def _list_context(request: web.Request) -> dict[str, Any]:
    """One page of the list: the filter tab, the search in ``q``, the page after ``cursor``."""
    reader, shown = signed_in(request), _shown(request)
    q = request.query.get("q", "").strip()[:200]
    found = await dialog_list.list_dialogs(
        q=q or None, cursor=request.query.get("cursor"), shown=shown, reader_id=reader.id
    )
    ids = [d.id for d in found.items]
    return {
        "dialogs": found.items,
        "next_cursor": found.next_cursor,
        "q": q,
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


async def _bubbles(
    request: web.Request, dialog: Dialog, *, before_id: int | None = None
) -> tuple[list[Bubble], int | None]:
    """The dialog's latest messages (before ``before_id``), each marked where a new day
    begins in the reader's zone, and the id to load earlier ones before (``None``: none)."""
    clock = request.app[CLOCK]
    messages = await dialogs.list_messages(
        dialog_id=dialog.id, before_id=before_id, limit=HISTORY_PAGE + 1
    )
    earlier = None
    if len(messages) > HISTORY_PAGE:  # one more than shown says there are older ones
        messages = messages[1:]
        earlier = messages[0].id
    staff = {u.id: u for u in await list_users()}
    bubbles, previous_day = [], None
    for message in messages:
        day: date = clock.local_date(message.created_at)
        author = _author(message, dialog, staff)
        bubbles.append(Bubble(message, author, day != previous_day, day))
        previous_day = day
    return bubbles, earlier


def _author(message: Message, dialog: Dialog, staff: dict[int, User]) -> str | None:
    """The customer's name, the operator's name (or e-mail), or ``None`` for the bot."""
    if message.author == Author.CUSTOMER:
        return dialog.contact.name
    if message.author_user_id is None:  # the bot, or a user deleted since
        return None
    user = staff.get(message.author_user_id)
    return (user.name or user.email) if user is not None else None
