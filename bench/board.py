"""Benchmark of the deal board and the deal list at scale, on PostgreSQL or SQLite.

It migrates the database, seeds ``--deals`` deals over ``--pipelines`` pipelines, then
times the read paths of the board and the list pages (``funnels.queries``) on the same
Tortoise connection the app holds, and prints the median and p95 of each::

    .venv/bin/python bench/board.py --deals 1000000
    .venv/bin/python bench/board.py --deals 10000 --database-url sqlite:///tmp/bench.sqlite3

Pipelines, stages, users and lost reasons go through the services. Contacts, deals and
deal contacts are bulk-loaded straight into their tables (``COPY`` on PostgreSQL,
``executemany`` on SQLite): one-by-one service calls would take hours for a million
deals. The seed is deterministic (``--seed``).

The database is wiped before seeding, so give the benchmark a database of its own; it
refuses to wipe one that holds users it did not create. ``--reuse`` keeps an earlier
seed of the same size.

The cases run interleaved (one round of every case, ``--runs`` times) after three
warm-up runs each; the load average is printed because other work on the machine
skews the figures (``--wait-idle`` waits for a quiet moment first). ``--explain``
prints every statement each case sends with its plan (``EXPLAIN (ANALYZE, BUFFERS)``
on PostgreSQL). Those plans are custom plans for the given values: after five runs
the pooled prepared statements may switch to a generic plan, which can differ.
"""

import argparse
import asyncio
import base64
import bisect
import gc
import json
import logging
import os
import random
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.log import db_client_logger

from core.auth import create_user
from core.db import database, migrate
from core.models import Role
from core.settings import Settings
from funnels.catalog import create_lost_reason
from funnels.pipelines import MAX_PIPELINES, create_pipeline, create_stage, list_stages
from funnels.queries import DealFilter, DealPage, DealSort, StageColumn, board, list_deals
from web.app import create_app

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/funnelbox_bench"
#: Every user the benchmark creates has an address here; other users block the wipe.
BENCH_DOMAIN = "bench.example.com"
WARMUP_RUNS = 3
CHUNK = 20_000
BOARD_TARGET_MS = 100.0
LIST_TARGET_MS = 50.0

#: Every table the benchmark empties before seeding, children first.
TABLES = (
    "deal_tag", "deal_field_value", "deal_contact", "deal", "stage", "pipeline",
    "custom_field", "tag", "lost_reason", "contact", "event", "api_token", "user",
)  # fmt: skip
CONTACT_COLUMNS = ("id", "name", "phone", "email", "created_at", "updated_at")
DEAL_COLUMNS = (
    "id", "title", "pipeline_id", "stage_id", "owner_id", "amount", "currency", "close_date",
    "reference", "lost_reason_id", "created_at", "updated_at", "stage_changed_at",
)  # fmt: skip
LINK_COLUMNS = ("id", "deal_id", "contact_id", "position")

FIRST_NAMES = (
    "Anna", "Boris", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Irina", "James",
    "Karin", "Lucas", "Maria", "Nikolai", "Olga", "Pavel", "Quinn", "Rosa", "Sergei", "Tanya",
    "Umar", "Vera", "William", "Xenia", "Yusuf", "Zoe", "Aisha", "Bruno", "Carmen", "Dmitri",
    "Emma", "Felix", "Gulnara", "Henrik", "Ines", "Jonas", "Kira", "Leon", "Mila", "Noah",
)  # fmt: skip
SURNAMES = (
    "Kowalski", "Petrova", "Smith", "Garcia", "Ivanov", "Novak", "Schmidt", "Rossi", "Dubois",
    "Jensen", "Tanaka", "Kim", "Okafor", "Silva", "Yilmaz", "Nowak", "Horvat", "Larsen",
    "Moreau", "Costa", "Fischer", "Kuznetsova", "Popescu", "Lindqvist", "Brown", "Wilson",
    "Sokolov", "Martin", "Bernard", "Weber", "Mueller", "Romano", "Santos", "Virtanen",
    "Nielsen", "Sato", "Chen", "Patel", "Haddad", "Ozturk",
)  # fmt: skip
COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell",
    "Cyberdyne", "Soylent", "Wonka", "Gringotts", "Oscorp", "Aperture", "Massive Dynamic",
)  # fmt: skip
PRODUCTS = (
    "annual licence", "pilot", "renewal", "upgrade", "onboarding", "support plan",
    "consulting", "hardware order", "training", "integration",
)  # fmt: skip
OPEN_STAGES = (
    ("New lead", 10), ("Qualified", 25), ("Proposal", 50), ("Negotiation", 70),
    ("Contract sent", 90),
)  # fmt: skip
#: Share of deals per stage: the five open stages, then Won, then Lost.
STAGE_WEIGHTS = (12, 8, 6, 4, 3, 27, 40)
OWNER_WEIGHTS = (30, 20, 15, 12, 10, 7, 4, 2)
CURRENCY_WEIGHTS = {"USD": 45, "EUR": 25, "GBP": 10, "RUB": 10, "KZT": 5, "JPY": 5}
LOST_REASONS = ("Too expensive", "Chose a competitor", "No budget", "No response")
#: (e) matches about 1.75% of titles, (f) about 0.04%.
SEARCH_COMMON = "kowalski"
SEARCH_RARE = "Mila Kowalski"


class Picker:
    """Weighted random choice by bisection over cumulative weights (``random.choices`` is slow
    when called once per row)."""

    def __init__(self, rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.rng = rng
        self.items = list(items)
        self.cumulative: list[float] = []
        total = 0.0
        for weight in weights:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def pick(self) -> Any:
        """One item, chosen with probability proportional to its weight."""
        return self.items[bisect.bisect_right(self.cumulative, self.rng.random() * self.total)]


@dataclass
class Fixture:
    """The ids the seeded rows refer to."""

    owner_ids: list[int]
    #: pipeline id -> its stages as (stage id, kind), open stages first, then Won, then Lost.
    stages: dict[int, list[tuple[int, str]]]
    lost_reason_ids: list[int]
    contact_names: list[str] = field(default_factory=list)


# -- loading rows -----------------------------------------------------------------------


def is_postgres(client: BaseDBAsyncClient) -> bool:
    """Whether the Tortoise connection talks to PostgreSQL (otherwise SQLite)."""
    return client.capabilities.dialect == "postgres"


async def load(client: BaseDBAsyncClient, table: str, columns: Sequence[str], rows: list) -> None:
    """Bulk-insert ``rows``: ``COPY`` on PostgreSQL, one ``executemany`` on SQLite.

    On SQLite the values go through the same ``sqlite3`` adapters Tortoise registers
    (``Decimal`` as text, datetimes as ISO 8601), so they read back like ORM-written rows.
    """
    if not rows:
        return
    if is_postgres(client):
        async with client.acquire_connection() as connection:
            await connection.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    await client.execute_many(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)  # noqa: S608


async def wipe(client: BaseDBAsyncClient) -> None:
    """Empty every domain table, refusing if a user the benchmark did not create exists."""
    users = await client.execute_query_dict('SELECT email FROM "user"')
    foreign = [u["email"] for u in users if not u["email"].endswith("@" + BENCH_DOMAIN)]
    if foreign:
        sys.exit(
            f"refusing to wipe: the database has users the benchmark did not create "
            f"({', '.join(foreign[:3])}...); give the benchmark a database of its own"
        )
    if is_postgres(client):
        tables = ", ".join(f'"{t}"' for t in TABLES)
        await client.execute_script(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE")
        return
    for table in TABLES:
        await client.execute_script(f'DELETE FROM "{table}"')  # noqa: S608
    sequences = await client.execute_query_dict(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    )
    if sequences:
        await client.execute_script("DELETE FROM sqlite_sequence")


# -- seeding ----------------------------------------------------------------------------


async def seed_services(pipelines: int) -> Fixture:
    """Users, lost reasons, pipelines and stages, made through the services."""
    owners = []
    for index, weight in enumerate(OWNER_WEIGHTS):
        role = Role.OWNER if index == 0 else Role.ADMIN if index < 3 else Role.OPERATOR
        user = await create_user(
            actor=None,
            email=f"seller{index + 1}@{BENCH_DOMAIN}",
            role=role,
            password="bench-password",  # noqa: S106
            name=f"Seller {index + 1} ({weight}% of deals)",
        )
        owners.append(user.id)
    reasons = [(await create_lost_reason(actor=None, name=n)).id for n in LOST_REASONS]
    stages: dict[int, list[tuple[int, str]]] = {}
    for index in range(pipelines):
        (first_name, first_probability), *rest = OPEN_STAGES
        pipeline = await create_pipeline(
            actor=None,
            name=f"Pipeline {index + 1}",
            initial_stage=first_name,
            initial_probability=first_probability,
        )
        for name, probability in rest:
            await create_stage(
                actor=None, pipeline_id=pipeline.id, name=name, probability=probability
            )
        stages[pipeline.id] = [
            (s.id, s.kind.value) for s in await list_stages(pipeline_id=pipeline.id)
        ]
    return Fixture(owner_ids=owners, stages=stages, lost_reason_ids=reasons)


def contact_rows(rng: random.Random, start: int, count: int, now: datetime) -> list[tuple]:
    """Contacts ``start..start+count-1``: names from a small pool, most with a phone."""
    rows = []
    for contact_id in range(start, start + count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        created = now - timedelta(seconds=rng.random() * 2 * 365 * 86400)
        phone = f"+4477{contact_id:08d}" if rng.random() < 0.7 else None
        email = (
            f"{first}.{last}.{contact_id}@mail.example.com".lower() if rng.random() < 0.5 else None
        )
        rows.append((contact_id, f"{first} {last}", phone, email, created, created))
    return rows


class DealMaker:
    """Generates deal and deal-contact rows with a realistic spread of values."""

    def __init__(self, rng: random.Random, fixture: Fixture, now: datetime) -> None:
        self.rng = rng
        self.fixture = fixture
        self.now = now
        pipeline_ids = sorted(fixture.stages)
        # Zipf-like: the first pipeline is the busiest (about a third of all deals at P=10).
        self.pipelines = Picker(rng, pipeline_ids, [1 / (i + 1) for i in range(len(pipeline_ids))])
        self.stage_index = Picker(rng, range(len(STAGE_WEIGHTS)), STAGE_WEIGHTS)
        self.owners = Picker(rng, fixture.owner_ids, OWNER_WEIGHTS)
        self.currencies = Picker(rng, list(CURRENCY_WEIGHTS), list(CURRENCY_WEIGHTS.values()))
        self.link_id = 0

    def amount(self) -> tuple[Decimal | None, str | None]:
        """12% of deals have no amount (a quarter of those still name a currency)."""
        rng = self.rng
        if rng.random() < 0.12:
            return None, (self.currencies.pick() if rng.random() < 0.25 else None)
        value = min(rng.lognormvariate(7.5, 1.3), 9_999_999.0)
        amount = Decimal(round(value, -2)) if rng.random() < 0.4 else Decimal(f"{value:.2f}")
        return amount.quantize(Decimal("0.01")), self.currencies.pick()

    def rows(self, start_id: int, created: Sequence[datetime]) -> tuple[list[tuple], list[tuple]]:
        """Deals ``start_id..`` created at ``created`` (ascending, like real ids), and links."""
        rng, fixture = self.rng, self.fixture
        contacts = len(fixture.contact_names)
        deals: list[tuple] = []
        links: list[tuple] = []
        for offset, created_at in enumerate(created):
            deal_id = start_id + offset
            pipeline_id = self.pipelines.pick()
            stage_id, kind = fixture.stages[pipeline_id][self.stage_index.pick()]
            amount, currency = self.amount()
            changed = min(created_at + timedelta(seconds=rng.random() * 30 * 86400), self.now)
            updated = min(changed + timedelta(seconds=rng.random() * 7 * 86400), self.now)
            close_date: date | None = None
            lost_reason = None
            if kind != "open":
                close_date = changed.date()
                if kind == "lost" and rng.random() < 0.7:
                    lost_reason = rng.choice(fixture.lost_reason_ids)
            elif rng.random() < 0.45:
                close_date = (created_at + timedelta(days=rng.randint(7, 120))).date()
            n_contacts = 1 if rng.random() < 0.88 else (2 if rng.random() < 0.85 else 3)
            contact_ids = rng.sample(range(1, contacts + 1), n_contacts)
            if rng.random() < 0.7:
                title = fixture.contact_names[contact_ids[0] - 1]
            else:
                title = f"{rng.choice(COMPANIES)} — {rng.choice(PRODUCTS)}"
            reference = f"INV-{deal_id:07d}" if rng.random() < 0.3 else None
            deals.append((
                deal_id, title, pipeline_id, stage_id, self.owners.pick(), amount, currency,
                close_date, reference, lost_reason, created_at, updated, changed,
            ))  # fmt: skip
            for position, contact_id in enumerate(contact_ids):
                self.link_id += 1
                links.append((self.link_id, deal_id, contact_id, position))
        return deals, links


def chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, count)`` pairs covering ``0..total-1``."""
    for start in range(0, total, size):
        yield start, min(size, total - start)


async def seed(client: BaseDBAsyncClient, deals: int, pipelines: int, seed_value: int) -> None:
    """Wipe, then seed ``deals`` deals over ``pipelines`` pipelines, then refresh statistics."""
    rng = random.Random(seed_value)
    now = datetime.now(UTC).replace(microsecond=0)
    await wipe(client)
    fixture = await seed_services(pipelines)
    n_contacts = max(50, deals // 4)
    year = 365 * 86400
    created = sorted(now - timedelta(seconds=rng.random() * year) for _ in range(deals))
    maker = DealMaker(rng, fixture, now)
    progress = Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with progress:
        contact_task = progress.add_task("contacts", total=n_contacts)
        for start, count in chunks(n_contacts, CHUNK):
            rows = contact_rows(rng, start + 1, count, now)
            fixture.contact_names.extend(r[1] for r in rows)
            await load(client, "contact", CONTACT_COLUMNS, rows)
            progress.advance(contact_task, count)
        deal_task = progress.add_task("deals", total=deals)
        for start, count in chunks(deals, CHUNK):
            deal_rows, link_rows = maker.rows(start + 1, created[start : start + count])
            await load(client, "deal", DEAL_COLUMNS, deal_rows)
            await load(client, "deal_contact", LINK_COLUMNS, link_rows)
            progress.advance(deal_task, count)
        stats_task: TaskID = progress.add_task("analyze", total=1)
        await refresh_statistics(client)
        progress.advance(stats_task)


async def refresh_statistics(client: BaseDBAsyncClient) -> None:
    """Move the id sequences past the loaded ids, then VACUUM ANALYZE (SQLite: ANALYZE)."""
    if not is_postgres(client):
        await client.execute_script("ANALYZE")
        return
    async with client.acquire_connection() as connection:
        for table in ("contact", "deal", "deal_contact"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        for table in TABLES:
            await connection.execute(f'VACUUM ANALYZE "{table}"')


# -- timing -----------------------------------------------------------------------------


@dataclass
class Case:
    """One timed call and the figure it must beat."""

    label: str
    call: Callable[[], Awaitable[int]]
    target_ms: float


@dataclass
class Timing:
    """The samples of one case, in milliseconds, and the rows its last run returned."""

    case: Case
    samples: list[float]
    rows: int

    @property
    def median(self) -> float:
        """Median run time."""
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """95th percentile run time (inclusive method, exact for the sample set)."""
        if len(self.samples) < 2:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=20, method="inclusive")[18]


async def time_cases(cases: list[Case], runs: int) -> list[Timing]:
    """Warm every case up, then time ``runs`` rounds of all cases in turn.

    Rounds interleave the cases, so a burst of load from another process on the
    machine spreads over all of them instead of spoiling one case's figures.
    """
    timings = [Timing(case, [], 0) for case in cases]
    for timing in timings:
        for _ in range(WARMUP_RUNS):
            timing.rows = await timing.case.call()
    gc.collect()
    for _ in range(runs):
        for timing in timings:
            started = time.perf_counter()
            timing.rows = await timing.case.call()
            timing.samples.append((time.perf_counter() - started) * 1000)
    return timings


async def wait_idle(limit_s: float, console: Console) -> None:
    """Wait up to ``limit_s`` seconds for the 1-minute load average to fall below 1."""
    for _ in range(int(limit_s // 5)):
        if os.getloadavg()[0] < 1.0:
            break
        await asyncio.sleep(5)
    if limit_s:
        console.print(f"idle:     1-minute load {os.getloadavg()[0]:.2f} after waiting")


def load_average() -> str:
    """The 1, 5 and 15-minute load averages (other work on the machine skews the figures)."""
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def board_rows(columns: list[StageColumn]) -> int:
    """Cards shown on a board (or deals counted when no cards are asked for)."""
    cards = sum(len(c.deals) for c in columns)
    return cards or sum(c.count for c in columns)


def cursor_at(value: Any, deal_id: int) -> str:
    """A list cursor as ``funnels.queries`` encodes it: url-safe base64 of ``[value, id]``."""
    raw = json.dumps([value, deal_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class Subject:
    """The pipeline and owner the cases look at."""

    pipeline_id: int
    pipeline_deals: int
    owner_id: int
    owner_deals: int
    total_deals: int
    median_amount: str


async def pick_subject(client: BaseDBAsyncClient) -> Subject:
    """The biggest pipeline, and its least busy owner (the slowest owner filter to page)."""
    biggest = await client.execute_query_dict(
        "SELECT pipeline_id, COUNT(*) AS n FROM deal GROUP BY pipeline_id "
        "ORDER BY n DESC, pipeline_id LIMIT 1"
    )
    pipeline_id, pipeline_deals = biggest[0]["pipeline_id"], biggest[0]["n"]
    owner = await client.execute_query_dict(
        f"SELECT owner_id, COUNT(*) AS n FROM deal WHERE pipeline_id = {int(pipeline_id)} "  # noqa: S608
        "GROUP BY owner_id ORDER BY n, owner_id LIMIT 1"
    )
    total = await client.execute_query_dict(
        "SELECT COUNT(*) AS n, COUNT(amount) AS filled FROM deal"
    )
    amounts = await client.execute_query_dict(
        "SELECT amount FROM deal WHERE amount IS NOT NULL ORDER BY amount, id "  # noqa: S608
        f"LIMIT 1 OFFSET {int(total[0]['filled']) // 2}"
    )
    return Subject(
        pipeline_id=pipeline_id,
        pipeline_deals=pipeline_deals,
        owner_id=owner[0]["owner_id"],
        owner_deals=owner[0]["n"],
        total_deals=total[0]["n"],
        median_amount=f"{Decimal(str(amounts[0]['amount'])):.2f}" if amounts else "0.00",
    )


async def build_cases(subject: Subject) -> list[Case]:
    """The board and list calls to time."""
    pipeline_id, owner_id = subject.pipeline_id, subject.owner_id
    first = await list_deals(sort=DealSort.AMOUNT, descending=True, limit=50)
    page_two = first.next_cursor
    # A cursor about half-way down the amount-sorted list: keyset pages should cost the same.
    deep = cursor_at(subject.median_amount, subject.total_deals)

    async def board_cards() -> int:
        return board_rows(await board(pipeline_id=pipeline_id, cards=20))

    async def board_totals() -> int:
        return board_rows(await board(pipeline_id=pipeline_id, cards=0))

    def listing(**kwargs: Any) -> Callable[[], Awaitable[int]]:
        async def call() -> int:
            page: DealPage = await list_deals(limit=50, **kwargs)
            return len(page.items)

        return call

    return [
        Case("(a) board, cards=20", board_cards, BOARD_TARGET_MS),
        Case("(b) board, cards=0 (counts + sums)", board_totals, BOARD_TARGET_MS),
        Case(
            "(c) list pipeline+owner, created_at desc, page 1",
            listing(
                filters=DealFilter(pipeline_id=pipeline_id, owner_id=owner_id),
                sort=DealSort.CREATED_AT,
                descending=True,
            ),
            LIST_TARGET_MS,
        ),
        Case(
            "(d) list amount desc, page 2 (cursor)",
            listing(sort=DealSort.AMOUNT, descending=True, cursor=page_two),
            LIST_TARGET_MS,
        ),
        Case(
            f"(e) list title search {SEARCH_COMMON!r}, created_at desc",
            listing(filters=DealFilter(title=SEARCH_COMMON), descending=True),
            LIST_TARGET_MS,
        ),
        Case(
            f"(f) list title search {SEARCH_RARE!r} (rare), created_at desc",
            listing(filters=DealFilter(title=SEARCH_RARE), descending=True),
            LIST_TARGET_MS,
        ),
        Case(
            "(g) list amount desc, deep page (cursor at median)",
            listing(sort=DealSort.AMOUNT, descending=True, cursor=deep),
            LIST_TARGET_MS,
        ),
    ]


async def time_over_http(
    app: web.Application,
    login: dict[str, str],
    build: Callable[[aiohttp.ClientSession, str], Awaitable[list[Case]]],
    args: argparse.Namespace,
    console: Console,
) -> None:
    """Serve ``app`` on 127.0.0.1, sign in with ``login``, time the cases ``build`` makes
    for that session and base URL (``args.runs`` rounds, after ``args.wait_idle``), report.

    What ``bench/inbox.py`` and ``bench/pages.py`` share: pages timed over real HTTP."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = "http://{}:{}".format(*runner.addresses[0][:2])
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{base}/api/v1/auth/login", json=login) as response:
                assert response.status == 200, await response.text()
            timed = await build(http, base)
            await wait_idle(args.wait_idle, console)
            load_before = load_average()
            timings = await time_cases(timed, args.runs)
            console.print(f"load avg: {load_before} before timing, {load_average()} after")
            report(console, timings, args.runs)
    finally:
        await runner.cleanup()


# -- query capture and EXPLAIN ----------------------------------------------------------


class QueryLog(logging.Handler):
    """Collects the SQL and parameters Tortoise sends while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.queries: list[tuple[str, list]] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the ``(query, values)`` arguments of a Tortoise debug line."""
        args = record.args if isinstance(record.args, tuple) else ()
        if args and isinstance(args[0], str):
            values = args[1] if len(args) > 1 and isinstance(args[1], list | tuple) else []
            self.queries.append((args[0], list(values)))


async def captured(call: Callable[[], Awaitable[int]]) -> list[tuple[str, list]]:
    """The statements one run of ``call`` sends."""
    handler = QueryLog()
    level = db_client_logger.level
    db_client_logger.addHandler(handler)
    db_client_logger.setLevel(logging.DEBUG)
    try:
        await call()
    finally:
        db_client_logger.removeHandler(handler)
        db_client_logger.setLevel(level)
    return handler.queries


async def explain(client: BaseDBAsyncClient, cases: list[Case], console: Console) -> None:
    """Print every statement of each case with its plan (ANALYZE on PostgreSQL)."""
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if is_postgres(client) else "EXPLAIN QUERY PLAN "
    for case in cases:
        console.rule(case.label)
        for query, values in await captured(case.call):
            console.print(f"[bold]{query}[/bold]  {values}", markup=True, highlight=False)
            plan = await client.execute_query_dict(prefix + query, values)
            for row in plan:
                console.print("    " + " ".join(str(v) for v in row.values()), highlight=False)


# -- reporting --------------------------------------------------------------------------


def page_bench_options(parser: argparse.ArgumentParser) -> None:
    """The options every page benchmark takes besides what it seeds."""
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per case, default 30")
    parser.add_argument("--reuse", action="store_true", help="keep a seed of the same size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS")


def page_bench_start(args: argparse.Namespace, secret: str) -> tuple[Console, Settings]:
    """What every page benchmark prints first, and its app's settings (workers off)."""
    console = Console(width=140, highlight=False)
    console.print(f"command:  {shlex.join([sys.executable, *sys.argv])}  (cwd {os.getcwd()})")
    console.print(f"machine:  {machine()}")
    console.print(f"code:     {code_state()}")
    console.print(f"software: Python {sys.version.split()[0]}, aiohttp {version('aiohttp')}, "
                  f"tortoise-orm {version('tortoise-orm')}")  # fmt: skip
    settings = Settings(
        database_url=args.database_url, secret_key=SecretStr(secret), intake_worker=False,
        event_worker=False, outbox_worker=False,
    )  # fmt: skip
    return console, settings


def machine() -> str:
    """nproc, CPU model and memory of this machine."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        memory = f", {kib / 1024**2:.1f} GiB RAM"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"nproc={cores}, CPU: {cpu}{memory}"


def code_state() -> str:
    """The commit under test and the files edited on top of it (others work concurrently)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "core", "funnels"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    edited = [line[3:] for line in dirty if line.strip()]
    return f"commit {head}" + (f" + uncommitted edits to {', '.join(edited)}" if edited else "")


async def server(client: BaseDBAsyncClient) -> str:
    """The database server's version and the settings that shape its plans."""
    if not is_postgres(client):
        return f"SQLite {sqlite3.sqlite_version}"
    rows = await client.execute_query_dict("SELECT version() AS v")
    settings = []
    for name in ("shared_buffers", "work_mem", "effective_cache_size", "jit"):
        value = await client.execute_query_dict(f"SHOW {name}")
        settings.append(f"{name}={next(iter(value[0].values()))}")
    return f"{rows[0]['v']} ({', '.join(settings)})"


def report(console: Console, timings: list[Timing], runs: int) -> None:
    """The table of figures."""
    table = Table(title=f"{runs} interleaved runs per case after {WARMUP_RUNS} warm-up runs, ms")
    for column in ("case", "rows", "median", "p95", "min", "max", "target", ""):
        table.add_column(column, justify="left" if column == "case" else "right")
    for t in timings:
        ok = t.median < t.case.target_ms and t.p95 < t.case.target_ms
        table.add_row(
            t.case.label,
            str(t.rows),
            f"{t.median:.1f}",
            f"{t.p95:.1f}",
            f"{min(t.samples):.1f}",
            f"{max(t.samples):.1f}",
            f"< {t.case.target_ms:.0f}",
            "ok" if ok else "MISSED",
        )
    console.print(table)


# -- pages over HTTP (bench/inbox.py, bench/deal_page.py) ------------------------------
# The app runs in-process on a free port of 127.0.0.1 on the benchmark's open database
# connection; a client signs in with the JSON login (the session cookie); each case is a GET.

Call = Callable[[], Awaitable[int]]
#: The pages to time, asked for once signed in: [(label, path, headers)].
Paths = Callable[[], Awaitable[list[tuple[str, str, dict | None]]]]


def getter(http: aiohttp.ClientSession, url: str, headers: dict | None, marks: list[bytes]) -> Call:
    """One GET that must answer 200; it returns how often the first of ``marks`` found
    in the body occurs (the rows the page drew)."""

    async def call() -> int:
        async with http.get(url, headers=headers) as response:
            body = await response.read()
            assert response.status == 200, (url, response.status, body[:300])
            return next((n for n in (body.count(m) for m in marks) if n), 0)

    return call


async def time_pages(
    settings: Settings, login: dict, paths: Paths, marks: list[bytes], args, console: Console
) -> None:
    """Serve, sign in, time every path (target ``args.target_ms``) and print the table."""

    async def build(http: aiohttp.ClientSession, base: str) -> list[Case]:
        return [
            Case(label, getter(http, base + path, headers, marks), args.target_ms)
            for label, path, headers in await paths()
        ]

    await time_over_http(create_app(settings, own_database=False), login, build, args, console)


# -- main -------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    """Migrate, seed (unless reused), time and report."""
    console = Console(width=140, highlight=False)
    console.print(f"command:  {shlex.join([sys.executable, *sys.argv])}  (cwd {os.getcwd()})")
    console.print(f"machine:  {machine()}")
    console.print(f"code:     {code_state()}")
    console.print(
        f"software: Python {sys.version.split()[0]}, tortoise-orm {version('tortoise-orm')}, "
        f"asyncpg {version('asyncpg')}, aiosqlite {version('aiosqlite')}"
    )
    await migrate(args.database_url)
    async with database(args.database_url):
        client = connections.get("default")
        console.print(f"database: {await server(client)}")
        held = await client.execute_query_dict("SELECT COUNT(*) AS n FROM deal")
        pipelines = await client.execute_query_dict("SELECT COUNT(*) AS n FROM pipeline")
        reusable = held[0]["n"] == args.deals and pipelines[0]["n"] == args.pipelines
        if args.reuse and reusable:
            console.print(f"seeding:  reused the {args.deals:,} deals already there")
        else:
            started = time.perf_counter()
            await seed(client, args.deals, args.pipelines, args.seed)
            console.print(
                f"seeding:  {args.deals:,} deals in {time.perf_counter() - started:.1f} s"
            )
        subject = await pick_subject(client)
        console.print(
            f"subject:  pipeline {subject.pipeline_id} ({subject.pipeline_deals:,} of "
            f"{subject.total_deals:,} deals, {args.pipelines} pipelines), owner "
            f"{subject.owner_id} ({subject.owner_deals:,} deals in that pipeline)"
        )
        cases = await build_cases(subject)
        if args.only:
            cases = [c for c in cases if c.label[1] in args.only]
        await wait_idle(args.wait_idle, console)
        load_before = load_average()
        timings = await time_cases(cases, args.runs)
        console.print(f"load avg: {load_before} before timing, {load_average()} after (1/5/15 min)")
        report(console, timings, args.runs)
        if args.explain:
            await explain(client, cases, console)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, required=True, help="deals to seed")
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument("--pipelines", type=int, default=10, help="pipelines (1-10), default 10")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per case, default 50")
    parser.add_argument(
        "--reuse", action="store_true", help="skip seeding if the table already holds N deals"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed, default 1")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before timing, wait up to this long for the 1-minute load average to drop below 1",
    )
    parser.add_argument("--only", default="", help="case letters to run, e.g. 'ab'")
    parser.add_argument(
        "--explain", action="store_true", help="print each case's SQL with EXPLAIN ANALYZE"
    )
    args = parser.parse_args(argv)
    if args.deals < 1:
        parser.error("--deals must be at least 1")
    if not 1 <= args.pipelines <= MAX_PIPELINES:
        parser.error(f"--pipelines must be between 1 and {MAX_PIPELINES}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main() -> None:
    """Entry point: ``python bench/board.py --deals N``."""
    asyncio.run(run(parse_args()))


if __name__ == "__main__":
    main()
