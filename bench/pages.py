"""Benchmark of the deals pages at scale: the kanban and the deal list at 100,000 deals.

It migrates the database, seeds ``--deals`` deals over ``--pipelines`` pipelines with
``bench/board.py``'s seed (users, pipelines and stages through the services, deals and
contacts bulk-loaded), starts the app on 127.0.0.1 (background workers off) and times,
over real HTTP with an owner's session, what an admin's browser asks for::

    .venv/bin/python bench/pages.py --deals 100000
    .venv/bin/python bench/pages.py --deals 5000 --database-url sqlite:///tmp/pages.sqlite3

Figures are whole request times seen by a client on loopback (the server's work, the
page rendered, plus about a millisecond of client), median and p95 of ``--runs``
interleaved rounds after three warm-up runs. ``--reuse`` keeps an earlier seed of the
same size; the database is wiped otherwise (it refuses one holding users it did not
create). Timing, reporting and seeding helpers are ``bench/board.py``'s.
"""

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

# The project's packages come before this folder's scripts (bench/inbox.py is not inbox).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from tortoise import connections

from bench import board
from core.db import database, migrate
from web.app import create_app

SECRET = "pages-bench-secret-key-2026"
TARGET_MS = 200.0
NEXT_PAGE = re.compile(rb'href="(/deals/list\?[^"]*cursor=[^"]*)" rel="next"')
MORE_CARDS = re.compile(rb'hx-get="(/deals/pipelines/\d+/stages/\d+/cards\?[^"]*)"')


def counted(body: bytes) -> int:
    """Cards on a board, or rows of a list: what the page showed."""
    return body.count(b'class="deal-card"') or body.count(b"<tr data-deal-id=")


async def cases(http: aiohttp.ClientSession, base: str, subject: board.Subject) -> list[board.Case]:
    """The kanban (plain, filtered), a column's next cards, the list (sorts, filters, page 2)."""

    async def fetch(path: str) -> bytes:
        async with http.get(base + path) as response:
            body = await response.read()
            assert response.status == 200, (path, response.status, body[:300])
            return body

    def get(path: str) -> Callable[[], Awaitable[int]]:
        async def call() -> int:
            return counted(await fetch(path))

        return call

    kanban = f"/deals/pipelines/{subject.pipeline_id}"
    more = MORE_CARDS.search(await fetch(kanban))
    page_two = NEXT_PAGE.search(await fetch("/deals/list?sort=amount&order=desc"))
    assert more and page_two, "the pages lost their 'more' links"
    unescape = lambda raw: raw.decode().replace("&amp;", "&")  # noqa: E731
    paths = [
        (f"(a) kanban, {subject.pipeline_deals:,} deals in the pipeline", kanban),
        (f"(b) kanban, owner filter ({subject.owner_deals:,} deals)",
         f"{kanban}?owner_id={subject.owner_id}"),
        (f"(c) kanban, title search '{board.SEARCH_COMMON}'",
         f"{kanban}?title={board.SEARCH_COMMON}"),
        ("(d) a column's next 20 cards (scroll)", unescape(more.group(1))),
        ("(e) list, newest first, page 1", "/deals/list?sort=created_at&order=desc"),
        ("(f) list, amount desc, page 2 (cursor)", unescape(page_two.group(1))),
        ("(g) list, pipeline + owner filter",
         f"/deals/list?pipeline_id={subject.pipeline_id}&owner_id={subject.owner_id}"),
        (f"(h) list, title search '{board.SEARCH_RARE}'",
         "/deals/list?title=" + board.SEARCH_RARE.replace(" ", "+")),
    ]  # fmt: skip
    return [board.Case(label, get(path), TARGET_MS) for label, path in paths]


async def run(args: argparse.Namespace) -> None:
    console, settings = board.page_bench_start(args, SECRET)
    await migrate(args.database_url)
    async with database(args.database_url):
        client = connections.get("default")
        console.print(f"database: {await board.server(client)}")
        held = await client.execute_query_dict("SELECT COUNT(*) AS n FROM deal")
        if args.reuse and held[0]["n"] == args.deals:
            console.print(f"seeding:  reused {args.deals:,} deals")
        else:
            started = time.perf_counter()
            await board.seed(client, args.deals, args.pipelines, args.seed)
            console.print(
                f"seeding:  {args.deals:,} deals in {time.perf_counter() - started:.1f} s"
            )
        subject = await board.pick_subject(client)
        login = {"email": f"seller1@{board.BENCH_DOMAIN}", "password": "bench-password"}
        app = create_app(settings, own_database=False)
        await board.time_over_http(
            app, login, lambda http, base: cases(http, base, subject), args, console
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--pipelines", type=int, default=10)
    board.page_bench_options(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
