"""SIGKILL of a real `funnelbox serve` while its outbox sends: the next process sends the
rest, every reply reaches the platform, each dialog's in order, and the only copies are
of sends in flight when the process died.

A send the platform took but whose answer the dead process never recorded cannot be
told apart from one it never took: Telegram's Bot API and the Cloud API accept no
idempotency key (the outbox's docstring), so the next process sends it again. That is
what is asserted: at most one message twice per dialog (a dialog has one send in flight
at a time), each of them one the platform had and our database had not marked sent.
"""

import asyncio
import os
from datetime import UTC, datetime

from core.events import change
from inbox.dialogs import queue
from inbox.models import Author, Direction, Message, Outbox, OutboxState
from tests.bot.test_outbox import open_chat
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeGraph
from tests.processes import Server

WHATSAPP = [f"1650557{n:04d}" for n in range(6)]
TELEGRAM = ["6001", "6002"]
#: Replies per dialog: WhatsApp sends a burst of 45 to a customer, Telegram one a second.
EACH = {"whatsapp": 12, "telegram": 3}
#: Every answer comes this late, so that sends are in flight when the process dies.
LATE = 0.1


def received(fake_telegram: FakeTelegram, fake_graph: FakeGraph, chat: str) -> list[str]:
    """The texts the platform took for ``chat``, in the order it took them."""
    if chat in TELEGRAM:
        messages = fake_telegram.messages.items()
        return [m["text"] for (to, _), m in messages if str(to) == chat]
    return [body["text"]["body"] for body in fake_graph.sent.values() if body["to"] == chat]


def collapsed(texts: list[str]) -> list[str]:
    """``texts`` with each run of one text taken once (a resend follows its first copy)."""
    return [text for i, text in enumerate(texts) if i == 0 or texts[i - 1] != text]


async def test_a_server_killed_mid_send_leaves_the_rest_to_the_next_in_order(
    db: Backend, telegram_channel: dict, whatsapp_channel: dict,
    fake_telegram: FakeTelegram, fake_graph: FakeGraph,
) -> None:  # fmt: skip
    queued: dict[str, list[str]] = {}
    for channel, chats in ((whatsapp_channel, WHATSAPP), (telegram_channel, TELEGRAM)):
        for chat in chats:
            dialog = await open_chat(channel, chat)
            queued[chat] = [f"{chat}-{i}" for i in range(EACH[channel["kind"]])]
            async with change(None) as batch:
                for text in queued[chat]:
                    await queue(batch, dialog=dialog, author=Author.BOT, text=text)
    fake_graph.slow("messages", LATE, times=None)
    fake_telegram.slow("sendMessage", LATE, times=None)
    env = {
        **os.environ, "FUNNELBOX_DATABASE_URL": db.url, "FUNNELBOX_REDIS_URL": "",
        "FUNNELBOX_SECRET_KEY": SECRET_KEY.get_secret_value(), "FUNNELBOX_OUTBOX_WORKER": "true",
        "FUNNELBOX_MEDIA_DIR": str(db.media_dir),
    }  # fmt: skip
    total = sum(len(texts) for texts in queued.values())
    async with Server(env, dispatch=False) as first:
        await fake_graph.wait_arrivals(len(WHATSAPP) * EACH["whatsapp"] // 3)
        first.process.kill()  # SIGKILL with sends in flight
        await first.process.wait()
    marked_sent = {m.text for m in await Message.filter(direction=Direction.OUT, status="sent")}
    taken = {text for chat in queued for text in received(fake_telegram, fake_graph, chat)}
    in_flight = taken - marked_sent  # the platform has them, our database does not know
    assert 0 < len(marked_sent) < total, "killed mid-send"
    # the dead process's leases run out: the clock moves past them (as in test_outbox)
    await Outbox.filter(state=OutboxState.PENDING).update(next_attempt_at=datetime.now(UTC))
    async with Server(env, dispatch=False):
        async with asyncio.timeout(30):
            while await Message.filter(direction=Direction.OUT, status="sent").count() < total:
                await asyncio.sleep(0.1)
    for chat, texts in queued.items():
        got = received(fake_telegram, fake_graph, chat)
        assert collapsed(got) == texts, f"{chat}: every reply, in order"
        twice = [text for text in texts if got.count(text) > 1]
        assert len(got) == len(texts) + len(twice) and len(twice) <= 1, f"{chat}: {got}"
        assert set(twice) <= in_flight, "only a send in flight at the kill is repeated"
    platform_ids = set(fake_graph.sent) | {f"{c}:{m}" for c, m in fake_telegram.messages}
    sent = await Message.filter(direction=Direction.OUT)
    assert {m.status for m in sent} == {"sent"} and {m.external_id for m in sent} <= platform_ids
    print(f"killed with {len(marked_sent)} of {total} marked sent, {len(in_flight)} in flight")
