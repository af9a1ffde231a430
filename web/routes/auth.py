"""Sign-in for the web pages (session cookie) and the user directory."""

from aiohttp import web

from core import auth
from core.models import TokenKind
from web.api import ADMINS, EVERYONE, actor, json_response
from web.routes import api
from web.schemas import LoginIn, LoginOut, UserIn, UserOut, user_out
from web.sessions import end_session, start_session


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
    response = json_response(LoginOut(user=user_out(user)).model_dump(mode="json"))
    await start_session(request, response, user)
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
    response = web.Response(status=204)
    await end_session(request, response)
    # A client that sends the login token as a bearer signs out too; API tokens stay.
    _, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if bearer.strip():
        await auth.revoke_token(bearer.strip(), kind=TokenKind.SESSION)
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
