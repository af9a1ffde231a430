"""Parked items are visible with their errors and put back in their queues on demand:
through the API (owners and admins), ``funnelbox parked`` and ``/healthz``'s count."""

import os

from bot.models import InboundDelivery
from bot.outbox import OutboxWorker
from core.models import Event, User
from inbox.models import Message, Outbox
from tests.bot.test_outbox import open_chat, reply
from tests.bot.test_telegram_inbound import ALICE, deliver
from tests.conftest import SECRET_KEY, Api, Backend
from tests.fakes.telegram import FakeTelegram
from tests.processes import funnelbox


async def test_a_parked_send_is_listed_and_sent_once_retried(
    api: Api, anon: Api, operator: User, telegram_channel: dict, fake_telegram: FakeTelegram,
    worker: OutboxWorker,
) -> None:  # fmt: skip
    dialog = await open_chat(telegram_channel, "5001")
    queued = await reply(api, dialog, "hello")
    fake_telegram.fail_next("sendMessage", status=403)  # blocked, then unblocked
    await worker.run_once()
    row = await Outbox.get(message_id=queued["id"])
    status, listed = await api.get("/api/v1/parked")
    assert status == 200
    assert [(i["ref"], i["error"]) for i in listed] == [
        (f"send:{row.id}", "Forbidden: bot was blocked by the user")
    ]
    assert listed[0]["detail"]["message_id"] == queued["id"]
    _, health = await anon.get("/healthz")
    assert health["parked"] == {"delivery": 0, "event": 0, "send": 1, "conversion": 0}
    assert (await (await anon.as_user(operator)).get("/api/v1/parked"))[0] == 403
    status, answer = await api.post("/api/v1/parked/retry", {"ids": [f"send:{row.id}"]})
    assert (status, answer) == (200, {"retried": [f"send:{row.id}"]})
    assert (await Message.get(id=queued["id"])).status == "queued"
    assert await worker.run_once() == 1
    message = await Message.get(id=queued["id"])
    assert (message.status, message.error) == ("sent", None)
    assert (await Outbox.get(id=row.id)).parked_at is None
    assert (await api.get("/api/v1/parked"))[1] == []
    assert await Event.filter(kind="parked.retried").count() == 1


async def test_retrying_what_is_not_parked_is_refused_and_changes_nothing(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.text_update(ALICE, "Hi!")
    update["message"]["date"] = "not a date"
    await deliver(api, telegram_channel, update)
    [parked] = await InboundDelivery.all()
    for body, code in [
        ({"ids": [f"delivery:{parked.id}", "send:99"]}, 404),
        ({"ids": ["delivery"]}, 422),
        ({"ids": ["x:1"]}, 422),
        ({}, 422),
        ({"ids": ["delivery:1"], "all": True}, 422),
    ]:
        status, answer = await api.post("/api/v1/parked/retry", body)
        assert status == code, (body, answer)
        assert answer["error"]["field"] in {"ids", "body"}
    assert (await InboundDelivery.get()).parked_at is not None
    assert (await api.get("/api/v1/parked?kind=nothing"))[0] == 422


async def test_the_command_lists_and_retries_every_parked_item(
    db: Backend, api: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.text_update(ALICE, "Hi!")
    update["message"]["date"] = "not a date"
    await deliver(api, telegram_channel, update)
    [parked] = await InboundDelivery.all()
    env = {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": db.url,
        "FUNNELBOX_REDIS_URL": "",
        "FUNNELBOX_SECRET_KEY": SECRET_KEY.get_secret_value(),
    }
    listed = await funnelbox(env, "parked", "list")
    assert f"delivery:{parked.id}\t" in listed and "unreadable Telegram update" in listed
    assert "1 parked" in listed
    assert f"retried 1: delivery:{parked.id}" in await funnelbox(env, "parked", "retry", "--all")
    row = await InboundDelivery.get()
    assert (row.parked_at, row.attempts, row.next_attempt_at is not None) == (None, 0, True)
