"""The login page, logout, and ``/`` sending each visitor where they belong."""

from aiohttp import web

from core import auth
from core.errors import Unauthenticated
from web.keys import USER
from web.pages.access import redirect, see_other
from web.pages.templating import render
from web.sessions import end_session, start_session

routes = web.RouteTableDef()
HOME = "/inbox"


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    """Signed in: the inbox; anonymous: the login page."""
    return redirect(request, HOME if USER in request else "/login")


@routes.get("/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    if USER in request:
        return redirect(request, safe_next(request.query.get("next")))
    return _login_page(request, email="", next_path=request.query.get("next", ""))


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    """Check the password; on success start a session and go where the visitor was headed."""
    form = await request.post()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    next_path = str(form.get("next", ""))
    try:
        user = await auth.authenticate(email=email, password=password)
    except Unauthenticated:
        return _login_page(request, email=email, next_path=next_path, failed=True)
    response = see_other(safe_next(next_path))
    await start_session(request, response, user)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    response = see_other("/login")
    await end_session(request, response)
    return response


def safe_next(target: str | None) -> str:
    """Only a path on this site: ``//evil.example`` and ``/\\evil`` are other sites."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return HOME
    return target


def _login_page(
    request: web.Request, *, email: str, next_path: str, failed: bool = False
) -> web.Response:
    context = {"email": email, "failed": failed, "next": next_path}
    return render("login.html", request, context, status=401 if failed else 200)
