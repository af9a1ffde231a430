"""Canned replies: the only code that writes ``CannedReply`` rows, and their rendering.

Admins keep them; operators pick one by its shortcut in the reply box. The text is a
template with the fields auto-messages have (``triggers.facts``), filled for the
dialog's contact and its open deal when picked, so it lives here with the templates
rather than in the inbox, which knows no deals.
"""

import re
from typing import Any

from core.errors import Conflict, NotFound, ValidationFailed
from core.events import UNSET, change
from core.models import User
from funnels.models import Deal, StageKind
from inbox.dialogs import get_dialog
from triggers.facts import deal_facts
from triggers.models import CannedReply
from triggers.templates import check_template, render

#: What follows the ``/`` an operator types: lower-case letters, digits, ``-`` and ``_``.
SHORTCUT = re.compile(r"[a-z0-9_-]{1,32}")


def _clean(*, shortcut: Any, title: Any, text: Any) -> dict[str, Any]:
    """Validated column values for the fields that were given."""
    values: dict[str, Any] = {}
    if shortcut is not UNSET:
        if not isinstance(shortcut, str) or not SHORTCUT.fullmatch(shortcut):
            raise ValidationFailed(
                "shortcut: 1-32 lower-case letters, digits, - or _", field="shortcut"
            )
        values["shortcut"] = shortcut
    if title is not UNSET:
        if not title or not title.strip() or len(title.strip()) > 100:
            raise ValidationFailed("title: 1-100 characters", field="title")
        values["title"] = title.strip()
    if text is not UNSET:
        if not text or not text.strip():
            raise ValidationFailed("text must not be empty", field="text")
        values["text"] = check_template(text, field="text")
    return values


async def list_replies() -> list[CannedReply]:
    """Every canned reply, by shortcut (what the ``/`` popup filters)."""
    return await CannedReply.all().order_by("shortcut")


async def get_reply(*, reply_id: int) -> CannedReply:
    """A canned reply by id, or :class:`NotFound`."""
    reply = await CannedReply.get_or_none(id=reply_id)
    if reply is None:
        raise NotFound(f"canned reply {reply_id} does not exist", field="reply_id")
    return reply


async def create_reply(*, actor: User, shortcut: str, title: str, text: str) -> CannedReply:
    """Add a canned reply; its text must compile as a template and its shortcut be new."""
    values = _clean(shortcut=shortcut, title=title, text=text)
    async with change(actor) as batch:
        await _shortcut_is_free(values["shortcut"])
        reply = await CannedReply.create(**values)
        await batch.record("canned_reply.created", reply_id=reply.id, **values)
    return reply


async def update_reply(
    *, actor: User, reply_id: int, shortcut: Any = UNSET, title: Any = UNSET, text: Any = UNSET
) -> CannedReply:
    """Change a canned reply; only the given fields are touched."""
    values = _clean(shortcut=shortcut, title=title, text=text)
    async with change(actor) as batch:
        reply = await get_reply(reply_id=reply_id)
        if "shortcut" in values:
            await _shortcut_is_free(values["shortcut"], but=reply.id)
        await batch.save(reply, values, "canned_reply.updated", reply_id=reply.id)
    return reply


async def delete_reply(*, actor: User, reply_id: int) -> None:
    """Remove a canned reply (what was sent with it stays in the dialogs)."""
    async with change(actor) as batch:
        reply = await get_reply(reply_id=reply_id)
        await reply.delete()
        await batch.record("canned_reply.deleted", reply_id=reply_id, shortcut=reply.shortcut)


async def render_reply(*, reply_id: int, dialog_id: int) -> str:
    """The reply's text filled for the dialog's contact (``contact``) and, when the dialog
    has an open deal, everything an auto-message sees of it. Nothing is sent: the operator
    edits the text and sends it as a reply."""
    reply = await get_reply(reply_id=reply_id)
    return render(reply.text, await dialog_facts(dialog_id=dialog_id), field="text")


async def dialog_facts(*, dialog_id: int) -> dict[str, Any]:
    """What a canned reply may show in this dialog: its newest open deal's facts, if any,
    and the dialog's own contact (a deal's first contact may be someone else)."""
    dialog = await get_dialog(dialog_id=dialog_id)
    deal = (
        await Deal.filter(dialog_id=dialog.id, stage__kind=StageKind.OPEN)
        .order_by("-created_at", "-id")
        .first()
    )
    facts = await deal_facts(deal) if deal is not None else {}
    contact = dialog.contact
    if facts.get("contact", {}).get("id") != contact.id:
        facts["contact"] = {
            "id": contact.id,
            "name": contact.name,
            "phone": contact.phone,
            "email": contact.email,
        }
    return facts


async def _shortcut_is_free(shortcut: str, *, but: int | None = None) -> None:
    holder = await CannedReply.get_or_none(shortcut=shortcut)
    if holder is not None and holder.id != but:
        raise Conflict(f"/{shortcut} is taken by {holder.title!r}", field="shortcut")
