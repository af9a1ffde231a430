"""The demo workspace (``funnelbox demo``): a salon's team, two pipelines, channels on
Telegram and WhatsApp, a few hundred customers with their conversations (photos among
them), deals across the stages in euros and pounds, tags and tasks.

Everything goes through the service functions the app uses (users, pipelines, channels,
the intake's ``receive``, the outbox's ``send_text``, delivery statuses, deals, tags,
tasks), except the clock: the services stamp a message with the time it is stored, so the
conversations are moved back to when the script says with ``inbox.dialogs.backdate``.
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
from inbox.dialogs import Inbound, Sender, backdate, set_delivery
from inbox.models import Channel, ChannelKind, Contact, DeliveryStatus, Dialog, Message
from inbox.outgoing import send_text
from triggers.tasks import create_task
from web.demo.people import SCRIPTED, Customer, generated

OWNER_EMAIL = "owner@example.com"
DEMO_PASSWORD = "demo password 2026"  # noqa: S105 (a throwaway demo account)
TEAM = [("leo@example.com", "Leo Hart"), ("nina@example.com", "Nina Okafor")]
TAGS = [("VIP", "#b7791f"), ("New client", "#2f855a"), ("Colour", "#6b46c1")]
TASKS = ["Call back about the booking", "Send the price list", "Confirm the colour shade"]


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
    team = [
        await auth.create_user(
            actor=owner, email=email, role=Role.OPERATOR, password=DEMO_PASSWORD, name=name
        )
        for email, name in TEAM
    ]
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
    for number, customer in enumerate(people, start=1):
        await _conversation(kinds[customer.channel], rng.choice(team), f"9{number:05d}", customer)
    tags = [await catalog.create_tag(actor=owner, name=n, color=c) for n, c in TAGS]
    await _spread_deals(owner, rng, stages, tags)
    await _gift_cards(owner, rng, await list_stages(pipeline_id=gifts.id))
    await _tasks(owner, team, rng)
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


async def _conversation(channel: Channel, operator: User, chat: str, customer: Customer) -> None:
    phone = customer.phone.replace(" ", "") if customer.phone else None
    sender = Sender(external_id=chat, name=customer.name, phone=phone)
    now, stamped = datetime.now(UTC), []
    for index, line in enumerate(customer.lines):
        if line.ours:
            dialog = await Dialog.get(channel_id=channel.id, chat_id=chat)
            message = await send_text(actor=operator, dialog_id=dialog.id, text=line.text)
            async with change(None) as batch:
                await set_delivery(
                    batch,
                    message=message,
                    status=DeliveryStatus(line.status),
                    external_id=f"demo-{chat}-{index}",
                    error=line.error,
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
