"""``GET /ws``: the live socket of an open page.

The session is checked like every page's (the browser sends the cookie with the
upgrade; the route table refuses anonymous callers with 401 before any upgrade). The
socket first says hello with the newest event id, replays what the client missed when
it says where it stopped (``?after=<last event id seen>``, see ``core.live`` for the
overlap and why), then streams what the bus brings. Close codes tell ``live.js`` what
to do: :data:`BEHIND` means "reconnect now and catch up", :data:`SIGNED_OUT` "the
session ended: reload (which leads to the login)", anything else "reconnect with backoff".

A session can end while its socket is open: a logout elsewhere, a new password, the
user's deactivation, a revoked token, expiry. Logouts and expiry are no events, so the
socket re-checks its credential every :data:`CHECK_SECONDS`, and at once when the bus
brings an event that revokes credentials.
"""

import asyncio
import contextlib
import logging

from aiohttp import WSCloseCode, web
from pydantic import BaseModel, Field

from core.bus import Message
from core.errors import Unauthenticated, ValidationFailed
from core.live import last_id, replay
from core.tokens import resolve_token
from web.api import EVERYONE, actor
from web.keys import CREDENTIAL, LIVE, SOCKETS
from web.live.feed import Behind, Feed
from web.live.visibility import visible
from web.routes import api

log = logging.getLogger(__name__)

#: Private-use close code: messages may have been lost, reconnect at once with ``after``.
BEHIND = 4000
#: Private-use close code: the socket's session or token no longer holds.
SIGNED_OUT = 4001
HEARTBEAT_SECONDS = 25.0
#: How often an open socket asks whether its credential still holds.
CHECK_SECONDS = 5.0
#: Events after which some credentials stop working: the sockets check theirs at once.
REVOKING = frozenset({"token.revoked", "user.deactivated", "user.password_changed"})


class LiveQuery(BaseModel):
    """Where the client stopped: the last event id it saw (none on a first connect)."""

    after: int | None = Field(default=None, ge=0, le=2**63 - 1)


def control(kind: str, **data: object) -> Message:
    """A message of the socket itself, shaped like an event's but without an id."""
    return {"id": None, "kind": kind, "deal_id": None, "data": data}


@api.route(
    "GET",
    "/ws",
    summary="Live events (WebSocket upgrade); ?after= replays what was missed",
    tag="live",
    roles=EVERYONE,
    query=LiveQuery,
    status=101,
)
async def live_socket(request: web.Request, query: LiveQuery) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    if not ws.can_prepare(request).ok:
        raise ValidationFailed("GET /ws expects a WebSocket upgrade", field="Upgrade")
    feed = Feed(actor(request))
    bus = request.app[LIVE]
    stop_listening = bus.listen(feed)  # before catch-up: nothing falls between
    revoked = asyncio.Event()
    stop_watching = bus.listen(lambda m: revoked.set() if m and m["kind"] in REVOKING else None)
    sockets = request.app[SOCKETS]
    tasks: list[asyncio.Task[None]] = []
    try:
        await ws.prepare(request)
        sockets.add(ws)
        tasks.append(asyncio.create_task(_read_until_closed(ws, feed)))
        tasks.append(asyncio.create_task(_end_with_session(ws, feed, request[CREDENTIAL], revoked)))
        await _stream(ws, feed, query.after)
    except ConnectionResetError:
        pass  # the client left while we were sending
    finally:
        stop_listening()
        stop_watching()
        sockets.discard(ws)
        for task in tasks:
            task.cancel()
    return ws


async def _end_with_session(
    ws: web.WebSocketResponse, feed: Feed, credential: str, revoked: asyncio.Event
) -> None:
    """Close the socket with :data:`SIGNED_OUT` once ``credential`` stops resolving."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(revoked.wait(), CHECK_SECONDS)
        revoked.clear()
        try:
            await resolve_token(credential)
        except Unauthenticated:
            feed.close()
            with contextlib.suppress(ConnectionResetError):
                await ws.close(code=SIGNED_OUT, message=b"signed out")
            return
        except Exception:  # the database is away: the next round asks again
            log.warning("live socket: could not check the session", exc_info=True)


async def _read_until_closed(ws: web.WebSocketResponse, feed: Feed) -> None:
    """Clients have nothing to say; reading answers pings and notices the close."""
    async for _ in ws:
        pass
    feed.close()


async def _stream(ws: web.WebSocketResponse, feed: Feed, after: int | None) -> None:
    replayed = await _catch_up(ws, feed, after)
    try:
        while not feed.closed:
            for message in await feed.take():
                if message["id"] not in replayed:
                    await ws.send_json(message)
    except Behind:
        await ws.close(code=BEHIND, message=b"catch up")


async def _catch_up(ws: web.WebSocketResponse, feed: Feed, after: int | None) -> set[int]:
    """Hello, then the missed events the user may see; returns their ids, which the
    live stream may bring again."""
    await ws.send_json(control("live.hello", last_id=await last_id()))
    if after is None:
        return set()
    missed = await replay(after)
    if missed is None:
        await ws.send_json(control("live.reset"))
        return set()
    shown = [message for message in missed if visible(message, feed.user)]
    for message in shown:
        await ws.send_json(message)
    return {message["id"] for message in shown}


async def close_all(app: web.Application) -> None:
    """On shutdown: open sockets would hold the server for its whole grace period."""
    sockets = app[SOCKETS]
    for ws in list(sockets):
        with contextlib.suppress(ConnectionResetError):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
