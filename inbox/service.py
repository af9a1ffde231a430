"""Contacts: the only code that writes ``Contact`` rows."""

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from core.auth import normalize_email
from core.db import insert_all
from core.errors import Conflict, NotFound, ValidationFailed
from core.events import UNSET, Unset, change
from core.models import User
from core.phones import normalize_phone
from inbox.models import Contact

#: A search made only of what phone numbers are written with.
PHONE_LIKE = re.compile(r"[0-9\s()+\-.]+")


def _clean(
    *,
    name: str | Unset | None,
    phone: str | Unset | None,
    email: str | Unset | None,
    region: str | None,
) -> dict[str, Any]:
    """Validated column values for the fields that were given."""
    values: dict[str, Any] = {}
    if name is not UNSET:
        if not name or not name.strip():
            raise ValidationFailed("name must not be empty", field="name")
        values["name"] = name.strip()
    if phone is not UNSET:
        values["phone"] = normalize_phone(phone, region=region) if phone else None
    if email is not UNSET:
        values["email"] = normalize_email(email) if email else None
    return values


async def get_contact(*, contact_id: int) -> Contact:
    """A contact by id, or :class:`NotFound`."""
    contact = await Contact.get_or_none(id=contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} does not exist", field="contact_id")
    return contact


async def list_contacts(
    *, search: str | None = None, after_id: int = 0, limit: int = 50
) -> list[Contact]:
    """Contacts by id; ``search`` matches name, phone or e-mail fragments."""
    query = Contact.filter(id__gt=after_id)
    if search:
        matches = Q(name__icontains=search) | Q(phone__contains=search) | Q(email__icontains=search)
        if PHONE_LIKE.fullmatch(search) and (digits := re.sub(r"[^0-9]", "", search)):
            # phones are stored as E.164 digits; "415 555-26" is how people type a fragment
            matches |= Q(phone__contains=digits)
        query = query.filter(matches)
    return await query.order_by("id").limit(limit)


@dataclass(frozen=True)
class NewContact:
    """What a contact is made from (:func:`create_contacts`)."""

    name: str
    phone: str | None = None
    email: str | None = None
    region: str | None = None


async def create_contact(
    *,
    actor: User | None,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    region: str | None = None,
) -> Contact:
    """Add a contact with a normalised phone (E.164) and e-mail."""
    person = NewContact(name=name, phone=phone, email=email, region=region)
    return (await create_contacts(actor=actor, people=[person]))[0]


async def create_contacts(*, actor: User | None, people: Sequence[NewContact]) -> list[Contact]:
    """Add contacts at once, in order: what :func:`create_contact` does for each, in one
    statement (the webhook intake's new customers). A phone taken, by a stored contact
    or by another of them, refuses them all (409, naming the holder)."""
    rows = [
        Contact(**_clean(name=p.name, phone=p.phone, email=p.email, region=p.region))
        for p in people
    ]
    phones = [row.phone for row in rows if row.phone]
    if twice := next((phone for phone in phones if phones.count(phone) > 1), None):
        raise Conflict(f"two of the new contacts have the phone {twice}", field="phone")
    async with change(actor) as batch:
        await _phone_is_free(phones)
        async with _phone_held(phones):
            await insert_all(rows)
        await batch.record_all(
            "contact.created", [{"contact_id": c.id, "name": c.name} for c in rows]
        )
    return rows


async def update_contact(
    *,
    actor: User | None,
    contact_id: int,
    name: str | Unset | None = UNSET,
    phone: str | Unset | None = UNSET,
    email: str | Unset | None = UNSET,
    region: str | None = None,
) -> Contact:
    """Change a contact's fields; only the given ones are touched."""
    values = _clean(name=name, phone=phone, email=email, region=region)
    async with change(actor) as batch:
        contact = await get_contact(contact_id=contact_id)
        phones = [values["phone"]] if values.get("phone") else []
        await _phone_is_free(phones, but=contact.id)
        async with _phone_held(phones):
            await batch.save(contact, values, "contact.updated", contact_id=contact.id)
    return contact


async def find_by_phone(phone: str) -> Contact | None:
    """The contact with this E.164 phone: one person is one contact, so the inbox and the
    booking sync find the same one."""
    return await Contact.filter(phone=phone).order_by("id").first()


@asynccontextmanager
async def _phone_held(phones: Sequence[str]) -> AsyncIterator[None]:
    """The write inside, in a savepoint: when a concurrent change took a phone after our
    check, the database's unique index refuses the row, and the caller gets the same 409
    naming the holder instead of a bare conflict (the change it is part of stays usable)."""
    try:
        async with in_transaction():
            yield
    except IntegrityError:
        await _phone_is_free(phones)
        raise


async def _phone_is_free(phones: Sequence[str], *, but: int | None = None) -> None:
    """Refuse (409) a phone another contact than ``but`` has."""
    if not phones:
        return
    holders = Contact.filter(phone__in=list(phones))
    if but is not None:
        holders = holders.exclude(id=but)
    holder = await holders.order_by("id").first()
    if holder is not None:
        raise Conflict(f"contact {holder.id} ({holder.name}) has this phone already", field="phone")
