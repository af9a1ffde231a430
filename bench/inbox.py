"""Benchmark of the web inbox at scale: 100,000 dialogs and 1,000,000 messages.

It migrates the database, seeds ``--dialogs`` dialogs with ``--messages`` messages over
two channels, starts the app on 127.0.0.1 (background workers off) and times, over real
HTTP with a signed-in session, the inbox page, the dialog list fragment (first and a deep
page), opening a conversation, its earlier messages and searches::

    .venv/bin/python bench/inbox.py --dialogs 100000 --messages 1000000
    .venv/bin/python bench/inbox.py --dialogs 2000 --messages 20000 --database-url sqlite:///tmp/inbox.sqlite3

Users, the pipeline and the channels go through the services; contacts, dialogs and
messages are bulk-loaded straight into their tables (``COPY`` on PostgreSQL), with the
trigram indexes of ``0014_dialog_list`` built after the load rather than row by row.
The seed is deterministic (``--seed``); ``--reuse`` keeps an earlier seed of the same
size. The database is wiped first (it refuses one holding users it did not create).
Figures are request times seen by a client on loopback: the server's work plus about a
millisecond of client. Helpers (timing, reporting, loading) are ``bench/board.py``'s.
"""

import argparse
import asyncio
import importlib
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The project's packages come before this folder's scripts (bench/inbox.py is not inbox).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from bench import board
from bot.channels import create_channel
from core import cursors
from core.auth import create_user
from core.crypto import Vault
from core.db import database, migrate
from core.models import Role
from funnels.pipelines import create_pipeline, list_stages
from inbox.models import ChannelKind

SECRET = "inbox-bench-secret-key-2026"
PASSWORD = "bench-password"
TARGET_MS = 100.0
INDEXES = importlib.import_module("core.migrations.0014_dialog_list")
CONTACT_COLUMNS = ("id", "name", "phone", "email", "created_at", "updated_at")
DIALOG_COLUMNS = (
    "id", "channel_id", "contact_id", "chat_id", "last_inbound_at", "last_message_at",
    "created_at",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "channel_id", "dialog_id", "direction", "author", "author_user_id", "kind", "text",
    "payload", "external_id", "status", "created_at",
)  # fmt: skip
PHRASES = (
    "Hi! Do you have a slot on Friday?", "How much is a haircut?", "Thanks, see you then",
    "Can I move my appointment?", "Is parking available near you?", "Yes please",
    "Hello, what time do you open tomorrow?", "Perfect, thank you!", "Do you sell gift cards?",
    "Could it be a bit later?", "Our address is 12 Elm Street", "Your booking is confirmed",
)  # fmt: skip
#: Planted in a few messages only: the rare search.
RARE = "zanzibar"


async def seed(client: BaseDBAsyncClient, dialogs: int, messages: int, seed_value: int) -> None:
    """Wipe, make users and channels through the services, bulk-load the rest."""
    rng = random.Random(seed_value)
    now = datetime.now(UTC).replace(microsecond=0)
    for table in ("outbox", "message", "contact_identity", "dialog", "deal_intake", "channel"):
        await client.execute_script(f'DELETE FROM "{table}"')  # noqa: S608 (the inbox's too)
    await board.wipe(client)
    operators = [
        await create_user(
            actor=None,
            email=f"operator{n}@{board.BENCH_DOMAIN}",
            role=Role.OWNER if n == 1 else Role.OPERATOR,
            password=PASSWORD,
        )
        for n in range(1, 4)
    ]
    pipeline = await create_pipeline(actor=operators[0], name="Inbox", initial_stage="New")
    stage = (await list_stages(pipeline_id=pipeline.id))[0]
    channel_ids = []
    whatsapp = {
        "access_token": "bench-access-token", "app_secret": "bench-app-secret",
        "verify_token": "bench-verify-token", "phone_number_id": "100200300400",
        "waba_id": "500600",
    }  # fmt: skip
    telegram = {"token": "7001234567:AAbenchTokenNotRealAtAll_x"}
    for kind, credentials in ((ChannelKind.TELEGRAM, telegram), (ChannelKind.WHATSAPP, whatsapp)):
        channel = await create_channel(
            actor=operators[0], vault=Vault(SECRET), kind=kind, name=f"Bench {kind.value}",
            credentials=credentials, pipeline_id=pipeline.id, stage_id=stage.id,
        )  # fmt: skip
        channel_ids.append(channel.id)
    if board.is_postgres(client):
        await client.execute_script(INDEXES.DROP)  # built once after the load instead
    counts = _spread(rng, dialogs, messages)
    message_id = 0
    for start, count in board.chunks(dialogs, 10_000):
        contacts, rows, lines = [], [], []
        for dialog_id in range(start + 1, start + count + 1):
            name = f"{rng.choice(board.FIRST_NAMES)} {rng.choice(board.SURNAMES)}"
            created = now - timedelta(seconds=rng.random() * 365 * 86400)
            phone = f"+4477{dialog_id:08d}" if rng.random() < 0.7 else None
            contacts.append((dialog_id, name, phone, None, created, created))
            channel_id = rng.choice(channel_ids)
            at, last_in = created, None
            for _ in range(counts[dialog_id - 1]):
                message_id += 1
                at += timedelta(seconds=rng.expovariate(1 / 3600))
                inbound = rng.random() < 0.55
                last_in = at if inbound else last_in
                rare = message_id % (messages // 5) == 0  # five in all
                text = f"A trip to {RARE}?" if rare else rng.choice(PHRASES)
                lines.append((
                    message_id, channel_id, dialog_id, "in" if inbound else "out",
                    "customer" if inbound else "operator",
                    None if inbound else rng.choice(operators).id, "text", text, "{}",
                    f"b{message_id}", "received" if inbound else "read", at,
                ))  # fmt: skip
            rows.append((dialog_id, channel_id, dialog_id, str(dialog_id), last_in, at, created))
        await board.load(client, "contact", CONTACT_COLUMNS, contacts)
        await board.load(client, "dialog", DIALOG_COLUMNS, rows)
        await board.load(client, "message", MESSAGE_COLUMNS, lines)
    if board.is_postgres(client):
        for table in ("contact", "dialog", "message"):
            sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"  # noqa: S608
            await client.execute_script(sql)
        await client.execute_script(INDEXES.CREATE)
        await client.execute_script('ANALYZE "dialog"')  # contact and message: CREATE did


def _spread(rng: random.Random, dialogs: int, messages: int) -> list[int]:
    """Messages per dialog: most have a few, some many; exactly ``messages`` in all."""
    counts = [1 + int(rng.expovariate(1.0)) for _ in range(dialogs)]
    scale = (messages - dialogs) / max(sum(c - 1 for c in counts), 1)
    counts = [1 + int((c - 1) * scale) for c in counts]
    for _ in range(messages - sum(counts)):
        counts[rng.randrange(dialogs)] += 1
    return counts


async def cases(client: BaseDBAsyncClient) -> list[tuple[str, str, dict | None]]:
    """What an operator's browser asks for, each one timed request."""
    middle = await client.execute_query_dict(
        'SELECT id, last_message_at FROM "dialog" ORDER BY last_message_at DESC, id DESC '
        "LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM dialog)"
    )
    deep = cursors.encode(middle[0]["last_message_at"], middle[0]["id"])
    busy = await client.execute_query_dict(
        'SELECT dialog_id, COUNT(*) AS n FROM "message" WHERE dialog_id <= 1000 '
        "GROUP BY dialog_id ORDER BY n DESC LIMIT 1"
    )
    dialog_id, size = busy[0]["dialog_id"], busy[0]["n"]
    newest = await client.execute_query_dict(
        f'SELECT id FROM "message" WHERE dialog_id = {dialog_id} ORDER BY id DESC LIMIT 1 OFFSET 49'  # noqa: S608
    )
    htmx = {"HX-Request": "true"}
    earlier = f"/inbox/{dialog_id}/messages?before={newest[0]['id']}"
    paths = [
        ("(a) inbox page, first 50 dialogs", "/inbox", None),
        ("(b) dialog list fragment, page 1", "/inbox/dialogs", None),
        (
            "(c) dialog list, deep page (cursor at the median)",
            f"/inbox/dialogs?cursor={deep}",
            None,
        ),
        (f"(d) open a conversation ({size} messages, htmx)", f"/inbox/{dialog_id}", htmx),
        ("(e) a conversation's page, full", f"/inbox/{dialog_id}", None),
        ("(f) earlier messages (htmx)", earlier, htmx),
        (f"(g) search message text, rare ('{RARE}')", f"/inbox/dialogs?q={RARE}", None),
        ("(h) search a name ('kowalski')", "/inbox/dialogs?q=kowalski", None),
        ("(i) search a phone ('+44 77 0000 12')", "/inbox/dialogs?q=%2B44+77+0000+12", None),
        ("(j) search common text ('parking')", "/inbox/dialogs?q=parking", None),
    ]
    return paths


async def run(args: argparse.Namespace) -> None:
    console, settings = board.page_bench_start(args, SECRET)
    await migrate(args.database_url)
    async with database(args.database_url):
        client = connections.get("default")
        console.print(f"database: {await board.server(client)}")
        held = await client.execute_query_dict(
            'SELECT (SELECT COUNT(*) FROM "dialog") AS d, (SELECT COUNT(*) FROM "message") AS m'
        )
        if args.reuse and (held[0]["d"], held[0]["m"]) == (args.dialogs, args.messages):
            console.print(f"seeding:  reused {args.dialogs:,} dialogs, {args.messages:,} messages")
        else:
            started = time.perf_counter()
            await seed(client, args.dialogs, args.messages, args.seed)
            console.print(f"seeding:  {args.dialogs:,} dialogs, {args.messages:,} messages in "
                          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        login = {"email": f"operator2@{board.BENCH_DOMAIN}", "password": PASSWORD}
        marks = [b'class="dialog-item"', b'class="bubble ']
        await board.time_pages(settings, login, lambda: cases(client), marks, args, console)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dialogs", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    board.page_bench_options(parser)
    args = parser.parse_args(argv)
    args.target_ms = TARGET_MS
    if not 1 <= args.dialogs <= args.messages:
        parser.error("need at least one dialog and a message per dialog")
    return args


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
