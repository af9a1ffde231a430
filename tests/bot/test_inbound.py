"""``receive_all`` stores a batch as ``receive`` stores each message: the same rows and
the same events, for known customers, customers nobody knows yet and a customer whose
deal was closed; and it leaves to ``receive`` what only that path may decide."""

from typing import Any

from bot.inbound import receive, receive_all
from core.models import Event, User
from funnels.deals import move_deal
from funnels.models import Deal, DealContact, StageKind
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, Contact, ContactIdentity, Dialog, Message
from inbox.service import create_contact

#: Customers by role: each run gives them numbers of its own.
RETURNING, FIRST, SECOND, HELD = 1, 2, 3, 4


def phone(run: int, role: int) -> str:
    return f"1650555{run}{role:03d}"


def inbound(run: int, role: int, n: int, *, ctwa_clid: str | None = None) -> Inbound:
    wa_id = phone(run, role)
    sender = Sender(external_id=wa_id, name=f"Customer {role}", phone=wa_id, ctwa_clid=ctwa_clid)
    return Inbound(sender=sender, chat_id=wa_id, external_id=f"wamid.{run}.{role}.{n}",
                   text=f"{role}:{n}")  # fmt: skip


async def prepare(run: int, channel: Channel, admin: User, won_id: int) -> list[Inbound]:
    """A customer whose deal was won, and a phone a contact holds; then the messages."""
    await receive(channel=channel, message=inbound(run, RETURNING, 0))
    deal = await Deal.get(dialog__chat_id=phone(run, RETURNING), stage__kind=StageKind.OPEN)
    await move_deal(actor=admin, deal_id=deal.id, stage_id=won_id)
    await create_contact(actor=admin, name="Booked", phone=f"+{phone(run, HELD)}")
    return [
        inbound(run, FIRST, 1, ctwa_clid="clid"), inbound(run, RETURNING, 1),
        inbound(run, SECOND, 1), inbound(run, HELD, 1), inbound(run, FIRST, 2),
        inbound(run, RETURNING, 2),
    ]  # fmt: skip


async def outcome(run: int, since: int) -> dict[str, Any]:
    """What the run wrote, with its numbers, ids and times replaced by roles."""
    roles = {f"+{phone(run, role)}": role for role in (RETURNING, FIRST, SECOND, HELD)}
    found = await Contact.filter(phone__in=list(roles))
    contact = {c.id: roles[c.phone] for c in found}
    chats = await Dialog.filter(contact_id__in=list(contact))
    dialog = {d.id: contact[d.contact_id] for d in chats}
    deals = await Deal.filter(dialog_id__in=list(dialog)).order_by("id")
    deal_of = {d.id: dialog[d.dialog_id] for d in deals}
    identities = await ContactIdentity.filter(contact_id__in=list(contact))
    links = await DealContact.filter(deal_id__in=list(deal_of))
    events = [e for e in await Event.filter(id__gt=since).order_by("id")
              if e.data.get("contact_id") in contact or e.deal_id in deal_of]  # fmt: skip
    latest = {dialog[d.id]: d.last_inbound_id for d in chats}
    return {
        "contacts": sorted((roles[c.phone], c.name) for c in found),
        "identities": sorted((contact[i.contact_id], i.user_id, i.ctwa_clid) for i in identities),
        "messages": {role: await texts(dialog_id) for dialog_id, role in dialog.items()},
        "latest": {role: (await Message.get(id=m)).text for role, m in latest.items()},
        "deals": sorted(
            (deal_of[d.id], d.title, d.stage_id, d.owner_id, str(d.close_date)) for d in deals
        ),
        "deal contacts": sorted(
            (deal_of[x.deal_id], contact[x.contact_id], x.position) for x in links
        ),
        "events": sorted(
            (e.kind, e.deal_id is not None, plain(e.data, contact, dialog)) for e in events
        ),
    }


async def texts(dialog_id: int) -> list[str]:
    return [m.text for m in await Message.filter(dialog_id=dialog_id).order_by("id")]


def plain(data: dict[str, Any], contact: dict[int, int], dialog: dict[int, int]) -> list:
    """An event's data, its contact and dialog ids as roles, without per-run ids."""
    roles = {"contact_id": contact, "dialog_id": dialog}
    kept = {k: v for k, v in data.items() if k not in ("message_id", "deal_id", "phone")}
    return sorted((k, roles[k].get(v, v) if k in roles else v) for k, v in kept.items())


async def test_a_batch_writes_what_one_by_one_writes(
    admin: User, whatsapp_channel: dict, inbox_stage: dict
) -> None:
    channel = await Channel.get(id=whatsapp_channel["id"])
    won = next(s for s in inbox_stage["stages"] if s.kind == StageKind.WON)
    runs = {}
    for run, batch in ((1, True), (2, False)):
        messages = await prepare(run, channel, admin, won.id)
        since = await Event.all().order_by("-id").first()
        if batch:
            left = await receive_all(channel=channel, messages=messages)
            assert [m.text for m in left] == ["4:1"]  # the held phone: a person's merge
            messages = left
        for message in messages:
            await receive(channel=channel, message=message)
        runs[run] = await outcome(run, since.id if since else 0)
    assert runs[1] == runs[2]
    assert runs[1]["messages"] == {RETURNING: ["1:0", "1:1", "1:2"], FIRST: ["2:1", "2:2"],
                                   SECOND: ["3:1"], HELD: ["4:1"]}  # fmt: skip
    assert [role for role, *_ in runs[1]["deals"]] == [RETURNING, RETURNING, FIRST, SECOND, HELD]
    assert (FIRST, None, "clid") in runs[1]["identities"]  # what the ad click told
    events = runs[1]["events"]
    assert (
        "dialog.created",
        False,
        [("channel_id", channel.id), ("contact_id", FIRST), ("dialog_id", FIRST)],
    ) in events
    created = [dict(data) for kind, _, data in events if kind == "deal.created"]
    assert len(created) == 4 and all(d["fields"] == {} and d["tags"] == [] for d in created)
    assert {d["title"] for d in created} == {"Customer 1", "Customer 2", "Customer 3", "Booked"}
    added = [dict(data) for kind, has_deal, data in events if kind == "deal.contact_added"]
    assert len(added) == 4 and {d["contact_id"] for d in added} == {RETURNING, FIRST, SECOND, HELD}


async def test_a_channel_that_assigns_in_turn_leaves_new_customers_to_one_by_one(
    whatsapp_channel: dict,
) -> None:
    channel = await Channel.get(id=whatsapp_channel["id"])
    channel.settings = {"round_robin": True}
    first = inbound(1, FIRST, 1)
    assert await receive_all(channel=channel, messages=[first]) == [first]
    assert await Contact.all().count() == 0
