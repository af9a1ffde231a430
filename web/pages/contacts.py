"""Contacts, for owners and admins: the list with its search, a contact's page (details,
channel identities, open and closed deals, conversations) and the contact picker the deal
forms search with."""

from typing import Any

from aiohttp import web

from funnels.queries import contact_deals
from inbox import dialogs
from inbox import service as contacts
from web.api import ADMINS
from web.pages.access import page
from web.pages.templating import render

routes = web.RouteTableDef()
PAGE = 50
#: Contacts the picker offers for what was typed.
PICKS = 8


def _search(request: web.Request) -> str:
    return request.query.get("q", "").strip()[:100]


@routes.get("/contacts")
@page(ADMINS)
async def contact_list(request: web.Request) -> web.Response:
    """Contacts by id, ``?q=`` narrowing to names, phones and e-mails; the next page
    starts after ``?after=`` (the last id shown)."""
    q, after = _search(request), request.query.get("after", "")
    found = await contacts.list_contacts(
        search=q or None, after_id=int(after) if after.isdigit() else 0, limit=PAGE + 1
    )
    context: dict[str, Any] = {
        "contacts": found[:PAGE],
        "q": q,
        "next_after": found[PAGE - 1].id if len(found) > PAGE else None,
    }
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        return render("contacts/_results.html", request, context)
    return render("contacts/list.html", request, context)


@routes.get("/contacts/picker")
@page(ADMINS)
async def picker(request: web.Request) -> web.Response:
    """The first contacts matching ``?q=``, as buttons the deal forms pick from."""
    q = _search(request)
    found = await contacts.list_contacts(search=q, limit=PICKS) if q else []
    return render("contacts/_picker.html", request, {"found": found, "q": q})


@routes.get(r"/contacts/{contact_id:\d{1,9}}")
@page(ADMINS)
async def contact_page(request: web.Request) -> web.Response:
    contact = await contacts.get_contact(contact_id=int(request.match_info["contact_id"]))
    open_deals, closed = await contact_deals(contact_id=contact.id)
    context = {
        "contact": contact,
        "identities": await dialogs.list_identities(contact_id=contact.id),
        "open_deals": open_deals,
        "closed_deals": closed,
        "conversations": await dialogs.list_contact_dialogs(contact_id=contact.id),
    }
    return render("contacts/page.html", request, context)
