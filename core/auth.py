"""Users and credentials: argon2 password hashes, bearer tokens stored as SHA-256 digests."""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from core.errors import Conflict, NotFound, PermissionDenied, Unauthenticated, ValidationFailed
from core.events import change
from core.models import ApiToken, Role, TokenKind, User

_hasher = PasswordHasher()
TOKEN_PREFIX = "fbx"  # noqa: S105 (a label, not a secret)
MIN_PASSWORD_LENGTH = 8
#: A fixed hash verified when the e-mail is unknown, so a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
#: Token ids are ``api_token.id`` values: ASCII digits that fit the 32-bit integer column.
_MAX_TOKEN_ID = 2**31 - 1


def normalize_email(email: str) -> str:
    """Lower-cased, syntax-checked address. Deliverability is not checked (offline installs)."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(str(exc), field="email") from None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )


async def create_user(
    *, actor: User | None, email: str, role: Role, password: str, name: str = ""
) -> User:
    """Add a user; e-mail addresses are unique regardless of case.

    Only an owner may make another owner (``actor=None`` is the command line).
    """
    if role == Role.OWNER and actor is not None and actor.role != Role.OWNER:
        raise PermissionDenied("only an owner can add another owner", field="role")
    email = normalize_email(email)
    _check_password(password)
    if await User.filter(email=email).exists():
        raise Conflict(f"a user with e-mail {email} already exists", field="email")
    async with change(actor) as batch:
        user = await User.create(
            email=email, name=name, role=role, password_hash=_hasher.hash(password)
        )
        await batch.record("user.created", user_id=user.id, email=email, role=role.value)
    return user


async def set_password(*, actor: User | None, user: User, password: str) -> None:
    """Replace a password and revoke every session, so a leaked cookie dies with it."""
    _check_password(password)
    async with change(actor) as batch:
        user.password_hash = _hasher.hash(password)
        await user.save(update_fields=["password_hash"])
        await ApiToken.filter(user=user, kind=TokenKind.SESSION).delete()
        await batch.record("user.password_changed", user_id=user.id)


async def list_users() -> list[User]:
    """Every user, oldest first."""
    return await User.all().order_by("id")


async def first_owner() -> User | None:
    """The oldest owner account, if any (the one ``make run`` creates)."""
    return await User.filter(role=Role.OWNER).order_by("id").first()


async def get_user_by_email(*, email: str) -> User:
    """Find a user by e-mail or raise :class:`NotFound`."""
    user = await User.get_or_none(email=normalize_email(email))
    if user is None:
        raise NotFound(f"no user with e-mail {email}", field="email")
    return user


async def authenticate(*, email: str, password: str) -> User:
    """Check a login; unknown e-mail and wrong password look the same to the caller."""
    try:
        email = normalize_email(email)
    except ValidationFailed:
        email = ""  # no account has it; the dummy hash below still costs the same time
    user = await User.get_or_none(email=email, is_active=True) if email else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthenticated("wrong e-mail or password", field="password")
    return user


async def issue_token(
    *, user: User, kind: TokenKind = TokenKind.API, lifetime: timedelta | None = None
) -> str:
    """Create a credential and return it once: ``fbx_<id>_<secret>``. Only a digest is kept."""
    secret = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + lifetime if lifetime else None
    token = await ApiToken.create(
        user=user, kind=kind, secret_hash=_digest(secret), expires_at=expires_at
    )
    return f"{TOKEN_PREFIX}_{token.id}_{secret}"


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


async def resolve_token(raw: str) -> User:
    """The active user a token belongs to."""
    token = await _find_token(raw)
    if token is None:
        raise Unauthenticated("invalid token")
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        raise Unauthenticated("token expired")
    if not token.user.is_active:
        raise Unauthenticated("user is deactivated")
    return token.user


async def revoke_token(raw: str, *, kind: TokenKind | None = None) -> None:
    """Forget a token (logout), only if it is of ``kind`` when one is given.

    Unknown tokens are ignored: the outcome is the same.
    """
    token = await _find_token(raw)
    if token is not None and kind in (None, token.kind):
        await token.delete()


def _is_token_id(text: str) -> bool:
    """``str.isdigit`` alone lets through "²" (``int`` fails) and ids the column cannot hold."""
    return text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= _MAX_TOKEN_ID


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
