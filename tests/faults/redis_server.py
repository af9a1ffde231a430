"""A private ``redis-server`` on its own loopback port, started and killed by a test.

The machine's shared Redis is never touched: an outage is this server not running.
"""

import asyncio
import shutil
import signal
from pathlib import Path

from redis.asyncio import Redis

from tests.processes import free_port


class PrivateRedis:
    """``redis-server`` on a free port with no persistence; :meth:`start` and :meth:`kill`
    as often as a test needs; ``url`` stays the same, so clients see an outage."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for the Redis fault tests"
        self.process = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.workdir),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = Redis.from_url(self.url)
        try:
            async with asyncio.timeout(10):
                while True:
                    try:
                        await client.ping()
                        return
                    except Exception:
                        await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        self.process = None
