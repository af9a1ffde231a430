"""``GET /ws``: the live socket of an open page.

The session is checked like every page's (the browser sends the cookie with the
upgrade; the route table refuses anonymous callers with 401 before any upgrade). The
socket first says hello with the newest event id, replays what the client missed when
it says where it stopped (``?after=<last event id seen>``, see ``core.live`` for the
overlap and why), then streams what the bus brings. Close codes tell ``live.js`` what
to do: :data:`BEHIND` means "reconnect now and catch up", anything else "reconnect
with backoff".
"""

import asyncio
import contextlib

from aiohttp import WSCloseCode, web
from pydantic import BaseModel, Field

from core.bus import Message
from core.errors import ValidationFailed
from core.live import last_id, replay
from web.api import EVERYONE, actor
from web.keys import LIVE, SOCKETS
from web.live.feed import Behind, Feed
from web.live.visibility import visible
from web.routes import api

#: Private-use close code: messages may have been lost, reconnect at once with ``after``.
BEHIND = 4000
HEARTBEAT_SECONDS = 25.0


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
    stop_listening = request.app[LIVE].listen(feed)  # before catch-up: nothing falls between
    sockets = request.app[SOCKETS]
    reader: asyncio.Task[None] | None = None
    try:
        await ws.prepare(request)
        sockets.add(ws)
        reader = asyncio.create_task(_read_until_closed(ws, feed))
        await _stream(ws, feed, query.after)
    except ConnectionResetError:
        pass  # the client left while we were sending
    finally:
        stop_listening()
        sockets.discard(ws)
        if reader is not None:
            reader.cancel()
    return ws


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
