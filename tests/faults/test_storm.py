"""A duplicate storm, bounded for ``make test`` (``bench/ingest.py`` runs it full size):
Telegram and WhatsApp deliveries mixed, 30% sent twice byte for byte, shuffled and
concurrent. Exactly one message per delivery, one dialog and one deal per customer."""

import asyncio
import json
import random

from core.crypto import Vault
from funnels.models import Deal
from inbox.models import Channel, Dialog, Message
from tests.bot.conftest import APP_SECRET, drain
from tests.conftest import SECRET_KEY, Api
from tests.fakes.telegram import FakeTelegram, TelegramUser
from tests.fakes.whatsapp import FakeGraph, sign

CUSTOMERS, EACH, CONCURRENCY = 10, 12, 20


async def test_a_shuffled_duplicate_storm_stores_each_message_once(
    anon: Api, telegram_channel: dict, whatsapp_channel: dict,
    fake_telegram: FakeTelegram, fake_graph: FakeGraph,
) -> None:  # fmt: skip
    stored = await Channel.get(id=telegram_channel["id"])
    secret = Vault(SECRET_KEY.get_secret_value()).open(stored.credentials)["webhook_secret"]
    deliveries: list[tuple[str, bytes, dict[str, str]]] = []
    for n in range(CUSTOMERS):
        user = TelegramUser(id=7000 + n, first_name=f"T{n}")
        for i in range(EACH):
            body = json.dumps(fake_telegram.text_update(user, f"t{n}-{i}")).encode()
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            deliveries.append((telegram_channel["webhook_path"], body, headers))
            body = json.dumps(fake_graph.webhooks.text(f"1650555{n:04d}", f"w{n}-{i}")).encode()
            deliveries.append(
                ("/webhooks/whatsapp", body, {"X-Hub-Signature-256": sign(body, APP_SECRET)})
            )
    rng = random.Random(11)
    storm = deliveries + rng.sample(deliveries, k=len(deliveries) * 3 // 10)
    rng.shuffle(storm)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(path: str, body: bytes, headers: dict[str, str]) -> int:
        async with gate:
            status, _ = await anon.call("POST", path, data=body, headers=headers)
            return status

    statuses = await asyncio.gather(*(send(*delivery) for delivery in storm))
    assert set(statuses) == {200}
    await drain(anon)
    assert await Message.filter(direction="in").count() == len(deliveries)
    assert await Dialog.all().count() == 2 * CUSTOMERS
    assert await Deal.all().count() == 2 * CUSTOMERS
    texts = [m.text for m in await Message.filter(direction="in").order_by("id")]
    assert len(set(texts)) == len(texts)
