"""Sign-in for the web pages (session cookie) and the user directory."""

from datetime import timedelta

from aiohttp import web

from core import auth
from core.models import TokenKind
from web.api import ADMINS, EVERYONE, actor, json_response
from web.keys import SETTINGS
from web.middleware import SESSION_COOKIE
from web.routes import api
from web.schemas import LoginIn, LoginOut, UserIn, UserOut, user_out


@api.route(
    "POST",
    "/api/v1/auth/login",
    summary="Sign in; sets the session cookie",
    tag="auth",
    roles=None,
    body=LoginIn,
    response=LoginOut,
)
async def login(request: web.Request, *, body: LoginIn) -> web.Response:
    user = await auth.authenticate(email=body.email, password=body.password)
    days = request.app[SETTINGS].session_days
    token = await auth.issue_token(user=user, kind=TokenKind.SESSION, lifetime=timedelta(days=days))
    response = json_response(LoginOut(user=user_out(user)).model_dump(mode="json"))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=days * 86400,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    return response


@api.route(
    "POST",
    "/api/v1/auth/logout",
    summary="Sign out; revokes the session",
    tag="auth",
    roles=EVERYONE,
    status=204,
)
async def logout(request: web.Request) -> web.Response:
    if cookie := request.cookies.get(SESSION_COOKIE):
        await auth.revoke_token(cookie)
    # A client that sends the login token as a bearer signs out too; API tokens stay.
    _, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if bearer.strip():
        await auth.revoke_token(bearer.strip(), kind=TokenKind.SESSION)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@api.route(
    "GET", "/api/v1/me", summary="The signed-in user", tag="auth", roles=EVERYONE, response=UserOut
)
async def me(request: web.Request) -> UserOut:
    return user_out(actor(request))


@api.route(
    "GET",
    "/api/v1/users",
    summary="List users (deal owners, assignees)",
    tag="users",
    response=list[UserOut],
)
async def list_users(request: web.Request) -> list[UserOut]:
    return [user_out(u) for u in await auth.list_users()]


@api.route(
    "POST",
    "/api/v1/users",
    summary="Add a user",
    tag="users",
    roles=ADMINS,
    body=UserIn,
    response=UserOut,
    status=201,
)
async def create_user(request: web.Request, *, body: UserIn) -> UserOut:
    user = await auth.create_user(actor=actor(request), **body.model_dump())
    return user_out(user)
