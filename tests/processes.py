"""Real ``funnelbox`` processes for tests that need them (crash tests, API fuzzing)."""

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def funnelbox(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


async def wait_healthy(base: str, *, seconds: float = 60) -> None:
    """Wait until ``base``'s ``/healthz`` answers 200; raise if it has not in ``seconds``."""
    async with aiohttp.ClientSession() as http:
        try:
            async with asyncio.timeout(seconds):
                while True:
                    try:
                        async with http.get(f"{base}/healthz") as response:
                            if response.status == 200:
                                return
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise RuntimeError(f"{base} did not become healthy in {seconds} s") from None


class Server:
    """`funnelbox serve` in its own process, killed without warning."""

    def __init__(self, env: dict[str, str], *, dispatch: bool) -> None:
        self.env = {**env, "FUNNELBOX_EVENT_WORKER": "true" if dispatch else "false"}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> "Server":
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "web.cli", "serve", "--port", str(self.port),
            env=self.env, cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await wait_healthy(self.base)
        return self

    async def settled(self, *, seconds: float = 20) -> None:
        """Wait until every worker of the server has finished a round that began after
        this call (``/healthz`` counts them): whatever was due has been handled."""
        async with aiohttp.ClientSession() as http:

            async def rounds() -> dict[str, int]:
                async with http.get(f"{self.base}/healthz") as response:
                    return (await response.json())["workers"]

            start = await rounds()
            async with asyncio.timeout(seconds):
                while any(done < start[name] + 2 for name, done in (await rounds()).items()):
                    await asyncio.sleep(0.05)

    async def __aexit__(self, *exc: object) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
