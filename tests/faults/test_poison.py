"""Poison items: a verified body is split into items, every readable one is stored, an
unreadable one is kept parked with its error, and the answer is 200 (the platform would
only send the same body again, for days). Each input the reliability issue lists."""

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.models import InboundDelivery
from inbox.models import Message
from tests.bot.conftest import APP_SECRET, drain
from tests.bot.test_telegram_inbound import ALICE, deliver
from tests.conftest import Api
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeGraph, sign

WA_ID = "16505551234"
Body = dict[str, Any]


def _value(body: Body) -> Body:
    return body["entry"][0]["changes"][0]["value"]


def _nested(depth: int) -> Any:
    node: Any = "bottom"
    for _ in range(depth):
        node = {"deeper": node}
    return node


def _set(path: str, value: Any) -> Callable[[Body], None]:
    """A change to the middle item: ``value`` at ``path`` of its change's value."""

    def change(body: Body) -> None:
        *parents, last = path.split(".")
        node = _value(body)
        for name in parents:
            node = node[name][0] if name == "messages" else node[name]
        node[last] = value

    return change


#: (what is wrong with the middle item, the change, what the parked row's error says)
POISON = [
    ("messages is a dict", _set("messages", {"id": "wamid.X"}), "messages is not a list"),
    ("messages is a string", _set("messages", "hello"), "messages is not a list"),
    ("metadata is a string", _set("metadata", "123"), "without metadata.phone_number_id"),
    ("text is a string", _set("messages.text", "hello"), "text is not an object"),
    ("id over 160 characters", _set("messages.id", "wamid." + "x" * 161), "id is longer"),
    ("JSON nested too deep", _set("messages.context", _nested(40)), "nests deeper"),
]


async def _post(anon: Api, body: bytes) -> int:
    headers = {"X-Hub-Signature-256": sign(body, APP_SECRET), "Content-Type": "application/json"}
    status, _ = await anon.call("POST", "/webhooks/whatsapp", data=body, headers=headers)
    await drain(anon)
    return status


def _three(fake_graph: FakeGraph, middle: str = "poison") -> Body:
    """One body of three entries: a good message, the middle one, a good message."""
    parts = [fake_graph.webhooks.text(WA_ID, text) for text in ("before", middle, "after")]
    return {**parts[0], "entry": [part["entry"][0] for part in parts]}


async def _texts() -> list[str]:
    return [m.text for m in await Message.all().order_by("id")]


@pytest.mark.parametrize(("case", "poison", "error"), POISON, ids=[p[0] for p in POISON])
async def test_one_poison_item_never_fails_its_neighbours(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph, case: str,
    poison: Callable[[Body], None], error: str,
) -> None:  # fmt: skip
    body = _three(fake_graph)
    middle = {**body, "entry": [body["entry"][1]]}
    poison(middle)
    raw = json.dumps(body).encode()
    assert await _post(anon, raw) == 200, case
    assert await _texts() == ["before", "after"]
    [parked] = await InboundDelivery.filter(parked_at__isnull=False)
    assert error in (parked.last_error or ""), parked.last_error
    assert isinstance(parked.payload["raw"], str), "kept as it came, as JSON text"
    assert await _post(anon, raw) == 200, "Meta's redelivery"
    assert await InboundDelivery.all().count() == 3 and await _texts() == ["before", "after"]


async def test_entry_as_a_dict_is_kept_parked(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    body = fake_graph.webhooks.text(WA_ID, "hi")
    body["entry"] = body["entry"][0]
    assert await _post(anon, json.dumps(body).encode()) == 200
    [parked] = await InboundDelivery.all()
    assert "entry is not a list" in (parked.last_error or "")
    assert json.loads(parked.payload["raw"])["changes"][0]["field"] == "messages"


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
async def test_text_no_database_stores_is_cleaned_and_its_neighbours_stored(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph, bad: str
) -> None:
    assert await _post(anon, json.dumps(_three(fake_graph, bad)).encode()) == 200
    assert await _texts() == [
        "before",
        bad.replace("\x00", "").replace("\ud800", "\ufffd"),
        "after",
    ]
    assert not await InboundDelivery.filter(parked_at__isnull=False).exists()


async def test_a_known_and_an_unknown_phone_number_id_keep_the_known_ones(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    body = _three(fake_graph, "for a number we do not serve")
    body["entry"][1]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999999"
    assert await _post(anon, json.dumps(body).encode()) == 200
    assert await _texts() == ["before", "after"]


async def test_a_body_for_several_numbers_with_a_poison_item_is_stored_in_one_statement(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    body = _three(fake_graph, "for a number we do not serve")
    body["entry"][1]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999999"
    body["entry"].append({"changes": "not a list"})
    raw = json.dumps(body).encode()
    headers = {"X-Hub-Signature-256": sign(raw, APP_SECRET), "Content-Type": "application/json"}
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        status, _ = await anon.call("POST", "/webhooks/whatsapp", data=raw, headers=headers)
    inserts = [r for r in caplog.records if 'INSERT INTO "inbound_delivery"' in r.getMessage()]
    assert (status, len(inserts)) == (200, 1)
    assert await InboundDelivery.filter(parked_at__isnull=False).count() == 1
    await drain(anon)
    assert await _texts() == ["before", "after"]


async def test_a_telegram_update_whose_message_is_a_number_is_kept_parked(
    anon: Api, telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    update = fake_telegram.text_update(ALICE, "fine")
    status, _ = await deliver(anon, telegram_channel, {"update_id": 1, "message": 5})
    assert status == 200
    assert (await deliver(anon, telegram_channel, update))[0] == 200
    assert await _texts() == ["fine"]
    parked = await InboundDelivery.get(parked_at__isnull=False)
    assert parked.payload == {"update_id": 1, "message": 5}
    assert "unreadable Telegram update: message" in (parked.last_error or "")
