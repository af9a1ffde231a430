"""Benchmark of the deal page at scale: server time of ``/deals/{id}`` among 100,000 deals.

It seeds ``--deals`` deals over 10 pipelines (``bench/board.py``'s bulk load) with three
timeline events each, then one deal the way a customer and a team make it: a Telegram
customer's ``--messages`` messages through the intake, and through the services two more
contacts, custom fields, tags, edits, stage moves, tasks and a booking. It starts the app
on 127.0.0.1 (background workers off) and times, over real HTTP signed in as an owner,
the pages an owner opens around a deal::

    .venv/bin/python bench/deal_page.py --deals 100000
    .venv/bin/python bench/deal_page.py --deals 5000 --database-url sqlite:///tmp/deal.sqlite3

The database is wiped first (it refuses one holding users it did not create); ``--reuse``
keeps an earlier seed of the same size. Figures are request times seen by a client on
loopback: the server's work plus about a millisecond of client. Helpers (seeding, timing,
reporting) are ``bench/board.py``'s.
"""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

# The project's packages come before this folder's scripts (bench/inbox.py is not inbox).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from bench import board
from bot.channels import create_channel
from bot.inbound import receive
from core.crypto import Vault
from core.db import database, migrate
from core.models import User
from funnels import bookings, catalog, deals
from funnels.models import BookingStatus, Deal, FieldKind
from funnels.pipelines import list_stages
from inbox.dialogs import Inbound, Sender
from inbox.models import ChannelKind
from triggers import tasks

SECRET = "deal-page-bench-secret-key-2026"
TARGET_MS = 200.0
EVENT_COLUMNS = ("kind", "deal_id", "actor_id", "data", "created_at", "attempts")
INBOX_TABLES = ("outbox", "message", "contact_identity", "dialog", "deal_intake", "channel")
SUBJECT_NAME = "Mila Kowalski-Subject"


async def seed(client: BaseDBAsyncClient, args: argparse.Namespace) -> None:
    """The deals (bulk), their events (bulk), then the subject deal through the services."""
    for table in ("task", "booking", *INBOX_TABLES):
        await client.execute_script(f'DELETE FROM "{table}"')  # noqa: S608
    await board.seed(client, args.deals, 10, args.seed)
    rows = await client.execute_query_dict("SELECT id, stage_id, owner_id, created_at FROM deal")
    events = []
    for row in rows:
        moment = row["created_at"]
        for kind, data in (
            ("deal.created", {"stage_id": row["stage_id"], "owner_id": row["owner_id"]}),
            ("deal.contact_added", {"contact": "A customer"}),
            ("deal.stage_changed", {"from_stage": "New", "to_stage": "Qualified"}),
        ):
            events.append((kind, row["id"], row["owner_id"], json.dumps(data), moment, 0))
    for start, count in board.chunks(len(events), board.CHUNK):
        await board.load(client, "event", EVENT_COLUMNS, events[start : start + count])
    await subject_deal(args.messages)
    await board.refresh_statistics(client)


async def subject_deal(messages: int) -> Deal:
    """A deal with a long chat and a full timeline, made the way the app makes them."""
    owner = await User.get(email=f"seller1@{board.BENCH_DOMAIN}")
    stages = await list_stages(pipeline_id=1)
    channel = await create_channel(
        actor=owner, vault=Vault(SECRET), kind=ChannelKind.TELEGRAM, name="Bench bot",
        credentials={"token": "7001234567:AAbenchTokenNotRealAtAll_x"}, pipeline_id=1,
        stage_id=stages[0].id,
    )  # fmt: skip
    sender = Sender(external_id="990001", name=SUBJECT_NAME)
    for number in range(1, messages + 1):
        text = f"Message {number}: is there a slot on Friday afternoon?"
        inbound = Inbound(
            sender=sender, chat_id="990001", external_id=f"990001:{number}", text=text
        )
        await receive(channel=channel, message=inbound)
    deal = await Deal.get(dialog__contact__name=SUBJECT_NAME)
    for contact_id in (1, 2):
        await deals.add_contact(actor=owner, deal_id=deal.id, contact_id=contact_id)
    custom = [
        await catalog.create_custom_field(actor=owner, name=name, kind=kind)
        for name, kind in (("Notes", FieldKind.TEXT), ("Source", FieldKind.TEXT),
                           ("Birthday", FieldKind.DATE))
    ]  # fmt: skip
    tags = [(await catalog.create_tag(actor=owner, name=f"Tag {n}")).id for n in range(1, 9)]
    for round_ in range(1, 13):
        await deals.update_deal(
            actor=owner, deal_id=deal.id, amount=Decimal(100 * round_), currency="EUR",
            fields={custom[0].id: f"Note {round_}", custom[1].id: "Instagram",
                    custom[2].id: date(1990, 1, round_)},
            tag_ids=tags[: round_ % 8 + 1],
        )  # fmt: skip
        await deals.move_deal(actor=owner, deal_id=deal.id, stage_id=stages[round_ % 4].id)
    for number in range(1, 9):
        task = await tasks.create_task(
            actor=owner, title=f"Follow-up {number}", deal_id=deal.id,
            due_at=datetime.now(UTC) + timedelta(days=number),
        )  # fmt: skip
        if number % 2:
            await tasks.complete_task(actor=owner, task_id=task.id)
    await bookings.set_booking(
        actor=owner, deal_id=deal.id, status=BookingStatus.CONFIRMED,
        starts_at=datetime.now(UTC) + timedelta(days=3), timezone="Europe/Warsaw",
        services=[{"title": "Colour", "cost": "80.00"}], staff="Anna",
    )  # fmt: skip
    return deal


async def paths() -> list[tuple[str, str, dict | None]]:
    """What an owner's browser asks for around a deal."""
    deal = await Deal.get(dialog__contact__name=SUBJECT_NAME)
    contact_id = (await deal.dialog).contact_id  # type: ignore[union-attr]
    plain = await Deal.filter(id__lt=deal.id).order_by("-id").offset(min(500, deal.id // 2)).first()
    assert plain is not None
    htmx = {"HX-Request": "true"}
    return [
        ("(a) deal page: 50 bubbles, timeline, tasks, booking", f"/deals/{deal.id}", None),
        ("(b) the chat alone (switching contact, htmx)",
         f"/deals/{deal.id}/chat?contact_id={contact_id}", htmx),
        ("(c) a bulk-loaded deal's page (no chat)", f"/deals/{plain.id}", None),
        ("(d) the customer's contact page", f"/contacts/{contact_id}", None),
        ("(e) Create deal form for the customer", f"/deals/new?contact_id={contact_id}", None),
        ("(f) contacts search 'kowalski'", "/contacts?q=kowalski", None),
    ]  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    console, settings = board.page_bench_start(args, SECRET)
    await migrate(args.database_url)
    async with database(args.database_url):
        client = connections.get("default")
        console.print(f"database: {await board.server(client)}")
        held = await client.execute_query_dict("SELECT COUNT(*) AS n FROM deal")
        if args.reuse and held[0]["n"] == args.deals + 1:
            console.print(f"seeding:  reused {args.deals:,} deals and the subject deal")
        else:
            started = time.perf_counter()
            await seed(client, args)
            console.print(f"seeding:  {args.deals:,} deals and the subject deal in "
                          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        login = {"email": f"seller1@{board.BENCH_DOMAIN}", "password": "bench-password"}
        marks = [b'class="timeline-entry', b'class="bubble ']
        await board.time_pages(settings, login, paths, marks, args, console)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=80, help="the subject's chat, default 80")
    board.page_bench_options(parser)
    args = parser.parse_args(argv)
    args.target_ms = TARGET_MS
    if args.deals < 3 or args.messages < 1:
        parser.error("need at least 3 deals and one message")
    return args


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
