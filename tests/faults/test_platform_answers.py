"""The messengers answering badly: slowly, with rate limits and server errors, or with
garbage (an HTML page, a body that is not JSON, JSON cut off or of another shape).

Three dialogs each time, one or two of them answered badly: the others are sent in the
same round (no worker waits on a bad answer), every wait the platform asks for is
honoured, the reason shows on the waiting message, and every message ends sent once
the platform behaves. Garbage comes from something in front of the API, which did not
send; a late answer comes from the platform, which did: its retry is a second copy
(the platform has it twice, as after a kill mid-send).
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.senders import Timeouts
from core.models import Event
from inbox.models import Message, Outbox
from tests.bot.conftest import MakeWorker
from tests.bot.test_outbox import make_due, open_chat, reply
from tests.conftest import Api
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeGraph

#: Sends give up after a second, so a slow answer costs the test one.
FAST = Timeouts(text=1, media=1)


@dataclass
class Platform:
    """One messenger under test: its channel, its fake, and what the fake received."""

    name: str
    channel: dict
    fake: FakeTelegram | FakeGraph
    chats: tuple[str, str, str]

    @property
    def target(self) -> str:
        """The fake's name for the call that sends a text."""
        return "sendMessage" if self.name == "telegram" else "messages"

    def chat(self, index: int) -> Any:
        """Chat ``index`` as the fake sees it in a send (Telegram: an integer)."""
        return int(self.chats[index]) if self.name == "telegram" else self.chats[index]

    def received(self, index: int) -> list[str]:
        """The texts the platform took for chat ``index``, in order."""
        if isinstance(self.fake, FakeTelegram):
            messages = self.fake.messages.items()
            return [m["text"] for (chat, _), m in messages if chat == self.chat(index)]
        return [b["text"]["body"] for b in self.fake.sent.values() if b["to"] == self.chats[index]]


@pytest.fixture(params=["telegram", "whatsapp"])
def platform(request: pytest.FixtureRequest) -> Platform:
    if request.param == "telegram":
        channel, fake = request.getfixturevalue("telegram_channel"), "fake_telegram"
        chats = ("5001", "5002", "5003")
    else:
        channel, fake = request.getfixturevalue("whatsapp_channel"), "fake_graph"
        chats = ("16505551001", "16505551002", "16505551003")
    return Platform(request.param, channel, request.getfixturevalue(fake), chats)


async def queue_one_each(api: Api, platform: Platform) -> list[int]:
    """One reply queued in each of the platform's three dialogs; the message ids."""
    ids = []
    for chat in platform.chats:
        dialog = await open_chat(platform.channel, chat)
        ids.append((await reply(api, dialog, f"to {chat}"))["id"])
    return ids


async def status_events(message_id: int) -> list[int]:
    """The ids of the ``message.status`` events of a message, in commit order."""
    events = await Event.filter(kind="message.status").order_by("id")
    return [event.id for event in events if event.data["message_id"] == message_id]


@pytest.mark.parametrize("kind", ["html", "html-200", "text", "truncated", "shape", "empty"])
async def test_a_garbled_answer_is_retried_with_its_reason_and_the_others_go_on(
    api: Api, platform: Platform, make_worker: MakeWorker, kind: str
) -> None:
    worker = make_worker(timeouts=FAST)
    garbled, *others = await queue_one_each(api, platform)
    platform.fake.garble(platform.target, kind, chat=platform.chat(0), times=1)
    assert await worker.run_once() == 3, "the worker survived the answer"
    waiting = await Message.get(id=garbled)
    if platform.name == "telegram":
        reason = "Telegram answered something unreadable"
    else:
        reason = "carries no message id" if kind in ("shape", "empty") else "without a Graph error"
    assert waiting.status == "queued" and reason in waiting.error
    assert len(waiting.error) < 400, "a reason quotes the answer's start, not the page"
    row = await Outbox.get(message_id=garbled)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, waiting.error)
    assert [(await Message.get(id=i)).status for i in others] == ["sent", "sent"]
    assert platform.received(0) == [], "what answered garbage did not send"
    await make_due()
    assert await worker.run_once() == 1
    sent = await Message.get(id=garbled)
    assert (sent.status, sent.error) == ("sent", None) and sent.external_id
    assert [platform.received(i) for i in range(3)] == [[f"to {c}"] for c in platform.chats]


async def test_a_slow_answer_times_out_while_the_other_dialogs_are_sent(
    api: Api, platform: Platform, make_worker: MakeWorker
) -> None:
    worker = make_worker(timeouts=FAST)
    slow, *others = await queue_one_each(api, platform)
    platform.fake.slow(platform.target, 60, chat=platform.chat(0))
    async with asyncio.timeout(15):  # the answer would take 60 s: the client gives up
        assert await worker.run_once() == 3
    waiting = await Message.get(id=slow)
    assert waiting.status == "queued" and "timeout" in waiting.error.lower()
    # the other dialogs' sends were recorded before the slow one's wait: nobody waited
    [noted] = await status_events(slow)
    assert [(await status_events(i))[0] < noted for i in others] == [True, True]
    await make_due()
    assert await worker.run_once() == 1
    assert (await Message.get(id=slow)).status == "sent"
    # the platform did the timed-out send too: no answer, no telling, so it has two
    assert platform.received(0) == [f"to {platform.chats[0]}"] * 2
    assert [platform.received(i) for i in (1, 2)] == [[f"to {c}"] for c in platform.chats[1:]]


async def test_rate_limits_and_server_errors_wait_as_told_while_others_go(
    api: Api, platform: Platform, make_worker: MakeWorker
) -> None:
    worker = make_worker(timeouts=FAST)
    limited, failing, fine = await queue_one_each(api, platform)
    if isinstance(platform.fake, FakeTelegram):
        platform.fake.fail_next("sendMessage", status=429, retry_after=5, chat=platform.chat(0))
        platform.fake.fail_next("sendMessage", status=502, chat=platform.chat(1))
        wait, reasons = 5, ("retry after 5", "Bad Gateway")
    else:
        platform.fake.fail_next(131056, chat=platform.chat(0))  # the pair limit: 6 s at least
        platform.fake.fail_next(131000, chat=platform.chat(1))
        wait, reasons = 6, ("131056", "131000")
    before = datetime.now(UTC)
    assert await worker.run_once() == 3
    assert (await Message.get(id=fine)).status == "sent"
    for message_id, reason in zip((limited, failing), reasons, strict=True):
        waiting = await Message.get(id=message_id)
        assert waiting.status == "queued" and reason in waiting.error
    told = (await Outbox.get(message_id=limited)).next_attempt_at
    assert before + timedelta(seconds=wait) <= told <= before + timedelta(seconds=wait + 3)
    backing_off = (await Outbox.get(message_id=failing)).next_attempt_at
    assert before + timedelta(seconds=1) <= backing_off <= before + timedelta(seconds=3)
    assert await worker.run_once() == 0, "neither is due before its time"
    await make_due()
    assert await worker.run_once() == 2
    assert {(await Message.get(id=i)).status for i in (limited, failing)} == {"sent"}
    assert [platform.received(i) for i in range(3)] == [[f"to {c}"] for c in platform.chats]
