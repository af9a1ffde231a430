"""The live socket over real HTTP on loopback: who may connect, what arrives, what never does,
and how a dropped client catches up. On the PostgreSQL run every app uses the Redis bus."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from core import tokens
from core.auth import set_password
from core.events import change
from core.live import replay
from core.models import Role, TokenKind, User
from core.settings import Settings
from inbox.service import create_contact
from tests.bot import conftest as channels
from tests.conftest import PASSWORD, Api, Backend, make_user
from tests.fakes.whatsapp import FakeGraph, signed
from triggers.tasks import complete_task, create_task, delete_task
from web.app import create_app
from web.keys import LIVE
from web.live.socket import BEHIND, CHECK_SECONDS, SIGNED_OUT
from web.middleware import SESSION_COOKIE

# the channel fixtures of the bot tests: a WhatsApp channel on a fake Graph API
inbox_stage = channels.inbox_stage
fake_graph = channels.fake_graph
whatsapp_channel = channels.whatsapp_channel

WAIT = 10


async def session_cookie(user: User) -> dict[str, str]:
    """The header a signed-in browser sends with the upgrade."""
    token = await tokens.issue_token(user=user, kind=TokenKind.SESSION)
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


async def connect(
    client: TestClient, user: User, after: int | None = None
) -> aiohttp.ClientWebSocketResponse:
    """A signed-in socket, past its hello."""
    params = {} if after is None else {"after": str(after)}
    ws = await client.ws_connect("/ws", headers=await session_cookie(user), params=params)
    hello = await ws.receive_json(timeout=WAIT)
    assert hello["kind"] == "live.hello" and hello["id"] is None
    return ws


async def until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> list[dict]:
    """Every message up to and including the first of ``kind``."""
    seen: list[dict] = []
    async with asyncio.timeout(WAIT):
        while not seen or seen[-1]["kind"] != kind:
            seen.append(await ws.receive_json())
    return seen


def kinds(messages: list[dict]) -> list[str]:
    return [m["kind"] for m in messages]


async def marker(admin: User, name: str) -> None:
    """A change everyone may see, committed after the ones under test: reading up to it
    proves that what came before and is missing was never sent."""
    await create_contact(actor=admin, name=name)


@pytest.fixture
async def second_operator(db: Backend) -> User:
    return await make_user(Role.OPERATOR, "second@example.com")


async def test_anonymous_and_bad_sessions_cannot_upgrade(anon: Api, operator: User) -> None:
    for headers in ({}, {"Cookie": f"{SESSION_COOKIE}=fbx_1_forged"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anon.client.ws_connect("/ws", headers=headers)
        assert refused.value.status == 401
    status, body = await anon.get("/ws", headers=await session_cookie(operator))
    assert status == 422 and body["error"]["field"] == "Upgrade"


async def test_login_cookie_opens_the_socket(anon: Api, operator: User, admin: User) -> None:
    login = {"email": operator.email, "password": PASSWORD}
    async with anon.client.post("/api/v1/auth/login", json=login) as response:
        assert response.status == 200
    ws = await anon.client.ws_connect("/ws")  # the client's jar sends the session cookie
    hello = await ws.receive_json(timeout=WAIT)
    assert hello["kind"] == "live.hello" and hello["data"]["last_id"] > 0
    await create_contact(actor=admin, name="Ann")
    [created] = await until(ws, "contact.created")
    assert created["data"]["name"] == "Ann" and created["id"] > hello["data"]["last_id"]
    assert set(created) >= {"id", "kind", "deal_id", "data"}
    await ws.close()


async def test_ingested_message_reaches_the_socket(
    anon: Api, operator: User, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    ws = await connect(anon.client, operator)
    body, headers = signed(
        fake_graph.webhooks.text("16505551234", "Friday?", name="Maria"), channels.APP_SECRET
    )
    status, _ = await anon.call("POST", "/webhooks/whatsapp", data=body, headers=headers)
    assert status == 200
    await channels.drain(anon)
    seen = await until(ws, "message.received")
    assert "contact.created" in kinds(seen)
    assert not [k for k in kinds(seen) if k.startswith("deal.")]  # the operator's socket
    assert seen[-1]["data"]["kind"] == "text" and seen[-1]["data"]["dialog_id"] > 0
    await ws.close()


async def test_rolled_back_change_never_appears(anon: Api, admin: User) -> None:
    ws = await connect(anon.client, admin)
    with pytest.raises(RuntimeError):
        async with change(admin) as batch:
            await batch.record("dialog.rolled_back", dialog_id=1)
            raise RuntimeError("the transaction fails after recording")
    await marker(admin, "After the rollback")
    seen = await until(ws, "contact.created")
    assert kinds(seen) == ["contact.created"]
    await ws.close()


async def test_operator_gets_no_deal_events(api: Api, operator: User, admin: User) -> None:
    operator_ws = await connect(api.client, operator)
    admin_ws = await connect(api.client, admin)
    status, pipeline = await api.post("/api/v1/pipelines", {"name": "Sales"})
    assert status == 201
    contact = await create_contact(actor=admin, name="Bob")
    status, _ = await api.post(
        "/api/v1/deals", {"contact_ids": [contact.id], "pipeline_id": pipeline["id"]}
    )
    assert status == 201
    await marker(admin, "After the deal")
    assert "deal.created" in kinds(await until(admin_ws, "deal.created"))
    assert kinds(await until(operator_ws, "contact.created")) == ["contact.created"]
    assert kinds(await until(operator_ws, "contact.created")) == ["contact.created"]
    await operator_ws.close()
    await admin_ws.close()


async def test_task_events_reach_the_assignee_and_admins_only(
    anon: Api, admin: User, operator: User, second_operator: User
) -> None:
    sockets = {u.email: await connect(anon.client, u) for u in (admin, operator, second_operator)}
    task = await create_task(actor=admin, title="Call", due_at=_soon(), assignee_id=operator.id)
    await marker(admin, "After the task")
    for email in (admin.email, operator.email):
        seen = await until(sockets[email], "contact.created")
        assert kinds(seen) == ["task.created", "contact.created"], email
        assert seen[0]["data"]["task_id"] == task.id
    assert kinds(await until(sockets[second_operator.email], "contact.created")) == [
        "contact.created"
    ]
    await complete_task(actor=admin, task_id=task.id)
    await delete_task(actor=admin, task_id=task.id)
    await marker(admin, "After completing it")
    seen = await until(sockets[operator.email], "contact.created")
    assert kinds(seen) == ["task.completed", "task.deleted", "contact.created"]
    assert kinds(await until(sockets[second_operator.email], "contact.created")) == [
        "contact.created"
    ]
    for ws in sockets.values():
        await ws.close()


async def test_reconnect_with_last_id_catches_up(
    anon: Api, admin: User, operator: User, second_operator: User
) -> None:
    ws = await connect(anon.client, operator)
    await marker(admin, "Seen live")
    [seen] = await until(ws, "contact.created")
    await ws.close()
    await marker(admin, "Missed while away")
    await create_task(actor=admin, title="Theirs", due_at=_soon(), assignee_id=second_operator.id)
    await marker(admin, "Missed too")
    again = await connect(anon.client, operator, after=seen["id"])
    replayed = await until(again, "contact.created")
    replayed += await until(again, "contact.created")
    replayed += await until(again, "contact.created")
    # the overlap sends the last seen event again (the client drops ids it has seen);
    # another operator's task is not replayed
    names = [m["data"]["name"] for m in replayed]
    assert names == ["Seen live", "Missed while away", "Missed too"]
    assert replayed[0]["id"] == seen["id"]
    await again.close()


async def test_replay_of_a_long_absence_says_reset_instead(admin: User) -> None:
    for name in ("A", "B", "C"):
        await create_contact(actor=admin, name=name)
    everything = await replay(0)
    assert everything is not None and len(everything) >= 4
    assert await replay(0, limit=2) is None


async def test_a_bus_gap_tells_the_client_to_catch_up(anon: Api, admin: User) -> None:
    ws = await connect(anon.client, admin)
    bus = anon.client.server.app[LIVE]
    bus._fan_out(None)  # what a Redis re-subscription announces
    closing = await ws.receive(timeout=WAIT)
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == BEHIND


async def test_shutdown_closes_open_sockets(db: Backend, admin: User) -> None:
    server = TestServer(create_app(db.settings(), own_database=False), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(server.make_url("/ws"), headers=await session_cookie(admin))
        assert (await ws.receive_json(timeout=WAIT))["kind"] == "live.hello"
        async with asyncio.timeout(WAIT):  # not the server's whole grace period
            await server.close()
        closing = await ws.receive(timeout=WAIT)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1001  # going away


async def test_a_dead_redis_never_fails_a_commit(db: Backend, admin: User) -> None:
    """Publishing is fire-and-forget: the commit succeeds, this process's sockets still
    get the event, and other processes would catch up from the table."""
    settings = db.settings().model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    async with _served(settings) as client:
        ws = await connect(client, admin)
        contact = await create_contact(actor=admin, name="Still saved")
        [created] = await until(ws, "contact.created")
        assert created["data"]["contact_id"] == contact.id
        await ws.close()


async def test_two_app_instances_share_the_redis_bus(db: Backend, admin: User) -> None:
    """A message one instance publishes reaches the other's socket through Redis, and its
    own socket once (directly, not again through Redis)."""
    if db.redis_url is None:
        pytest.skip("needs Redis (the PostgreSQL + Redis run)")
    async with _served(db.settings()) as one, _served(db.settings()) as other:
        local, remote = await connect(one, admin), await connect(other, admin)
        sent = {"id": 10**12, "kind": "dialog.ping", "deal_id": None, "data": {}}
        one.server.app[LIVE].publish(sent)
        assert await remote.receive_json(timeout=WAIT) == sent
        assert await local.receive_json(timeout=WAIT) == sent
        await marker(admin, "After the ping")
        assert kinds(await until(local, "contact.created")) == ["contact.created"]
        await local.close()
        await remote.close()


def _soon() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


@asynccontextmanager
async def _served(settings: Settings) -> AsyncIterator[TestClient]:
    """One more application instance on loopback, sharing the test's database."""
    client = TestClient(TestServer(create_app(settings, own_database=False), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def closed_with(ws: aiohttp.ClientWebSocketResponse, within: float) -> int | None:
    """The close code the server sends within ``within`` s, skipping other messages."""
    async with asyncio.timeout(within):
        while (await ws.receive()).type != aiohttp.WSMsgType.CLOSE:
            pass
    return ws.close_code


async def test_a_logout_elsewhere_closes_the_sessions_socket(
    anon: Api, operator: User, admin: User
) -> None:
    """Logouts are no event: the socket notices on its next check of the session."""
    session = await tokens.issue_token(user=operator, kind=TokenKind.SESSION)
    cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}
    ws = await anon.client.ws_connect("/ws", headers=cookie)
    other = await connect(anon.client, operator)  # another session of the same user
    status, _ = await anon.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {session}"}
    )
    assert status == 204
    assert await closed_with(ws, CHECK_SECONDS + WAIT) == SIGNED_OUT
    await marker(admin, "Still here")
    assert kinds(await until(other, "contact.created"))[-1] == "contact.created"
    with pytest.raises(aiohttp.WSServerHandshakeError):  # and it cannot come back
        await anon.client.ws_connect("/ws", headers=cookie)
    await other.close()


@pytest.mark.parametrize("how", ["deactivate", "setpassword"])
async def test_revoking_events_close_the_users_sockets_at_once(
    anon: Api, owner: User, operator: User, second_operator: User, how: str
) -> None:
    """A deactivation or a new password ends every session of the user: their sockets
    close on the event, well before the periodic check, and a colleague's stays open."""
    api = await anon.as_user(owner)
    theirs = await connect(api.client, operator)
    colleagues = await connect(api.client, second_operator)
    await asyncio.sleep(0.1)  # the socket's watch is running
    started = asyncio.get_running_loop().time()
    if how == "deactivate":
        status, _ = await api.post(f"/api/v1/users/{operator.id}/deactivate")
        assert status == 200
    else:
        await set_password(actor=None, user=operator, password="a new password 123")
    assert await closed_with(theirs, WAIT) == SIGNED_OUT
    assert asyncio.get_running_loop().time() - started < CHECK_SECONDS
    await marker(owner, "Still open")
    assert kinds(await until(colleagues, "contact.created"))[-1] == "contact.created"
    await colleagues.close()
