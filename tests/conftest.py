"""Test wiring: real databases (SQLite, and PostgreSQL + Redis under CI), real HTTP.

Locally the suite runs on SQLite. With ``CI=true`` (or ``FUNNELBOX_TEST_POSTGRES_URL``
set) every database test runs a second time on PostgreSQL with Redis, and an
unreachable server fails the run instead of skipping it.
"""

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from core import auth, tokens
from core.db import migrate, open_database
from core.files import FileStore
from core.models import Role, User
from core.settings import Settings
from web.app import create_app

IN_CI = os.environ.get("CI") == "true"
# Made-up users need no costly hashes: the cheapest argon2 profile, here and in every
# `funnelbox` process a test starts (tests/web/test_auth.py checks the real one).
os.environ["FUNNELBOX_PASSWORD_PROFILE"] = "cheapest"
auth.use_password_profile("cheapest")
#: pytest-xdist's worker number (``gw3`` is 3); None when the suite runs in one process.
WORKER = int(os.environ["PYTEST_XDIST_WORKER"][2:]) if "PYTEST_XDIST_WORKER" in os.environ else None
POSTGRES_BASE_URL = os.environ.get(
    "FUNNELBOX_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test" if IN_CI else ""
)
REDIS_BASE_URL = os.environ.get(
    "FUNNELBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/15" if IN_CI else ""
)


def for_worker(url: str, *, redis: bool) -> str:
    """Each xdist worker's own database: PostgreSQL ``test`` becomes ``test_w1`` (made
    on first use), Redis database 15 becomes 15 - 1 = 14. One process keeps the URL."""
    if not url or WORKER is None:
        return url
    base, _, name = url.rpartition("/")
    if redis:
        return f"{base}/{int(name or 0) - WORKER}"
    return f"{base}/{name}_w{WORKER}"


POSTGRES_URL = for_worker(POSTGRES_BASE_URL, redis=False)
REDIS_URL = for_worker(REDIS_BASE_URL, redis=True)
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
PASSWORD = "correct horse battery"
SECRET_KEY = SecretStr("test-secret-key-for-credentials")


@dataclass
class Backend:
    """The database (and Redis) a test runs against."""

    name: str
    url: str
    redis_url: str | None
    #: Where the apps under test keep the files operators send.
    media_dir: Path

    @property
    def files(self) -> FileStore:
        return FileStore(self.media_dir)

    def settings(self, **overrides: Any) -> Settings:
        """The application's settings; tests drive the workers themselves."""
        values: dict[str, Any] = {
            "media_dir": str(self.media_dir),
            "outbox_worker": False,
            "intake_worker": False,
            "event_worker": False,
            "redis_url": self.redis_url,
            **overrides,
        }
        return Settings(database_url=self.url, secret_key=SECRET_KEY, **values)


@pytest.fixture(scope="session")
def sqlite_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="funnelbox-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session", params=BACKENDS)
async def backend(request: pytest.FixtureRequest, sqlite_dir: Path) -> AsyncIterator[Backend]:
    """Each backend is migrated from scratch with the committed migrations, then opened."""
    media = sqlite_dir / f"media-{request.param}"
    if request.param == "sqlite":
        chosen = Backend("sqlite", f"sqlite://{sqlite_dir / 'test.sqlite3'}", None, media)
    else:
        chosen = Backend("postgres", POSTGRES_URL, REDIS_URL or None, media)
        await _reset_postgres(POSTGRES_URL)
        if REDIS_URL:
            await _reset_redis(REDIS_URL)
    # Tortoise caches compiled INSERTs per connection name, not per dialect: forget the
    # previous backend's SQL before opening the next one in the same process.
    EXECUTOR_CACHE.clear()
    await migrate(chosen.url)
    await open_database(chosen.url)
    yield chosen
    await Tortoise.close_connections()


async def _reset_postgres(url: str) -> None:
    import asyncpg

    if url != POSTGRES_BASE_URL:  # a worker's own database, made from the base one's server
        await _create_database(url)
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def _create_database(url: str) -> None:
    import asyncpg

    name = url.rpartition("/")[2]
    conn = await asyncpg.connect(POSTGRES_BASE_URL.replace("postgres://", "postgresql://", 1))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            # from template0, which nobody connects to: workers creating theirs at once
            # would otherwise each find template1 in use by the other
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()


async def _reset_redis(url: str) -> None:
    """Fail loudly when Redis is down, and start from an empty test database."""
    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


TABLES = [
    "canned_reply", "staff_chat", "conversion", "conversion_settings", "automation_run",
    "automation", "task",
    "trigger", "outbox", "inbound_delivery", "altegio_record", "altegio_client",
    "altegio_mapping", "altegio_connection", "message", "contact_identity", "channel", "dialog",
    "booking",
    "deal_tag", "deal_field_value", "deal_contact", "deal", "stage", "pipeline",
    "custom_field", "tag", "lost_reason", "contact", "event", "api_token", "user",
]  # fmt: skip


@pytest.fixture
async def db(backend: Backend) -> Backend:
    """An empty database (every table emptied before the test)."""
    conn = connections.get("default")
    if backend.name == "postgres":
        quoted = ", ".join(f'"{t}"' for t in TABLES)
        await conn.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        await conn.execute_script(
            "".join(f'DELETE FROM "{t}";' for t in TABLES)  # noqa: S608
            + "DELETE FROM sqlite_sequence;"
        )
    return backend


async def make_user(role: Role, email: str | None = None) -> User:
    return await auth.create_user(
        actor=None, email=email or f"{role.value}@example.com", role=role, password=PASSWORD
    )


@pytest.fixture
async def owner(db: Backend) -> User:
    return await make_user(Role.OWNER)


@pytest.fixture
async def admin(db: Backend) -> User:
    return await make_user(Role.ADMIN)


@pytest.fixture
async def operator(db: Backend) -> User:
    return await make_user(Role.OPERATOR)


class Api:
    """A real HTTP client on loopback, optionally signed in with a bearer token."""

    def __init__(self, client: TestClient, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def as_token(self, token: str | None) -> "Api":
        return Api(self.client, token)

    async def as_user(self, user: User) -> "Api":
        return self.as_token(await tokens.issue_token(user=user))

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        async with self.client.request(method, path, headers=headers, **kwargs) as response:
            text = await response.text()
            if response.content_type == "application/json" and text:
                return response.status, await response.json()
            return response.status, text

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("POST", path, json=json, **kwargs)

    async def patch(self, path: str, json: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("PATCH", path, json=json, **kwargs)

    async def put(self, path: str, json: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("PUT", path, json=json, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("DELETE", path, **kwargs)


@pytest.fixture
async def anon(db: Backend) -> AsyncIterator[Api]:
    """An anonymous client of a server listening on 127.0.0.1."""
    app = create_app(db.settings(), own_database=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Api(client)


@pytest.fixture
async def api(anon: Api, admin: User) -> Api:
    """A client signed in as an administrator."""
    return await anon.as_user(admin)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run every SQLite test, then every PostgreSQL test: the ORM is opened once per backend."""
    order = {name: i for i, name in enumerate(BACKENDS)}

    def backend_of(item: pytest.Item) -> int:
        callspec = getattr(item, "callspec", None)
        return order.get(callspec.params.get("backend"), -1) if callspec else -1

    items.sort(key=backend_of)
