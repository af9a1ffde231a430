"""Fault fixtures: a Redis of the test's own that can go down."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.conftest import (  # noqa: F401 (fixtures shared with the bot tests)
    fake_graph,
    fake_telegram,
    inbox_stage,
    telegram_channel,
    whatsapp_channel,
)
from tests.faults.redis_server import PrivateRedis


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    """A private Redis, not running until the test starts it; killed at the end."""
    server = PrivateRedis(tmp_path)
    yield server
    await server.kill()


from tests.bot.conftest import make_worker, worker  # noqa: E402, F401 (outbox workers)
