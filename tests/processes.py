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
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{self.base}/healthz") as response:
                        if response.status == 200:
                            return self
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
        raise RuntimeError("server did not start")

    async def __aexit__(self, *exc: object) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
