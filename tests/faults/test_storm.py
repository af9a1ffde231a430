"""A duplicate storm, bounded for ``make test`` (``bench/storm.py`` runs it full size):
Telegram and WhatsApp deliveries mixed, 30% sent twice byte for byte, shuffled and
concurrent. Exactly one message per delivery, one dialog and one deal per customer,
each conversation stored in the order its messages were sent (``tests.faults.storm``
says what that order is when deliveries are concurrent)."""

from core.crypto import Vault
from funnels.models import Deal
from inbox.models import Channel, Dialog, Message
from tests.bot.conftest import APP_SECRET, drain
from tests.conftest import SECRET_KEY, Api
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeGraph
from tests.faults.storm import Delivery, Timeline, mixed, storm

CUSTOMERS, EACH, CONCURRENCY = 10, 12, 20


async def test_a_shuffled_duplicate_storm_stores_each_message_once_in_order(
    anon: Api, telegram_channel: dict, whatsapp_channel: dict,
    fake_telegram: FakeTelegram, fake_graph: FakeGraph,
) -> None:  # fmt: skip
    stored = await Channel.get(id=telegram_channel["id"])
    secret = Vault(SECRET_KEY.get_secret_value()).open(stored.credentials)["webhook_secret"]
    deliveries = mixed(
        fake_telegram, telegram_channel["webhook_path"], secret, fake_graph.webhooks, APP_SECRET,
        customers=CUSTOMERS, each=EACH,
    )  # fmt: skip

    async def post(delivery: Delivery) -> int:
        data, headers = delivery.body, delivery.headers
        status, _ = await anon.call("POST", delivery.path, data=data, headers=dict(headers))
        return status

    timeline = Timeline()
    statuses = await timeline.fire(post, storm(deliveries, duplicates=0.3, seed=11), CONCURRENCY)
    assert set(statuses) == {200}
    await drain(anon)
    assert await Message.filter(direction="in").count() == len(deliveries)
    assert await Dialog.all().count() == 2 * CUSTOMERS
    assert await Deal.all().count() == 2 * CUSTOMERS
    texts = [m.text for m in await Message.filter(direction="in").order_by("id")]
    assert len(set(texts)) == len(texts)
    assert timeline.out_of_order(texts) == []
