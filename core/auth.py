"""Users: sign-up, argon2 password hashes, display names, deactivation.

Bearer credentials (API tokens and sessions) are ``core.tokens``; what happens to a user's
credentials when the password changes or the user is deactivated is decided here.
"""

import asyncio
import secrets

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from tortoise.exceptions import IntegrityError

from core.errors import Conflict, NotFound, PermissionDenied, Unauthenticated, ValidationFailed
from core.events import change
from core.models import Role, TokenKind, User
from core.settings import PasswordProfile
from core.tokens import revoke_all

MIN_PASSWORD_LENGTH = 8
MAX_NAME_LENGTH = 200
#: argon2 costs by ``FUNNELBOX_PASSWORD_PROFILE``: RFC 9106's low-memory choice (64 MiB,
#: 3 passes: argon2-cffi's default) for real use, the cheapest for test suites, which
#: would otherwise spend most of their time hashing the passwords of made-up users.
PROFILES: dict[str, Parameters] = {
    "rfc_9106_low_memory": profiles.RFC_9106_LOW_MEMORY,
    "cheapest": profiles.CHEAPEST,
}


class _Hashing:
    """The hasher of new passwords (any stored hash verifies: it names its own costs)
    and a fixed hash verified when the e-mail is unknown, so a miss costs as a hit does."""

    def __init__(self, profile: PasswordProfile) -> None:
        self.profile = profile
        self.hasher = PasswordHasher.from_parameters(PROFILES[profile])
        self.dummy = self.hasher.hash(secrets.token_urlsafe(16))


_hashing = _Hashing("rfc_9106_low_memory")


def use_password_profile(profile: PasswordProfile) -> None:
    """Hash new passwords at ``profile``'s cost (the app and the command line set it)."""
    global _hashing  # one hasher per process, chosen by its settings
    if profile != _hashing.profile:
        _hashing = _Hashing(profile)


async def _hash(password: str) -> str:
    """A new hash, made in a thread: argon2 takes about 0.1-0.5 s of CPU by design and
    releases the GIL, so a login never holds up the webhooks and pages served meanwhile."""
    return await asyncio.to_thread(_hashing.hasher.hash, password)


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
    name = _checked_name(name)
    _check_password(password)
    taken = Conflict(f"a user with e-mail {email} already exists", field="email")
    if await User.filter(email=email).exists():
        raise taken
    try:
        async with change(actor) as batch:
            user = await User.create(
                email=email, name=name, role=role, password_hash=await _hash(password)
            )
            await batch.record("user.created", user_id=user.id, email=email, role=role.value)
    except IntegrityError:  # a concurrent create took the e-mail after the check
        raise taken from None
    return user


async def set_password(
    *, actor: User | None, user: User, password: str, revoke_tokens: bool = False
) -> int:
    """Replace a password and revoke every session, so a leaked cookie dies with it.

    API tokens are kept unless ``revoke_tokens``: scripts using them go on working after a
    routine change, and a suspected leak revokes them too. Returns how many API tokens went.
    """
    _check_password(password)
    async with change(actor) as batch:
        user.password_hash = await _hash(password)
        await user.save(update_fields=["password_hash"])
        await revoke_all(user, kinds=(TokenKind.SESSION,))
        revoked = await revoke_all(user, kinds=(TokenKind.API,)) if revoke_tokens else 0
        extra = {"api_tokens_revoked": revoked} if revoke_tokens else {}
        await batch.record("user.password_changed", user_id=user.id, **extra)
    return revoked


async def rename_user(*, actor: User, user_id: int, name: str) -> User:
    """Set a display name: one's own, or as an owner or admin another's (an owner's only
    by an owner, as for making one)."""
    name = _checked_name(name)
    if not name:
        raise ValidationFailed("a name cannot be empty", field="name")
    async with change(actor) as batch:
        user = await _get_user(user_id)
        if user.id != actor.id and not _outranks(actor, user):
            raise PermissionDenied(f"the {actor.role.value} role cannot rename this user")
        await batch.save(user, {"name": name}, "user.updated", user_id=user.id)
    return user


async def deactivate_user(*, actor: User | None, user_id: int) -> User:
    """Stop a user at once: no login, and every session and API token is revoked (a
    reactivated user starts with fresh credentials). An owner's act (``actor=None`` is the
    command line); the last active owner stays, or nobody could run the CRM."""
    _check_owner(actor)
    async with change(actor) as batch:
        # the active owners are locked first, in one order, so two owners deactivating
        # each other at once cannot both succeed (nor deadlock)
        owners = (
            await User.filter(role=Role.OWNER, is_active=True).order_by("id").select_for_update()
        )
        user = await _get_user(user_id)
        if not user.is_active:
            return user
        if user.role == Role.OWNER and all(owner.id == user.id for owner in owners):
            raise Conflict("the last active owner cannot be deactivated", field="user_id")
        revoked = await revoke_all(user, kinds=tuple(TokenKind))
        await batch.save(
            user, {"is_active": False}, "user.deactivated", user_id=user.id, tokens_revoked=revoked
        )
    return user


async def reactivate_user(*, actor: User | None, user_id: int) -> User:
    """Let a deactivated user sign in again (with a password; old tokens stay revoked)."""
    _check_owner(actor)
    async with change(actor) as batch:
        user = await _get_user(user_id)
        await batch.save(user, {"is_active": True}, "user.reactivated", user_id=user.id)
    return user


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


async def _get_user(user_id: int) -> User:
    user = await User.filter(id=user_id).select_for_update().first()
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    return user


def _check_owner(actor: User | None) -> None:
    if actor is not None and actor.role != Role.OWNER:
        raise PermissionDenied("only an owner can deactivate or reactivate users")


def _outranks(actor: User, user: User) -> bool:
    """Owners manage everyone, admins everyone but owners, operators nobody else."""
    if actor.role == Role.OWNER:
        return True
    return actor.role == Role.ADMIN and user.role != Role.OWNER


def _checked_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"a name has at most {MAX_NAME_LENGTH} characters", field="name")
    return name


async def authenticate(*, email: str, password: str) -> User:
    """Check a login; unknown e-mail and wrong password look the same to the caller."""
    try:
        email = normalize_email(email)
    except ValidationFailed:
        email = ""  # no account has it; the dummy hash below still costs the same time
    user = await User.get_or_none(email=email, is_active=True) if email else None
    try:
        stored = user.password_hash if user else _hashing.dummy
        await asyncio.to_thread(_hashing.hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthenticated("wrong e-mail or password", field="password")
    return user
