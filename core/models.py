"""Shared tables: users, their credentials, and the append-only domain event log."""

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from core.queue_row import QueueRow


class Role(StrEnum):
    """The guide's Account Owner, Administrator and Chat Operator."""

    OWNER = "owner"
    ADMIN = "admin"
    OPERATOR = "operator"


class User(Model):
    """A person who signs in: owners and admins run the CRM, operators work the inbox."""

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200, default="")
    role = fields.CharEnumField(Role, max_length=16)
    password_hash = fields.CharField(max_length=200)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"


class TokenKind(StrEnum):
    """API tokens live until revoked; session tokens back the web login cookie and expire."""

    API = "api"
    SESSION = "session"


class ApiToken(Model):
    """A bearer credential. Only a SHA-256 of the secret is stored.

    An API token carries its owner's label for it (which script or machine uses it) and
    when it was last seen, to the minute, so a stale or leaked one can be told apart.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "funnelbox.User", related_name="tokens", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharEnumField(TokenKind, max_length=16, default=TokenKind.API)
    secret_hash = fields.CharField(max_length=64)
    name = fields.CharField(max_length=100, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    #: Refreshed at most once a minute, so a request does not cost a write.
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"


class Event(QueueRow):
    """One domain event: written in the transaction of the change it describes.

    The log doubles as every deal's timeline (who, when, from, to) and as the durable
    outbox that consumers (triggers, automations, Conversions API) are fed from.
    """

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    deal_id = fields.IntField(null=True, db_index=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "funnelbox.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    data = fields.JSONField[dict[str, Any]](default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    #: Set while consumers (triggers, automations) still have to see the event.
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    #: Set while parked: a bad item kept for a person, who may put it back in the queue.
    parked_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.SmallIntField(default=0, db_default=0)
    last_error: str | None = fields.TextField(null=True)

    class Meta:
        table = "event"
