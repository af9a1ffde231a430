"""Middlewares: who is calling, and every failure as ``{"error": {code, message, field}}``."""

import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from tortoise.exceptions import IntegrityError

from core.auth import resolve_token
from core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
)
from web.api import json_response
from web.keys import USER

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_COOKIE = "funnelbox_session"

STATUS = {
    Unauthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    ValidationFailed: 422,
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    """The one shape of every API error."""
    return json_response(
        {"error": {"code": code, "message": message, "field": field}}, status=status
    )


def _status(error: DomainError) -> int:
    if error.code == "malformed_json":
        return 400
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map domain errors and aiohttp's own HTTP errors to JSON; log and hide crashes."""
    try:
        return await handler(request)
    except DomainError as exc:
        return error_response(_status(exc), exc.code, exc.message, exc.field)
    except IntegrityError:
        # a unique key lost a race with a concurrent request that passed the same checks
        return error_response(409, "conflict", "this conflicts with a concurrent change")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side")


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach ``request[USER]`` from a bearer token or the session cookie.

    A bad bearer token is an error even on public routes: a client that sends
    credentials wants to know they are wrong. The session cookie is SameSite=Strict,
    so other sites cannot ride on it.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("use Authorization: Bearer <token>", field="Authorization")
        request[USER] = await resolve_token(token.strip())
    elif cookie := request.cookies.get(SESSION_COOKIE):
        with contextlib.suppress(Unauthenticated):
            request[USER] = await resolve_token(cookie)
    return await handler(request)
