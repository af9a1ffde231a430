"""``funnelbox altegio sync`` as a user runs it: a real process, our database, the fake API."""

import asyncio
import os
import sys
from pathlib import Path

from funnels.models import Deal
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.altegio import FakeAltegio

ROOT = Path(__file__).parents[2]


async def funnelbox(db: Backend, *args: str) -> tuple[int, str]:
    """Run the command without blocking the loop the fake API answers on."""
    env = {**os.environ, "FUNNELBOX_DATABASE_URL": db.url, "FUNNELBOX_REDIS_URL": "",
           "FUNNELBOX_SECRET_KEY": SECRET_KEY.get_secret_value()}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_sync_prints_a_summary_and_fails_loudly(
    db: Backend, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(*(fake_altegio.record(i, attendance=2) for i in range(1, 4)))
    code, out = await funnelbox(db, "altegio", "sync", "--full")
    assert code == 0, out
    assert "Salon (company 4564): 3 created, 0 moved, 0 updated, 0 unchanged, 0 errors" in out
    assert await Deal.all().count() == 3
    fake_altegio.fail_next(401)
    code, out = await funnelbox(db, "altegio", "sync", "--connection", str(connection["id"]))
    assert code == 1 and "failed: Altegio API 401: Scripted failure" in out, out
    code, out = await funnelbox(db, "altegio", "sync", "--connection", "99")
    assert code == 1 and "Altegio connection 99 does not exist" in out, out
