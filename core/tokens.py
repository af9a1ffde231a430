"""Bearer credentials: named API tokens and the web login's session tokens.

A credential is ``fbx_<id>_<secret>``, shown once; only a SHA-256 digest of the secret is
kept and compared in constant time. API tokens live until revoked or until their optional
expiry; sessions always expire. Only API tokens are listed and revoked by id (their
events are the audit trail): a session ends by logging out, a new password or the
user's deactivation.
"""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from core.errors import NotFound, PermissionDenied, Unauthenticated, ValidationFailed
from core.events import change
from core.models import ApiToken, Role, TokenKind, User

TOKEN_PREFIX = "fbx"  # noqa: S105 (a label, not a secret)
MAX_NAME_LENGTH = 100
#: How stale ``last_used_at`` may be: a busy token costs one write a minute, not one a request.
LAST_USED_PRECISION = timedelta(minutes=1)
#: Token ids are ``api_token.id`` values: ASCII digits that fit the 32-bit integer column.
_MAX_TOKEN_ID = 2**31 - 1


async def create_token(
    *,
    actor: User | None,
    user: User,
    name: str = "",
    kind: TokenKind = TokenKind.API,
    lifetime: timedelta | None = None,
) -> tuple[ApiToken, str]:
    """Store a new credential; returns the row and the credential, which is never shown again.

    Creating an API token is recorded (``token.issued``); a session is not, logins being
    the web page's business rather than a change to the CRM.
    """
    name = _checked_name(name)
    if lifetime is not None and lifetime <= timedelta(0) and kind == TokenKind.API:
        raise ValidationFailed("an expiry must lie in the future", field="expires_days")
    secret = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + lifetime if lifetime is not None else None
    async with change(actor) as batch:
        token = await ApiToken.create(
            user=user, kind=kind, name=name, secret_hash=_digest(secret), expires_at=expires_at
        )
        if kind == TokenKind.API:
            await batch.record(
                "token.issued",
                token_id=token.id,
                user_id=user.id,
                name=name,
                expires_at=expires_at,
            )
    return token, f"{TOKEN_PREFIX}_{token.id}_{secret}"


async def issue_token(
    *, user: User, kind: TokenKind = TokenKind.API, lifetime: timedelta | None = None
) -> str:
    """Just the credential of :func:`create_token`, for sessions and the command line's
    quick unnamed tokens."""
    return (await create_token(actor=None, user=user, kind=kind, lifetime=lifetime))[1]


async def resolve_token(raw: str) -> User:
    """The active user a token belongs to; notes the use (at most once a minute)."""
    token = await _find_token(raw)
    if token is None:
        raise Unauthenticated("invalid token")
    now = datetime.now(UTC)
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("token expired")
    if not token.user.is_active:
        raise Unauthenticated("user is deactivated")
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_PRECISION:
        # conditional, so concurrent requests of one token write once between them
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_PRECISION)
        await ApiToken.filter(stale, id=token.id).update(last_used_at=now)
    return token.user


async def list_tokens(*, actor: User, user_id: int | None = None) -> list[ApiToken]:
    """API tokens, oldest first: the actor's own; an owner's view is everyone's, or
    ``user_id``'s. Secrets are not stored, so they cannot be listed."""
    if user_id is None and actor.role != Role.OWNER:
        user_id = actor.id
    if user_id is not None and user_id != actor.id and actor.role != Role.OWNER:
        raise PermissionDenied("only an owner can see another user's tokens", field="user_id")
    query = ApiToken.filter(kind=TokenKind.API)
    if user_id is not None:
        query = query.filter(user_id=user_id)
    return await query.order_by("id")


async def revoke(*, actor: User | None, token_id: int) -> None:
    """Delete an API token at once. Its user or an owner may (``actor=None`` is the command
    line); to anyone else it does not exist."""
    async with change(actor) as batch:
        query = ApiToken.filter(id=token_id, kind=TokenKind.API).select_for_update()
        token = await query.first()
        if token is None or not _may_manage(actor, token):
            raise NotFound(f"no API token {token_id}", field="token_id")
        await token.delete()
        await batch.record("token.revoked", token_id=token_id, user_id=token.user_id)


def _may_manage(actor: User | None, token: ApiToken) -> bool:
    owner_id: int = token.user_id
    return actor is None or actor.role == Role.OWNER or actor.id == owner_id


async def revoke_all(user: User, *, kinds: tuple[TokenKind, ...]) -> int:
    """Delete the user's tokens of ``kinds``; for the caller's change (a new password,
    a deactivation), whose event says so. Returns how many went."""
    return await ApiToken.filter(user=user, kind__in=kinds).delete()


async def revoke_token(raw: str, *, kind: TokenKind) -> None:
    """Forget the token ``raw`` if it is of ``kind`` (logout ends a session, never an API
    token). Unknown tokens are ignored: the outcome is the same."""
    token = await _find_token(raw)
    if token is not None and token.kind == kind:
        await token.delete()


def _checked_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"a token name has at most {MAX_NAME_LENGTH} characters", field="name"
        )
    return name


async def _find_token(raw: str) -> ApiToken | None:
    """The stored token matching ``raw``; the digest is compared in constant time."""
    prefix, _, rest = raw.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not secret or not _is_token_id(token_id):
        return None
    token = await ApiToken.get_or_none(id=int(token_id)).select_related("user")
    if token is None or not hmac.compare_digest(token.secret_hash, _digest(secret)):
        return None
    return token


def _is_token_id(text: str) -> bool:
    """``str.isdigit`` alone lets through "²" (``int`` fails) and ids the column cannot hold."""
    return text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= _MAX_TOKEN_ID


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
