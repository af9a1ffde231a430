"""The part every fake shares: an aiohttp application listening on 127.0.0.1."""

from types import TracebackType
from typing import Self

from aiohttp import web


class FakeServer:
    """Runs ``self.app`` on an ephemeral loopback port; use as ``async with Fake() as fake``."""

    #: The largest request body accepted: past every platform's file limit.
    MAX_BODY = 200 * 1024**2

    def __init__(self) -> None:
        self.app = web.Application(client_max_size=self.MAX_BODY)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def close(self) -> None:
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
