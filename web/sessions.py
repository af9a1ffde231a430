"""Web login sessions: one place issues and ends them for the JSON API and the pages."""

from datetime import timedelta

from aiohttp import web

from core import tokens
from core.models import TokenKind, User
from web.keys import SETTINGS
from web.middleware import SESSION_COOKIE


async def start_session(request: web.Request, response: web.StreamResponse, user: User) -> str:
    """Issue a session token and set it as an HttpOnly, SameSite=Strict cookie."""
    days = request.app[SETTINGS].session_days
    token = await tokens.issue_token(
        user=user, kind=TokenKind.SESSION, lifetime=timedelta(days=days)
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=days * 86400,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    return token


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Revoke the cookie's session and clear the cookie."""
    if cookie := request.cookies.get(SESSION_COOKIE):
        await tokens.revoke_token(cookie, kind=TokenKind.SESSION)
    response.del_cookie(SESSION_COOKIE, path="/")
