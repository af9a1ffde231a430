"""Server-rendered pages: Jinja2 templates, htmx for partial updates, our own small ES modules.

They call the same service functions as the JSON API; no page writes a model.
"""

from pathlib import Path

from aiohttp import web

from core.settings import Settings
from web.pages import (
    auth,
    board,
    contacts,
    deal,
    deal_list,
    deals,
    inbox,
    settings,
    templating,
    window,
)

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: web.Application, settings_: Settings) -> None:
    """Templates, the static files under ``/static/`` and every page route."""
    templating.setup(app, settings_)
    app.router.add_static("/static/", STATIC, name="static")
    for module in (auth, inbox, window, deals, board, deal_list, deal, contacts, settings):
        app.router.add_routes(module.routes)
