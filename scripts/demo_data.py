"""Realistic demo data for screenshots: a salon's channels, customers and conversations.

Everything goes through the service functions the app uses (pipelines, channels, the
intake's ``receive``, the outbox's ``send_text``, delivery statuses), except one thing:
the services stamp each message with the current time, and a demo needs conversations
that span days, so :func:`_backdate` moves the stamps back afterwards.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot import channels
from bot.inbound import receive
from core import auth
from core.crypto import Vault
from core.events import change
from core.models import Role, User
from funnels.pipeline_setup import create_pipeline_with_stages
from funnels.pipelines import list_stages
from inbox.assignment import assign
from inbox.dialogs import Inbound, Sender, set_delivery
from inbox.models import Channel, ChannelKind, DeliveryStatus, Dialog, Direction, Message
from inbox.outgoing import send_text
from inbox.unread import mark_read

OWNER_EMAIL = "owner@example.com"
DEMO_PASSWORD = "demo password 2026"  # noqa: S105 (a throwaway demo account)


@dataclass
class Line:
    """One message of a scripted conversation: who, what, how long ago, and its fate."""

    ago: timedelta
    text: str
    ours: bool = False
    status: DeliveryStatus = DeliveryStatus.READ
    error: str | None = None


def _m(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def _d(days: int, hour: int = 0) -> timedelta:
    return timedelta(days=days, hours=hour)


CONVERSATIONS: list[tuple[str, str, str | None, list[Line]]] = [
    ("Mila Kowalski", "telegram", "+48 512 345 678", [
        Line(_d(1, 3), "Hi! Do you have anything for a haircut this week?"),
        Line(_d(1, 2), "Hello Mila! Thursday 16:30 or Friday 10:00 are free.", ours=True),
        Line(_d(1, 2) - _m(4), "Friday please, with Anna if possible"),
        Line(_d(1, 1), "Done: Friday 10:00 with Anna. See you!", ours=True),
        Line(_m(18), "Is there a slot tomorrow as well? My sister wants to come"),
        Line(_m(17), "She'd like a colour refresh, about an hour"),
    ]),
    ("Ravi Shah", "whatsapp", "+44 7700 900123", [
        Line(_m(95), "Hello, what does a beard trim cost?"),
        Line(_m(90), "Hi Ravi, it's £18 and takes 20 minutes.", ours=True),
        Line(_m(62), "Thanks! Booking online now."),
        Line(_m(60), "Great, see you soon!", ours=True, status=DeliveryStatus.DELIVERED),
    ]),
    ("Sofia Martínez", "whatsapp", "+34 612 345 678", [
        Line(_d(3), "Buenas! Can I move my appointment from Tuesday to Wednesday?"),
        Line(_d(3) - _m(10), "Of course, Wednesday 12:00 is yours.", ours=True),
        Line(_d(2), "Perfect, gracias"),
        Line(_m(240), "Reminder: your appointment is tomorrow at 12:00.", ours=True,
             status=DeliveryStatus.SENT),
    ]),
    ("Tom Becker", "telegram", None, [
        Line(_d(6), "Do you sell gift cards?"),
        Line(_d(6) - _m(30), "We do! Any amount from €20, valid for a year.", ours=True),
        Line(_d(5), "I'll take one for €50 please"),
        Line(_d(5) - _m(5), "Lovely. You can pick it up at the desk any day.", ours=True,
             status=DeliveryStatus.FAILED, error="Forbidden: bot was blocked by the user"),
    ]),
    ("Aiko Tanaka", "telegram", "+81 90 1234 5678", [
        Line(_d(12), "Hello, is parking available near the salon?"),
        Line(_d(12) - _m(20), "Yes, the garage on Elm Street, 2 minutes away.", ours=True),
    ]),
    ("Olena Bondarenko", "whatsapp", "+380 67 123 4567", [
        Line(_m(6), "Good morning! Are you open on Sunday?"),
    ]),
]  # fmt: skip


async def fill(vault: Vault) -> User:
    """Fill an empty database; returns the owner to sign in as."""
    owner = await auth.create_user(
        actor=None, email=OWNER_EMAIL, role=Role.OWNER, password=DEMO_PASSWORD, name="Dana Wright"
    )
    operator = await auth.create_user(
        actor=owner,
        email="leo@example.com",
        role=Role.OPERATOR,
        password=DEMO_PASSWORD,
        name="Leo Hart",
    )
    stages = [("New chat", 10), ("Consultation", 40), ("Booked", 80)]
    pipeline = await create_pipeline_with_stages(actor=owner, name="Bookings", stages=stages)
    await create_pipeline_with_stages(
        actor=owner, name="Gift cards", stages=[("Asked", 20), ("Paid", 90)]
    )
    first_stage = (await list_stages(pipeline_id=pipeline.id))[0]
    telegram = await channels.create_channel(
        actor=owner,
        vault=vault,
        kind=ChannelKind.TELEGRAM,
        name="Studio Lumen bot",
        credentials={"token": "7001234567:AAdemoTokenForScreenshotsOnly"},
        pipeline_id=pipeline.id,
        stage_id=first_stage.id,
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
        pipeline_id=pipeline.id,
        stage_id=first_stage.id,
    )
    kinds = {"telegram": telegram, "whatsapp": whatsapp}
    for number, (name, kind, phone, lines) in enumerate(CONVERSATIONS, start=1):
        await _conversation(kinds[kind], operator, f"90{number:03d}", name, phone, lines)
    await _assign_and_read(owner, operator)
    return owner


#: Who answers which demo dialog (the rest are unassigned).
ASSIGNED = {"Mila Kowalski": "operator", "Ravi Shah": "owner", "Tom Becker": "owner"}
#: Dialogs the owner has read to the end; the others show their unread counts.
READ = ("Sofia Martínez", "Tom Becker", "Aiko Tanaka")


async def _assign_and_read(owner: User, operator: User) -> None:
    people = {"owner": owner, "operator": operator}
    for name, who in ASSIGNED.items():
        dialog = await Dialog.get(contact__name=name)
        await assign(actor=owner, dialog_id=dialog.id, assignee_id=people[who].id)
    for name in READ:
        await mark_read(actor=owner, dialog_id=(await Dialog.get(contact__name=name)).id)


async def _conversation(
    channel: Channel, operator: User, chat: str, name: str, phone: str | None, lines: list[Line]
) -> None:
    sender = Sender(external_id=chat, name=name, phone=phone.replace(" ", "") if phone else None)
    now, stamped = datetime.now(UTC), []
    for index, line in enumerate(lines):
        if line.ours:
            dialog = await Dialog.get(channel_id=channel.id, chat_id=chat)
            message = await send_text(actor=operator, dialog_id=dialog.id, text=line.text)
            async with change(None) as batch:
                await set_delivery(
                    batch,
                    message=message,
                    status=line.status,
                    external_id=f"demo-{chat}-{index}",
                    error=line.error,
                )
        else:
            key = f"{chat}:{index}"
            inbound = Inbound(sender=sender, chat_id=chat, external_id=key, text=line.text)
            await receive(channel=channel, message=inbound)
            message = await Message.get(channel_id=channel.id, external_id=key)
        stamped.append((message, now - line.ago))
    # after the whole conversation: WhatsApp's 24-hour window judges replies by real time
    for message, at in stamped:
        await _backdate(message, at)


async def _backdate(message: Message, at: datetime) -> None:
    """Demo only: give a message (and its dialog's activity) the time the script says."""
    await Message.filter(id=message.id).update(created_at=at)
    dialog = await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]
    stamps = {"last_message_at": at, "created_at": min(dialog.created_at, at)}
    if message.direction == Direction.IN:
        stamps["last_inbound_at"] = at
    await Dialog.filter(id=dialog.id).update(**stamps)
