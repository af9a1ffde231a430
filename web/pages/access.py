"""Who may open a page, and what a page shows when something goes wrong."""

from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from aiohttp import web

from core.errors import DomainError, PermissionDenied
from core.models import Role, User
from web.api import EVERYONE
from web.keys import USER
from web.middleware import Handler, is_page, status_of
from web.pages.templating import render

Page = Callable[[web.Request], Awaitable[web.StreamResponse]]


def page(roles: frozenset[Role] = EVERYONE) -> Callable[[Page], Page]:
    """Require a signed-in user of ``roles``; an anonymous visitor goes to the login page."""

    def wrap(handler: Page) -> Page:
        @wraps(handler)
        async def view(request: web.Request) -> web.StreamResponse:
            user = request.get(USER)
            if user is None:
                return redirect(request, f"/login?next={quote(request.path_qs, safe='/')}")
            if user.role not in roles:
                raise PermissionDenied(f"the {user.role.value} role cannot open this page")
            return await handler(request)

        return view

    return wrap


def signed_in(request: web.Request) -> User:
    """The user :func:`page` let in."""
    return request[USER]


def redirect(request: web.Request, location: str) -> web.StreamResponse:
    """A redirect that htmx follows as a full navigation instead of swapping the target."""
    if request.headers.get("HX-Request"):
        return web.Response(status=204, headers={"HX-Redirect": location})
    return see_other(location)


def see_other(location: str) -> web.Response:
    """303: after a form post the browser GETs ``location``."""
    return web.Response(status=303, headers={"Location": location})


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On pages a domain error or an HTTP error is a readable page; the API keeps its JSON."""
    if not is_page(request.path):
        return await handler(request)
    try:
        return await handler(request)
    except DomainError as exc:
        return _error_page(request, status_of(exc), exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error_page(request, exc.status, "")  # the headline says it all


def _error_page(request: web.Request, status: int, detail: str) -> web.Response:
    return render("error.html", request, {"status": status, "detail": detail}, status=status)
