"""Middlewares: who is calling, CSRF, security headers, and every API failure as
``{"error": {code, message, field}}``."""

import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from tortoise.exceptions import IntegrityError

from core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)
from core.tokens import resolve_token
from web.api import BODY_LIMIT, UPLOADS, json_response
from web.keys import CREDENTIAL, USER

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_COOKIE = "funnelbox_session"
#: A random value for visitors without a session, so the login form has a token too.
CSRF_SEED_COOKIE = "funnelbox_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
CSRF_KEY = web.AppKey("csrf_key", bytes)
_NEW_SEED = web.RequestKey("csrf_new_seed", str)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Its credential is the password in the body, not the cookie that may come along.
API_LOGIN = "/api/v1/auth/login"
#: Paths that are not pages: the JSON API, messenger webhooks, files and probes.
NOT_PAGES = ("/api/", "/webhooks/", "/static/", "/healthz", "/ws")
#: No inline script or style anywhere: the pages load our own files only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

STATUS = {
    Unauthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    ValidationFailed: 422,
    Unavailable: 502,
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    """The one shape of every API error."""
    return json_response(
        {"error": {"code": code, "message": message, "field": field}}, status=status
    )


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error, for the API and the pages alike."""
    if error.code in ("malformed_json", "malformed_form"):
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
        return error_response(status_of(exc), exc.code, exc.message, exc.field)
    except IntegrityError:
        # a unique key lost a race with a concurrent request that passed the same checks
        return error_response(409, "conflict", "this conflicts with a concurrent change")
    except web.HTTPRequestEntityTooLarge as exc:  # its text names the limit and the size
        return error_response(413, "too_large", exc.text or exc.reason, "body")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side")


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hold every request but a file upload to :data:`web.api.BODY_LIMIT`: the
    application's ``client_max_size`` is the largest upload, which no JSON body, webhook
    or page form needs."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else ""
    if (request.method, path) in request.app[UPLOADS]:
        return await handler(request)
    return await handler(request.clone(client_max_size=BODY_LIMIT))


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
        request[CREDENTIAL] = token.strip()
    elif cookie := request.cookies.get(SESSION_COOKIE):
        with contextlib.suppress(Unauthenticated):
            request[USER] = await resolve_token(cookie)
            request[CREDENTIAL] = cookie
    return await handler(request)


def is_page(path: str) -> bool:
    """Whether ``path`` belongs to the server-rendered pages rather than the API."""
    return not path.startswith(NOT_PAGES)


def csrf_key(secret_key: str | None) -> bytes:
    """The CSRF signing key, derived from the secret key so every process agrees.

    Without a secret key each process draws its own: forms then break across restarts,
    which ``make run`` avoids by always writing one.
    """
    if secret_key is None:
        return secrets.token_bytes(32)
    return hmac.new(secret_key.encode(), b"funnelbox csrf", hashlib.sha256).digest()


def csrf_token(request: web.Request) -> str:
    """The token forms and htmx send back: an HMAC of the session (or the visitor's seed).

    Another site cannot read it, so it cannot forge a request that carries it.
    """
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(CSRF_SEED_COOKIE)
    if not basis:
        basis = request.setdefault(_NEW_SEED, secrets.token_urlsafe(32))
    return csrf_for(request.app[CSRF_KEY], basis)


def csrf_for(key: bytes, basis: str) -> str:
    """The token for a session cookie (or seed) value."""
    return hmac.new(key, basis.encode(), hashlib.sha256).hexdigest()


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse state changes that ride on a cookie without the page's token.

    Page forms always need it; API calls need it when the session cookie signed them
    in. Bearer-token calls and messenger webhooks carry no ambient credentials.
    """
    if request.method in UNSAFE_METHODS and _rides_on_cookie(request):
        sent = request.headers.get(CSRF_HEADER) or await _form_token(request)
        if not hmac.compare_digest(sent.encode(), csrf_token(request).encode()):
            raise PermissionDenied(
                "the request lacks a valid CSRF token: reload the page and try again",
                field=CSRF_HEADER,
                code="csrf_failed",
            )
    response = await handler(request)
    if seed := request.get(_NEW_SEED):
        response.set_cookie(
            CSRF_SEED_COOKIE, seed, httponly=True, samesite="Strict", secure=request.secure
        )
    return response


def _rides_on_cookie(request: web.Request) -> bool:
    if request.headers.get("Authorization") or request.path == API_LOGIN:
        return False
    return USER in request or is_page(request.path)


async def _form_token(request: web.Request) -> str:
    if request.content_type not in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        return ""
    value = (await request.post()).get(CSRF_FIELD, "")
    return value if isinstance(value, str) else ""


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, pages, API, errors and files alike, forbids framing and sniffing."""
    response.headers.update(SECURITY_HEADERS)
