"""Sign-in for the web pages (session cookie), API tokens and the user directory."""

from datetime import timedelta

from aiohttp import web

from core import auth, tokens
from core.models import Role, TokenKind
from web.api import ADMINS, EVERYONE, actor, json_response
from web.routes import api
from web.schemas import (
    LoginIn,
    LoginOut,
    NewTokenOut,
    TokenIn,
    TokenOut,
    TokensQuery,
    UserIn,
    UserNameIn,
    UserOut,
    user_out,
)
from web.sessions import end_session, start_session

OWNERS = frozenset({Role.OWNER})


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
    """Ends the session of the cookie, or of a login token sent as a bearer. An API token
    sent as the bearer is not revoked by this: `DELETE /api/v1/tokens/{token_id}` does it."""
    response = web.Response(status=204)
    await end_session(request, response)
    # A client that sends the login token as a bearer signs out too; API tokens stay.
    _, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if bearer.strip():
        await tokens.revoke_token(bearer.strip(), kind=TokenKind.SESSION)
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


@api.route(
    "PATCH",
    "/api/v1/users/me",
    summary="Set your own display name",
    tag="users",
    roles=EVERYONE,
    body=UserNameIn,
    response=UserOut,
)
async def rename_me(request: web.Request, *, body: UserNameIn) -> UserOut:
    me = actor(request)
    return user_out(await auth.rename_user(actor=me, user_id=me.id, name=body.name))


@api.route(
    "PATCH",
    "/api/v1/users/{user_id}",
    summary="Set a user's display name (an owner's only by an owner)",
    tag="users",
    body=UserNameIn,
    response=UserOut,
)
async def rename_user(request: web.Request, *, user_id: int, body: UserNameIn) -> UserOut:
    user = await auth.rename_user(actor=actor(request), user_id=user_id, name=body.name)
    return user_out(user)


@api.route(
    "POST",
    "/api/v1/users/{user_id}/deactivate",
    summary="Deactivate a user: no login, every session and API token revoked at once",
    tag="users",
    roles=OWNERS,
    response=UserOut,
)
async def deactivate_user(request: web.Request, *, user_id: int) -> UserOut:
    """The last active owner cannot be deactivated (409)."""
    return user_out(await auth.deactivate_user(actor=actor(request), user_id=user_id))


@api.route(
    "POST",
    "/api/v1/users/{user_id}/reactivate",
    summary="Let a deactivated user sign in again",
    tag="users",
    roles=OWNERS,
    response=UserOut,
)
async def reactivate_user(request: web.Request, *, user_id: int) -> UserOut:
    return user_out(await auth.reactivate_user(actor=actor(request), user_id=user_id))


@api.route(
    "GET",
    "/api/v1/tokens",
    summary="List API tokens: your own (an owner: everyone's, or user_id's), without secrets",
    tag="tokens",
    roles=EVERYONE,
    query=TokensQuery,
    response=list[TokenOut],
)
async def list_tokens(request: web.Request, *, query: TokensQuery) -> list[TokenOut]:
    found = await tokens.list_tokens(actor=actor(request), user_id=query.user_id)
    return [TokenOut.model_validate(token) for token in found]


@api.route(
    "POST",
    "/api/v1/tokens",
    summary="Create an API token for yourself; the answer is the only time it is shown",
    tag="tokens",
    roles=EVERYONE,
    body=TokenIn,
    response=NewTokenOut,
    status=201,
)
async def create_token(request: web.Request, *, body: TokenIn) -> NewTokenOut:
    me = actor(request)
    lifetime = timedelta(days=body.expires_days) if body.expires_days else None
    token, raw = await tokens.create_token(actor=me, user=me, name=body.name, lifetime=lifetime)
    return NewTokenOut(**TokenOut.model_validate(token).model_dump(), token=raw)


@api.route(
    "DELETE",
    "/api/v1/tokens/{token_id}",
    summary="Revoke an API token (your own; an owner: anyone's); it stops at once",
    tag="tokens",
    roles=EVERYONE,
    status=204,
)
async def revoke_token(request: web.Request, *, token_id: int) -> None:
    await tokens.revoke(actor=actor(request), token_id=token_id)
