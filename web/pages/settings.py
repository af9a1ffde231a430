"""Settings, for owners and admins: the connected channels and the team, read-only for now."""

from aiohttp import web

from bot.channels import list_channels
from core.auth import list_users
from web.api import ADMINS
from web.pages.access import page
from web.pages.templating import render

routes = web.RouteTableDef()


@routes.get("/settings")
@page(ADMINS)
async def settings(request: web.Request) -> web.Response:
    context = {"channels": await list_channels(), "users": await list_users()}
    return render("settings.html", request, context)
