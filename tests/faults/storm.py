"""A duplicate storm of webhook deliveries, and what "in order" means for it.

Shared by the bounded storm of the suite (``tests/faults/test_storm.py``), the database
outage (``tests/faults/test_database_outage.py``) and the full storm in
``bench/storm.py``: the deliveries, their byte-identical duplicates, the concurrent
firing, and the order check.

Order is defined where the platform defines it: per chat, by when the unique deliveries
were sent. Deliveries of one chat that are in flight at once have no order (the platform
would not know one either, and the webhook may store them either way), so only
happens-before is checked: when a message's first delivery was answered 200 before
another message's first delivery was even sent, the first must be stored before the
other.
"""

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from tests.fakes.telegram import FakeTelegram, TelegramUser
from tests.fakes.whatsapp import WhatsAppWebhooks, sign


@dataclass(frozen=True)
class Delivery:
    """One webhook POST: where, its bytes and headers, and the message it carries."""

    path: str
    body: bytes
    headers: dict[str, str]
    chat: str
    text: str


Post = Callable[[Delivery], Awaitable[int]]


def mixed(
    telegram: FakeTelegram, telegram_path: str, telegram_secret: str,
    whatsapp: WhatsAppWebhooks, app_secret: str, *, customers: int, each: int,
) -> list[Delivery]:  # fmt: skip
    """``each`` text messages from ``customers`` Telegram users and as many WhatsApp
    customers, each customer's in the order they wrote them."""
    deliveries: list[Delivery] = []
    secret = {"X-Telegram-Bot-Api-Secret-Token": telegram_secret}
    for n in range(customers):
        user = TelegramUser(id=7000 + n, first_name=f"T{n}")
        wa_id = f"1650555{n:04d}"
        for i in range(each):
            body = json.dumps(telegram.text_update(user, f"t{n}-{i}")).encode()
            deliveries.append(Delivery(telegram_path, body, secret, f"t{n}", f"t{n}-{i}"))
            body = json.dumps(whatsapp.text(wa_id, f"w{n}-{i}")).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": sign(body, app_secret),
            }
            deliveries.append(Delivery("/webhooks/whatsapp", body, headers, f"w{n}", f"w{n}-{i}"))
    return deliveries


def storm(deliveries: Sequence[Delivery], *, duplicates: float, seed: int) -> list[Delivery]:
    """Every delivery, a ``duplicates`` share of them again byte for byte, shuffled."""
    rng = random.Random(seed)
    fired = [*deliveries, *rng.sample(list(deliveries), k=round(len(deliveries) * duplicates))]
    rng.shuffle(fired)
    return fired


@dataclass
class Timeline:
    """When each message was first sent and first answered 200 (monotonic seconds)."""

    chat: dict[str, str] = field(default_factory=dict)
    sent: dict[str, float] = field(default_factory=dict)
    accepted: dict[str, float] = field(default_factory=dict)

    async def send(self, post: Post, delivery: Delivery) -> int:
        """POST ``delivery`` through ``post``, noting the times; its status."""
        self.chat[delivery.text] = delivery.chat
        self.sent.setdefault(delivery.text, time.monotonic())
        status = await post(delivery)
        if status == 200:
            self.accepted.setdefault(delivery.text, time.monotonic())
        return status

    async def fire(self, post: Post, deliveries: Sequence[Delivery], concurrency: int) -> list[int]:
        """Send every delivery, ``concurrency`` at a time; their statuses."""
        gate = asyncio.Semaphore(concurrency)

        async def one(delivery: Delivery) -> int:
            async with gate:
                return await self.send(post, delivery)

        return await asyncio.gather(*(one(delivery) for delivery in deliveries))

    def out_of_order(self, stored: Sequence[str]) -> list[tuple[str, str]]:
        """Pairs (stored earlier, stored later) of one chat whose later one had been
        accepted before the earlier one was first sent; ``stored`` are the texts in the
        order the database keeps them."""
        wrong: list[tuple[str, str]] = []
        latest: dict[str, tuple[float, str]] = {}  # per chat: the latest first send so far
        for text in stored:
            chat = self.chat[text]
            if chat in latest and self.accepted[text] < latest[chat][0]:
                wrong.append((latest[chat][1], text))
            if chat not in latest or self.sent[text] > latest[chat][0]:
                latest[chat] = (self.sent[text], text)
        return wrong
