"""Contacts and their deals."""

from aiohttp import web

from funnels import queries
from inbox import service as contacts
from web.api import EVERYONE, actor
from web.keys import SETTINGS
from web.routes import api
from web.schemas import ContactDealsOut, ContactIn, ContactOut, ContactQuery, ContactUpdate, DealOut


@api.route(
    "GET",
    "/api/v1/contacts",
    summary="List or search contacts",
    tag="contacts",
    roles=EVERYONE,
    query=ContactQuery,
    response=list[ContactOut],
)
async def list_contacts(request: web.Request, *, query: ContactQuery) -> list[ContactOut]:
    found = await contacts.list_contacts(**query.model_dump())
    return [ContactOut.model_validate(c) for c in found]


@api.route(
    "POST",
    "/api/v1/contacts",
    summary="Create a contact (phone normalised to E.164)",
    tag="contacts",
    roles=EVERYONE,
    body=ContactIn,
    response=ContactOut,
    status=201,
)
async def create_contact(request: web.Request, *, body: ContactIn) -> ContactOut:
    contact = await contacts.create_contact(
        actor=actor(request), region=request.app[SETTINGS].phone_region, **body.model_dump()
    )
    return ContactOut.model_validate(contact)


@api.route(
    "GET",
    "/api/v1/contacts/{contact_id}",
    summary="Get a contact",
    tag="contacts",
    roles=EVERYONE,
    response=ContactOut,
)
async def get_contact(request: web.Request, *, contact_id: int) -> ContactOut:
    return ContactOut.model_validate(await contacts.get_contact(contact_id=contact_id))


@api.route(
    "PATCH",
    "/api/v1/contacts/{contact_id}",
    summary="Edit a contact",
    tag="contacts",
    roles=EVERYONE,
    body=ContactUpdate,
    response=ContactOut,
)
async def update_contact(
    request: web.Request, *, contact_id: int, body: ContactUpdate
) -> ContactOut:
    contact = await contacts.update_contact(
        actor=actor(request),
        contact_id=contact_id,
        region=request.app[SETTINGS].phone_region,
        **body.model_dump(exclude_unset=True),
    )
    return ContactOut.model_validate(contact)


@api.route(
    "GET",
    "/api/v1/contacts/{contact_id}/deals",
    summary="A contact's open and closed deals",
    tag="contacts",
    response=ContactDealsOut,
)
async def contact_deals(request: web.Request, *, contact_id: int) -> ContactDealsOut:
    await contacts.get_contact(contact_id=contact_id)
    open_deals, closed = await queries.contact_deals(contact_id=contact_id)
    return ContactDealsOut(
        open=[DealOut.of(d) for d in open_deals], closed=[DealOut.of(d) for d in closed]
    )
