"""The reply box of a WhatsApp dialog outside the 24-hour window: the approved templates.

WhatsApp takes free text only within 24 hours of the customer's last message; after
that (or before they ever wrote) a business may write only an approved template. The
conversation says so in place of the text box (``inbox/_window.html``) and fetches this
picker when the window is closed: the channel's templates as Meta lists them (cached by
``bot.templates``), those an operator can fill in, each with its parameters. Sending
goes to the JSON API (``POST /api/v1/dialogs/{id}/templates``), as a reply does.
"""

from typing import Any

from aiohttp import web

from bot import templates
from bot.graph import GraphError
from inbox import dialogs
from inbox.dialogs import window_ends, window_open
from inbox.models import ChannelKind, Dialog
from web.keys import HTTP, TEMPLATES, vault
from web.pages.access import page
from web.pages.templating import render

routes = web.RouteTableDef()


def window_context(dialog: Dialog, kind: ChannelKind) -> dict[str, Any]:
    """What the conversation shows of the window: on WhatsApp, whether it is closed and
    when it closes (the page closes it by itself then); nothing on other channels."""
    if kind != ChannelKind.WHATSAPP:
        return {}
    return {"window_closed": not window_open(dialog), "window_ends": window_ends(dialog)}


@routes.get(r"/inbox/{dialog_id:\d{1,18}}/templates")
@page()
async def template_picker(request: web.Request) -> web.Response:
    """The approved templates of the dialog's channel, or why there are none to pick.

    Meta's refusal (or silence) is shown in the box, not as an error page: the
    conversation around it stays usable, notes included.
    """
    dialog = await dialogs.get_dialog(dialog_id=int(request.match_info["dialog_id"]))
    context: dict[str, Any] = {"dialog": dialog, "choices": [], "error": None}
    try:
        listed = await templates.list_templates(
            vault=vault(request),
            http=request.app[HTTP],
            cache=request.app[TEMPLATES],
            channel_id=dialog.channel_id,
        )
    except GraphError as exc:
        context["error"] = str(exc)
    else:
        context["choices"] = templates.choices(listed)
    return render("inbox/_templates.html", request, context)
