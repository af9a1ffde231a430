"""The demo workspace (``funnelbox demo``): a salon's team, two pipelines, channels on
Telegram and WhatsApp, a few hundred customers with their conversations (photos and the
team's private notes among them; a few WhatsApp ones past the 24-hour window), dialogs
assigned to the team (some to nobody) and read up to half a day ago (the newest unread),
canned replies, deals across the stages in euros and pounds, tags and tasks.

Everything goes through the service functions the app uses (users, pipelines, channels,
the intake's ``receive``, the outbox's ``send_text``, notes, delivery statuses,
assignment, read markers, canned replies, deals, tags, tasks), except the clock: the
services stamp a message with the time it is stored, so the conversations are moved back
to when the script says with ``inbox.dialogs.backdate``.
The same seed makes the same workspace.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot import channels
from bot.inbound import receive
from core import auth
from core.crypto import Vault
from core.events import change
from core.models import Role, User
from funnels import catalog, deals
from funnels.models import Deal, Pipeline, Stage, StageKind
from funnels.pipeline_setup import create_pipeline_with_stages
from funnels.pipelines import list_stages
from inbox.assignment import assign
from inbox.dialogs import Inbound, Sender, backdate, set_delivery
from inbox.models import Channel, ChannelKind, Contact, DeliveryStatus, Dialog, Message
from inbox.notes import add_note
from inbox.outgoing import send_text
from inbox.unread import count_from_start, mark_read
from triggers.canned import create_reply
from triggers.tasks import create_task
from web.demo.people import SCRIPTED, Customer, Line, generated

OWNER_EMAIL = "owner@example.com"
DEMO_PASSWORD = "demo password 2026"  # noqa: S105 (a throwaway demo account)
TEAM = {"leo": ("leo@example.com", "Leo Hart"), "nina": ("nina@example.com", "Nina Okafor")}
TAGS = [("VIP", "#b7791f"), ("New client", "#2f855a"), ("Colour", "#6b46c1")]
TASKS = ["Call back about the booking", "Send the price list", "Confirm the colour shade"]
#: Canned replies: shortcut, title, text (templates with the auto-messages' fields).
CANNED = [
    ("hours", "Opening hours",
     "Hello {{ contact.name }}! We're open Tuesday to Saturday 9:00-19:00, Sundays 10:00-16:00."),
    ("prices", "Price list",
     "Haircut from €35, colour refresh from €60, balayage from €120, manicure €28. "
     "Shall I look for a slot?"),
    ("address", "How to find us",
     "We're at 14 Elm Street, two minutes from the garage. Ring the bell marked Lumen."),
    ("booked", "Booking confirmed",
     "All set, {{ contact.name }}! Your booking is saved. Write here if anything changes."),
    ("cancel", "Cancellation policy",
     "Moving or cancelling is free up to 24 hours before; later we charge half the price."),
    ("gift", "Gift cards",
     "Gift cards come in any amount from €20, valid for a year. Pick one up at the desk or "
     "we send it by e-mail."),
]  # fmt: skip
#: Dialogs whose customer wrote longer ago than this are read by the owner and the assignee.
CAUGHT_UP = timedelta(hours=12)


async def is_empty() -> bool:
    """Whether the database holds no users, pipelines, channels or contacts: the demo
    fills only an unused one, never mixing made-up customers with real ones."""
    for model in (User, Pipeline, Channel, Contact):
        if await model.exists():
            return False
    return True


async def fill(vault: Vault, *, customers: int = 300, seed: int = 2026) -> User:
    """Fill an empty database; returns the owner to sign in as. ``customers`` counts the
    dialogs (the six scripted ones are the newest)."""
    rng = random.Random(seed)  # noqa: S311 (the same demo each time, not a secret)
    owner = await auth.create_user(
        actor=None, email=OWNER_EMAIL, role=Role.OWNER, password=DEMO_PASSWORD, name="Dana Wright"
    )
    team = {"owner": owner} | {
        key: await auth.create_user(
            actor=owner, email=email, role=Role.OPERATOR, password=DEMO_PASSWORD, name=name
        )
        for key, (email, name) in TEAM.items()
    }
    for member in team.values():  # the team was there all along: the history is unread
        await count_from_start(reader=member)
    bookings = await create_pipeline_with_stages(
        actor=owner,
        name="Bookings",
        stages=[("New chat", 10), ("Consultation", 40), ("Booked", 80)],
    )
    gifts = await create_pipeline_with_stages(
        actor=owner, name="Gift cards", stages=[("Asked", 20), ("Paid", 90)]
    )
    stages = await list_stages(pipeline_id=bookings.id)
    kinds = await _channels(owner, vault, stages[0].id, bookings.id)
    people = generated(max(customers - len(SCRIPTED), 0), rng) + SCRIPTED[:customers][::-1]
    operators = [team[key] for key in TEAM]
    for number, customer in enumerate(people, start=1):
        assignee = team[customer.assignee] if customer.assignee else None
        writer = assignee or operators[number % len(operators)]
        dialog = await _conversation(kinds[customer.channel], writer, f"9{number:05d}", customer)
        if assignee is not None:
            await assign(actor=owner, dialog_id=dialog.id, assignee_id=assignee.id)
    await _catch_up(owner, list(team.values()))
    for shortcut, title, text in CANNED:
        await create_reply(actor=owner, shortcut=shortcut, title=title, text=text)
    tags = [await catalog.create_tag(actor=owner, name=n, color=c) for n, c in TAGS]
    await _spread_deals(owner, rng, stages, tags)
    await _gift_cards(owner, rng, await list_stages(pipeline_id=gifts.id))
    await _tasks(owner, operators, rng)
    return owner


async def _channels(owner: User, vault: Vault, stage_id: int, pipeline_id: int) -> dict:
    telegram = await channels.create_channel(
        actor=owner,
        vault=vault,
        kind=ChannelKind.TELEGRAM,
        name="Studio Lumen bot",
        credentials={"token": "7001234567:AAdemoTokenForScreenshotsOnly"},
        pipeline_id=pipeline_id,
        stage_id=stage_id,
    )
    whatsapp = await channels.create_channel(
        actor=owner,
        vault=vault,
        kind=ChannelKind.WHATSAPP,
        name="Studio Lumen +44 20 7946 0000",
        credentials={
            "access_token": "demo-access-token",
            "app_secret": "demo-app-secret",
            "verify_token": "demo-verify-token",
            "phone_number_id": "100200300400",
            "waba_id": "500600700800",
        },
        pipeline_id=pipeline_id,
        stage_id=stage_id,
    )
    return {"telegram": telegram, "whatsapp": whatsapp}


async def _conversation(channel: Channel, operator: User, chat: str, customer: Customer) -> Dialog:
    """The customer's messages, the operator's replies (read up to then) and notes."""
    phone = customer.phone.replace(" ", "") if customer.phone else None
    sender = Sender(external_id=chat, name=customer.name, phone=phone)
    now, stamped = datetime.now(UTC), []
    for index, line in enumerate(customer.lines):
        if line.note or line.ours:
            dialog = await Dialog.get(channel_id=channel.id, chat_id=chat)
            await mark_read(actor=operator, dialog_id=dialog.id)  # read before answering
            message = await (
                add_note(actor=operator, dialog_id=dialog.id, text=line.text)
                if line.note
                else _reply(operator, dialog, line, f"demo-{chat}-{index}")
            )
        else:
            key = f"{chat}:{index}"
            inbound = Inbound(sender=sender, chat_id=chat, external_id=key, text=line.text)
            if line.photo:
                inbound.kind, inbound.payload = "image", {"file_id": f"demo-photo-{key}"}
            await receive(channel=channel, message=inbound)
            message = await Message.get(channel_id=channel.id, external_id=key)
        stamped.append((message, now - line.ago))
    # after the whole conversation: WhatsApp's 24-hour window judges replies by real time
    async with change(None) as batch:
        for message, at in stamped:
            await backdate(batch, message=message, at=at)
    return await Dialog.get(channel_id=channel.id, chat_id=chat)


async def _reply(operator: User, dialog: Dialog, line: Line, external_id: str) -> Message:
    """An operator's reply, with the fate the platform gave it."""
    message = await send_text(actor=operator, dialog_id=dialog.id, text=line.text)
    async with change(None) as batch:
        await set_delivery(
            batch,
            message=message,
            status=DeliveryStatus(line.status),
            external_id=external_id,
            error=line.error,
        )
    return message


async def _catch_up(owner: User, team: list[User]) -> None:
    """The owner and each dialog's assignee have read what customers wrote until half a
    day ago; what came since shows as unread (for the owner, in every dialog)."""
    by_id = {user.id: user for user in team}
    cutoff = datetime.now(UTC) - CAUGHT_UP
    for dialog in await Dialog.filter(last_inbound_at__lt=cutoff).order_by("id"):
        await mark_read(actor=owner, dialog_id=dialog.id)
        assignee = by_id.get(dialog.assignee_id)  # type: ignore[attr-defined]
        if assignee is not None and assignee.id != owner.id:
            await mark_read(actor=assignee, dialog_id=dialog.id)


async def _spread_deals(owner: User, rng: random.Random, stages: list[Stage], tags: list) -> None:
    """The dialogs' deals (all in the first stage) spread over the pipeline, most with
    an amount in euros or pounds, some tagged."""
    weights = [30 if s.kind == StageKind.OPEN else 12 for s in stages]
    for deal in await Deal.filter(pipeline_id=stages[0].pipeline_id).order_by("id"):
        stage = rng.choices(stages, weights)[0]
        if stage.id != stages[0].id:
            await deals.move_deal(actor=owner, deal_id=deal.id, stage_id=stage.id)
        if rng.random() < 0.8:
            amount = Decimal(rng.choice([35, 48, 60, 85, 120, 180])) + Decimal("0.00")
            chosen = [t.id for t in tags if rng.random() < 0.15]
            await deals.update_deal(
                actor=owner,
                deal_id=deal.id,
                amount=amount,
                currency=rng.choice(["EUR", "EUR", "GBP"]),
                tag_ids=chosen,
            )


async def _gift_cards(owner: User, rng: random.Random, stages: list[Stage]) -> None:
    """Gift card deals for some of the customers, in the second pipeline."""
    contacts = [d.contact_id for d in await Dialog.all().order_by("id")]
    for contact_id in rng.sample(contacts, len(contacts) // 4):
        await deals.create_deal(
            actor=owner,
            contact_ids=[contact_id],
            pipeline_id=stages[0].pipeline_id,
            stage_id=rng.choice(stages).id,
            amount=Decimal(rng.choice([20, 50, 100])) + Decimal("0.00"),
            currency=rng.choice(["EUR", "GBP"]),
        )


async def _tasks(owner: User, team: list[User], rng: random.Random) -> None:
    """Follow-ups for the operators, a few of them overdue."""
    now = datetime.now(UTC)
    for deal in await Deal.all().order_by("-id").limit(24):
        await create_task(
            actor=owner,
            title=rng.choice(TASKS),
            due_at=now + timedelta(hours=rng.randint(-48, 96)),
            assignee_id=rng.choice(team).id,
            deal_id=deal.id,
        )
