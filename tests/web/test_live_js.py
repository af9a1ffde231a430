"""``web/static/js/live.js`` in Node against a real server on loopback: it dispatches each
event once, shows the offline banner while the server is down, and after the server
comes back reconnects by itself with the last id it saw and gets what it missed."""

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from core.models import User
from inbox.service import create_contact
from tests.conftest import Backend
from tests.processes import ROOT, free_port
from tests.web.test_live import session_cookie
from web.app import create_app

NODE = shutil.which("node")
LIVE_JS = ROOT / "web" / "static" / "js" / "live.js"
#: A page for live.js: a document with one banner, a location, and a WebSocket that sends
#: the session cookie (a browser would); it prints what the page would see, one JSON a line.
HARNESS = """
const [base, cookie, module] = process.argv.slice(2);
const out = (line) => process.stdout.write(JSON.stringify(line) + "\\n");
const banner = { hidden: true };
globalThis.document = Object.assign(new EventTarget(), {
  querySelectorAll: (selector) => (selector === "[data-live-banner]" ? [banner] : []),
});
globalThis.location = new URL(base);
const win = new EventTarget();
globalThis.addEventListener = win.addEventListener.bind(win);
globalThis.WebSocket = class extends WebSocket {
  constructor(url) {
    super(url, { headers: { Cookie: cookie } });
    this.addEventListener("open", () => out({ open: String(url) }));
  }
};
let shown = banner.hidden;
setInterval(() => {
  if (banner.hidden !== shown) out({ banner_hidden: (shown = banner.hidden) });
}, 5);
document.addEventListener("funnelbox:event", (event) => out({ event: event.detail }));
await import(module);
"""

pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js")


async def test_live_js_reconnects_and_catches_up(db: Backend, admin: User, tmp_path: Path) -> None:
    harness = tmp_path / "page.mjs"
    harness.write_text(HARNESS)
    port = free_port()
    server = TestServer(create_app(db.settings(), own_database=False), host="127.0.0.1", port=port)
    await server.start_server()
    cookie = (await session_cookie(admin))["Cookie"]
    node = await asyncio.create_subprocess_exec(
        NODE or "node", "--experimental-websocket", "--no-warnings", str(harness),
        f"http://127.0.0.1:{port}/inbox", cookie, LIVE_JS.as_uri(),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip

    async def next_line(seconds: float = 15) -> dict:
        assert node.stdout is not None
        async with asyncio.timeout(seconds):
            return json.loads(await node.stdout.readline())

    try:
        assert (await next_line())["open"] == f"ws://127.0.0.1:{port}/ws"
        await asyncio.sleep(0.2)  # past the hello
        await create_contact(actor=admin, name="Seen live")
        first = (await next_line())["event"]
        while first["data"].get("name") != "Seen live":  # on a shared Redis another test's
            first = (await next_line())["event"]  # last events may still be in flight
        assert first["kind"] == "contact.created"

        await server.close()
        assert await next_line() == {"banner_hidden": False}
        await create_contact(actor=admin, name="Missed while down")
        server = TestServer(
            create_app(db.settings(), own_database=False), host="127.0.0.1", port=port
        )
        await server.start_server()
        # the retries back off while the server is down (the fifth waits 8-16 s, and a
        # loaded machine may take that long to start the app again)
        lines = [await next_line(seconds=40)]
        while lines[-1].get("event", {}).get("data", {}).get("name") != "Missed while down":
            lines.append(await next_line())
        assert lines[0] == {"open": f"ws://127.0.0.1:{port}/ws?after={first['id']}"}
        assert {"banner_hidden": True} in lines
        # the replay overlaps backwards (older events it never saw may come too), and
        # brings "Seen live" again: live.js drops what it has dispatched already
        replayed = [line["event"] for line in lines if "event" in line]
        assert first["id"] not in [event["id"] for event in replayed]
        assert replayed[-1]["id"] > first["id"]
    finally:
        node.kill()
        await node.wait()
        await server.close()
