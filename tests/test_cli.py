"""The ``funnelbox`` command, run as a user would: a real process on a fresh SQLite file."""

import asyncio
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import aiohttp
import pytest

from tests.processes import free_port, wait_healthy

ROOT = Path(__file__).parents[1]
FUNNELBOX = [sys.executable, "-m", "web.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": f"sqlite://{tmp_path / 'cli.sqlite3'}",
        "FUNNELBOX_REDIS_URL": "",
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FUNNELBOX, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_migrate_createuser_token_and_bootstrap(env: dict[str, str]) -> None:
    first_migrate = run(env, "migrate")
    assert first_migrate.returncode == 0
    assert "applied " in first_migrate.stdout and "0001_initial" in first_migrate.stdout
    again = run(env, "migrate")
    assert again.returncode == 0, "migrating twice is a no-op"
    assert again.stdout.strip() == "database is up to date: no migration to apply"
    created = run(env, "createuser", "Ops@Example.com", "--role", "operator")
    assert created.returncode == 0
    assert "created operator ops@example.com" in created.stdout
    assert "password: " in created.stdout
    dup = run(env, "createuser", "ops@example.com", "--role", "admin", "--password", "x" * 9)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    token = run(env, "token", "ops@example.com", "--name", "laptop").stdout.strip()
    assert token.startswith("fbx_")
    first = run(env, "bootstrap")
    assert "login:    owner@example.com" in first.stdout
    second = run(env, "bootstrap")
    assert "password" not in second.stdout.split("(")[0]
    assert "owner@example.com" in second.stdout


async def test_serve_answers_and_the_printed_login_works(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "migrate")
    boot = run(env, "bootstrap").stdout
    password = boot.split("password: ")[1].strip()
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = await asyncio.create_subprocess_exec(
            *FUNNELBOX, "serve", "--host", "127.0.0.1", "--port", str(port),
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            login = {"email": "owner@example.com", "password": password}
            async with http.post(f"{base}/api/v1/auth/login", json=login) as response:
                assert response.status == 200
            async with http.get(f"{base}/api/v1/me") as response:
                assert (await response.json())["role"] == "owner"
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=10)
    # the workers ticked from the start (their first runs are immediate): none of it shows,
    # the requests do
    text = log.read_text()
    assert "apscheduler" not in text and "Running job" not in text, text
    assert '"GET /api/v1/me" 200' in text, text


def users(env: dict[str, str]) -> dict[str, tuple[str, bool]]:
    """E-mail to (name, active), read straight from the command's SQLite file."""
    path = env["FUNNELBOX_DATABASE_URL"].removeprefix("sqlite://")
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute('SELECT email, name, is_active FROM "user"').fetchall()
    return {email: (name, bool(active)) for email, name, active in rows}


def api_tokens(env: dict[str, str]) -> list[tuple[int, str, str | None]]:
    path = env["FUNNELBOX_DATABASE_URL"].removeprefix("sqlite://")
    with closing(sqlite3.connect(path)) as conn:
        query = "SELECT id, name, expires_at FROM api_token WHERE kind = 'api' ORDER BY id"
        return conn.execute(query).fetchall()


def test_names_named_tokens_and_their_revocation(env: dict[str, str]) -> None:
    run(env, "migrate")
    assert run(env, "bootstrap", "--name", "Ann Lee").returncode == 0
    created = run(env, "createuser", "bo@example.com", "--role", "admin", "--name", " Bo Chen ")
    assert created.returncode == 0, created.stderr
    assert users(env) == {
        "owner@example.com": ("Ann Lee", True),
        "bo@example.com": ("Bo Chen", True),
    }

    unnamed = run(env, "token", "bo@example.com")
    assert unnamed.returncode == 2 and "--name" in unnamed.stderr and not unnamed.stdout
    made = run(env, "token", "bo@example.com", "--name", "backup script", "--expires-days", "7")
    assert made.returncode == 0, made.stderr
    [(token_id, name, expires_at)] = api_tokens(env)
    assert made.stdout.strip().startswith(f"fbx_{token_id}_")  # stdout holds the token alone
    assert (name, expires_at is not None) == ("backup script", True)
    assert f"API token {token_id} 'backup script' for bo@example.com, expires 20" in made.stderr

    revoked = run(env, "token", "revoke", str(token_id))
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"revoked API token {token_id}")
    assert api_tokens(env) == []
    again = run(env, "token", "revoke", str(token_id))
    assert again.returncode == 1 and f"no API token {token_id}" in again.stderr


def test_setpassword_says_what_happens_to_the_api_tokens(env: dict[str, str]) -> None:
    run(env, "migrate")
    run(env, "createuser", "bo@example.com", "--role", "admin")
    run(env, "token", "bo@example.com", "--name", "ci")
    kept = run(env, "setpassword", "bo@example.com", "--password", "x" * 10)
    assert kept.returncode == 0, kept.stderr
    assert "API tokens keep working (--revoke-tokens revokes them too)" in kept.stdout
    assert len(api_tokens(env)) == 1
    revoked = run(env, "setpassword", "bo@example.com", "--password", "y" * 10, "--revoke-tokens")
    assert "revoked 1 API token(s)" in revoked.stdout
    assert api_tokens(env) == []


def test_deactivate_and_reactivate(env: dict[str, str]) -> None:
    run(env, "migrate")
    run(env, "bootstrap")
    run(env, "createuser", "bo@example.com", "--role", "operator")
    run(env, "token", "bo@example.com", "--name", "ci")
    last = run(env, "deactivate", "owner@example.com")
    assert last.returncode == 1 and "last active owner" in last.stderr
    stopped = run(env, "deactivate", "bo@example.com")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "bo@example.com is deactivated")
    assert users(env)["bo@example.com"] == ("", False)
    assert api_tokens(env) == []
    resumed = run(env, "reactivate", "BO@example.com")
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "bo@example.com is active")
    assert users(env)["bo@example.com"] == ("", True)


def test_help_lists_every_command_without_loading_the_application() -> None:
    probe = (
        "import sys\n"
        "from web import cli\n"
        "cli._parser().format_help()\n"
        "print(sorted(m for m in ('aiogram', 'tortoise', 'aiohttp') if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]", loaded.stderr
    shown = run(os.environ.copy(), "--help")
    assert shown.returncode == 0
    for command in ("serve", "migrate", "createuser", "setpassword", "token", "deactivate",
                    "reactivate", "bootstrap", "openapi", "worker", "telegram"):  # fmt: skip
        assert any(line.split()[:1] == [command] for line in shown.stdout.splitlines()), command
    version = run(os.environ.copy(), "--version")
    assert version.returncode == 0 and version.stdout.startswith("funnelbox 0.")


def test_models_and_committed_migrations_agree() -> None:
    """A model change without its migration fails here (run `make migrations`)."""
    script = (
        "import asyncio\n"
        "from tortoise.context import TortoiseContext\n"
        "from tortoise.migrations.autodetector import MigrationAutodetector\n"
        "from core.db import TORTOISE_ORM\n"
        "async def main():\n"
        "    async with TortoiseContext() as ctx:\n"
        "        await ctx.init(config=TORTOISE_ORM)\n"
        "        changes = await MigrationAutodetector(ctx.apps, TORTOISE_ORM['apps']).changes()\n"
        "        print([op for w in changes for op in w.operations])\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


async def test_worker_runs_until_terminated(env: dict[str, str]) -> None:
    run(env, "migrate")
    worker = await asyncio.create_subprocess_exec(
        *FUNNELBOX, "worker", env={**env, "FUNNELBOX_SECRET_KEY": "k" * 24}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert worker.stdout is not None
    line = await asyncio.wait_for(worker.stdout.readline(), timeout=30)
    assert b"workers running" in line
    worker.terminate()
    assert await asyncio.wait_for(worker.wait(), timeout=10) == 0


def test_demo_fills_an_empty_database_and_refuses_a_used_one(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["FUNNELBOX_SECRET_KEY"] = "demo-test-secret-key-2026"
    filled = run(env, "demo", "--customers", "12")
    assert filled.returncode == 0, filled.stderr
    assert "login:    owner@example.com" in filled.stdout
    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        count = {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in TABLES}  # noqa: S608
        kinds = {k for (k,) in db.execute('SELECT DISTINCT "kind" FROM "channel"')}
        pipelines = db.execute('SELECT COUNT(*) FROM "pipeline"').fetchone()[0]
        currencies = {c for (c,) in db.execute('SELECT DISTINCT "currency" FROM "deal"') if c}
        photos = db.execute("SELECT COUNT(*) FROM \"message\" WHERE kind = 'image'").fetchone()
        notes = db.execute("SELECT COUNT(*) FROM \"message\" WHERE direction = 'note'").fetchone()
        assigned, unassigned = db.execute(
            'SELECT COUNT("assignee_id"), COUNT(*) - COUNT("assignee_id") FROM "dialog"'
        ).fetchone()
        readers = db.execute('SELECT COUNT(DISTINCT "user_id") FROM "dialog_read"').fetchone()
        unread = db.execute(  # dialogs with a customer message above the owner's marker
            'SELECT COUNT(*) FROM "dialog" d LEFT JOIN "dialog_read" r ON r."dialog_id" = d."id" '
            'AND r."user_id" = 1 WHERE d."last_inbound_id" > COALESCE(r."message_id", 0)'
        ).fetchone()
        closed = db.execute(  # WhatsApp dialogs whose customer last wrote over a day ago
            'SELECT COUNT(*) FROM "dialog" d JOIN "channel" c ON c."id" = d."channel_id" '
            "WHERE c.\"kind\" = 'whatsapp' AND d.\"last_inbound_at\" < datetime('now', '-1 day')"
        ).fetchone()
        canned = db.execute('SELECT COUNT(*) FROM "canned_reply"').fetchone()
    assert count["dialog"] == 12 and count["message"] > 12 and count["deal"] >= 12
    assert count["task"] > 0 and count["tag"] == 3 and count["user"] == 3
    assert kinds == {"telegram", "whatsapp"} and pipelines == 2
    assert currencies == {"EUR", "GBP"} and photos[0] > 0
    assert notes[0] >= 4 and canned[0] >= 5 and closed[0] >= 2
    assert assigned >= 5 and unassigned >= 1 and readers[0] == 3
    assert 0 < unread[0] < count["dialog"]
    again = run(env, "demo")
    assert again.returncode == 1
    assert "already holds data" in again.stderr
    bootstrapped = dict(env, FUNNELBOX_DATABASE_URL=f"sqlite://{tmp_path / 'other.sqlite3'}")
    run(bootstrapped, "migrate")
    run(bootstrapped, "bootstrap")  # an owner and nothing else is a used database too
    refused = run(bootstrapped, "demo")
    assert refused.returncode == 1 and "already holds data" in refused.stderr


TABLES = ("dialog", "message", "deal", "task", "tag", "user")
