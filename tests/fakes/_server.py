"""The part every fake shares: an aiohttp application listening on 127.0.0.1, and the
scripted misbehaviour of a platform's front (slow answers, answers that are not the API's)."""

import asyncio
import contextlib
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from aiohttp import web

#: Answers that come from something in front of an API rather than from it (a proxy, a
#: load balancer, a gateway mid-deploy): ``garble`` plays them instead of doing the call.
#: "truncated" and "shape" are the platform's own (see each fake's ``GARBAGE``).
FRONT_GARBAGE: dict[str, tuple[int, str, str]] = {
    "html": (502, "text/html", "<html><head><title>502 Bad Gateway</title></head>"
             "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
             "</body></html>"),
    "html-200": (200, "text/html", "<html>upstream gone</html>"),
    "text": (200, "text/plain", "upstream connect error or disconnect/reset before headers"),
}  # fmt: skip


T = TypeVar("T")


def take(scripted: list[tuple[Any, T]], chat: Any) -> T | None:
    """The first of the ``(chat, item)`` pairs scripted for ``chat`` (None: for any
    chat), removed from ``scripted``."""
    for index, (wanted, item) in enumerate(scripted):
        if wanted in (None, chat):
            del scripted[index]
            return item
    return None


@dataclass
class Misbehaviour:
    """Scripted for the next ``times`` matching calls (None: every later one): answer
    ``delay`` seconds after doing the call, or answer ``garbage`` instead of doing it."""

    target: str
    chat: Any = None
    delay: float = 0.0
    garbage: str | None = None
    times: int | None = None


class FakeServer:
    """Runs ``self.app`` on an ephemeral loopback port; use as ``async with Fake() as fake``."""

    #: The largest request body accepted: past every platform's file limit.
    MAX_BODY = 200 * 1024**2
    #: The platform's own bodies for "truncated" and "shape" garbage (with status 200).
    GARBAGE: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self.app = web.Application(client_max_size=self.MAX_BODY)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._script: list[Misbehaviour] = []
        self._arrived = asyncio.Condition()
        self.arrivals = 0
        self.url = ""

    def slow(self, target: str, seconds: float, *, chat: Any = None, times: int | None = 1) -> None:
        """Answer calls of ``target`` (a method or endpoint; to ``chat`` only, when given)
        ``seconds`` after doing them: the platform has the message, the answer is late."""
        self._script.append(Misbehaviour(target.lower(), chat, delay=seconds, times=times))

    def garble(
        self, target: str, kind: str = "html-200", *, chat: Any = None, times: int | None = None
    ) -> None:
        """Answer calls of ``target`` (to ``chat`` only, when given) with ``kind`` of
        garbage instead of doing them: ``FRONT_GARBAGE``'s html, html-200 or text, or the
        platform's truncated JSON or JSON that is not the documented shape."""
        if kind not in FRONT_GARBAGE and kind not in self.GARBAGE:
            raise ValueError(f"no garbage named {kind!r}")
        self._script.append(Misbehaviour(target.lower(), chat, garbage=kind, times=times))

    def _misbehaviour(self, target: str, chat: Any) -> Misbehaviour | None:
        """The scripted misbehaviour of this call, if any, counted as used."""
        for scripted in self._script:
            if scripted.target == target.lower() and scripted.chat in (None, chat):
                if scripted.times is not None:
                    scripted.times -= 1
                    if not scripted.times:
                        self._script.remove(scripted)
                return scripted
        return None

    def _garbage(self, kind: str) -> web.Response:
        status, content_type, text = FRONT_GARBAGE.get(
            kind, (200, "application/json", self.GARBAGE.get(kind, ""))
        )
        return web.Response(status=status, text=text, content_type=content_type)

    async def _late(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the server closes (a test's end never waits)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closing.wait()

    async def _count_arrival(self) -> None:
        async with self._arrived:
            self.arrivals += 1
            self._arrived.notify_all()

    async def wait_arrivals(self, count: int, *, seconds: float = 30) -> None:
        """Wait until ``count`` calls have arrived in all (bounded by ``seconds``)."""
        async with asyncio.timeout(seconds), self._arrived:
            await self._arrived.wait_for(lambda: self.arrivals >= count)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
