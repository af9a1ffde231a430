"""Settings, for owners and admins: the connected channels and the team (read-only for
now) and the canned replies (kept through the API by the page's own script)."""

from aiohttp import web

from bot.channels import list_channels
from core.auth import list_users
from triggers.canned import list_replies
from web.api import ADMINS
from web.pages.access import page
from web.pages.templating import render

routes = web.RouteTableDef()


@routes.get("/settings")
@page(ADMINS)
async def settings(request: web.Request) -> web.Response:
    context = {
        "channels": await list_channels(),
        "users": await list_users(),
        "canned_replies": await list_replies(),
    }
    return render("settings.html", request, context)
