"""Altegio pull throughput, and what the client-side rate limiter costs.

    .venv/bin/python bench/altegio_sync.py --records 10000 \
        --database postgres://postgres@127.0.0.1:5432/altegio_bench

Serves a fake Altegio API (tests/fakes/altegio.py) on loopback holding ``--records``
records of ``--clients`` clients, migrates a fresh database (its public schema is
dropped first: give it a database of its own), connects the company through the
service functions, and runs three full pulls in this process:

(a) the first sync, limiter off: every record becomes a contact, a deal and a booking;
    records/s is the sync's own speed.
(b) the same records again, limiter off, pages of ``--small-page``: every record is
    unchanged, so this is the work without waiting for the API.
(c) as (b) with the limiter on and the fake answering 429 past 5 requests a second,
    as Altegio does. It should take max((b), what 5/s and 200/min require for its
    requests), and meet no 429.
"""

import argparse
import asyncio
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from altegio_sync.client import LIMITS, Limiter  # noqa: E402
from altegio_sync.connections import create_connection, get_connection  # noqa: E402
from altegio_sync.pull import api_for, pull  # noqa: E402
from bench.ingest import reset  # noqa: E402
from core import auth  # noqa: E402
from core.crypto import Vault  # noqa: E402
from core.db import database, migrate  # noqa: E402
from core.models import Role  # noqa: E402
from funnels.models import Deal  # noqa: E402
from tests.fakes.altegio import PARTNER_TOKEN, USER_TOKEN, FakeAltegio  # noqa: E402

VAULT = Vault("bench-secret-key-0123456789")


def required_seconds(requests: int, limits: tuple[tuple[int, float], ...] = LIMITS) -> float:
    """The least time ``requests`` requests can take under the limits (the first one at 0)."""
    sent: list[float] = []
    for _ in range(requests):
        at = sent[-1] if sent else 0.0
        for count, window in limits:
            if len(sent) >= count:
                at = max(at, sent[-count] + window)
        sent.append(at)
    return sent[-1] if sent else 0.0


def fill(fake: FakeAltegio, records: int, clients: int) -> None:
    for i in range(1, records + 1):
        client_id = i % clients + 1
        phone = f"+38164{client_id:07d}"
        day, hour = 1 + i % 28, 9 + i % 9
        fake.put(
            fake.record(
                i,
                attendance=(0, 2, 1, -1)[i % 4],
                date=f"2027-01-{day:02d} {hour:02d}:00:00",
                client={"id": client_id, "name": f"Client {client_id}", "phone": phone},
            )
        )


async def timed_pull(fake: FakeAltegio, connection_id: int, *, limiter: Limiter | None,
                     page_size: int) -> tuple[float, int, dict]:  # fmt: skip
    connection = await get_connection(connection_id=connection_id)
    before = len(fake.calls)
    async with aiohttp.ClientSession() as session:
        client = api_for(connection, VAULT, session, limiter=limiter)
        started = time.perf_counter()
        summary = await pull(connection, client, full=True, page_size=page_size)
        took = time.perf_counter() - started
    assert summary.error is None, summary.error
    return took, len(fake.calls) - before, summary.report()


async def main(args: argparse.Namespace) -> None:
    if args.database.startswith("postgres"):
        await reset(args.database)
    await migrate(args.database)
    async with FakeAltegio() as fake, database(args.database):
        fill(fake, args.records, args.clients)
        owner = await auth.create_user(
            actor=None,
            email="owner@example.com",
            role=Role.OWNER,
            password="bench-password",  # noqa: S106 (a throwaway database)
        )
        connection = await create_connection(
            actor=owner, vault=VAULT, company_id=fake.company_id, name="Bench salon",
            partner_token=PARTNER_TOKEN, user_token=USER_TOKEN, timezone="Europe/Belgrade",
            currency="EUR", api_base_url=fake.api_url,
        )  # fmt: skip
        load = os.getloadavg()
        first, first_calls, report = await timed_pull(
            fake, connection.id, limiter=None, page_size=args.page
        )
        deals = await Deal.all().count()
        bare, bare_calls, _ = await timed_pull(
            fake, connection.id, limiter=None, page_size=args.small_page
        )
        fake.limit_per_second = 5
        paced, paced_calls, again = await timed_pull(
            fake, connection.id, limiter=Limiter(), page_size=args.small_page
        )
        load_after = os.getloadavg()
    command = shlex.join([".venv/bin/python", "bench/altegio_sync.py", *sys.argv[1:]])
    print(command)
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {args.database.split(':')[0]}, "
          f"load average {load[0]:.1f} before, {load_after[0]:.1f} after")  # fmt: skip
    print(f"(a) first sync, limiter off: {args.records} records in {first:.1f} s "
          f"({args.records / first:.0f} records/s), {first_calls} requests, "
          f"{report['created']} created, {deals} deals")  # fmt: skip
    print(f"(b) again, limiter off, pages of {args.small_page}: {bare:.1f} s "
          f"({args.records / bare:.0f} records/s), {bare_calls} requests, "
          f"all unchanged")  # fmt: skip
    need = required_seconds(paced_calls)
    print(f"(c) again, limiter on, the API enforcing 5/s: {paced:.1f} s, {paced_calls} requests, "
          f"{fake.rejected} answered 429; the limit alone requires {need:.1f} s, "
          f"max((b), limit) = {max(bare, need):.1f} s, "
          f"{again['unchanged']} unchanged")  # fmt: skip


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--page", type=int, default=200, help="page size of the first sync")
    parser.add_argument("--small-page", type=int, default=50, help="page size of (b) and (c)")
    parser.add_argument(
        "--database", default="postgres://postgres@127.0.0.1:5432/altegio_bench",
        help="a database of its own: its public schema is dropped first",
    )  # fmt: skip
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
