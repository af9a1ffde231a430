"""Inbox tables."""

from tortoise import fields
from tortoise.models import Model


class Contact(Model):
    """A customer. Phones are stored in E.164 so messengers and bookings match on them."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    phone = fields.CharField(max_length=20, null=True, db_index=True)
    email = fields.CharField(max_length=254, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "contact"
