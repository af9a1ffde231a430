"""Webhook ingest benchmark: signed WhatsApp deliveries fired at a running server.

    .venv/bin/python bench/ingest.py --deliveries 5000 --concurrency 50
    .venv/bin/python bench/ingest.py --rate 200 --seconds 60
    .venv/bin/python bench/ingest.py --burst 13000 --concurrency 50

Starts ``funnelbox serve`` on a fresh PostgreSQL database, connects a WhatsApp channel,
then fires N signed webhook deliveries (a share of them redelivered duplicates,
shuffled) from C concurrent connections. Afterwards it checks that the database holds
exactly the expected messages, dialogs and deals, and prints deliveries/s and
p50/p99 latency of the webhook answers, and how long the intake took to turn every
stored delivery into messages, dialogs and deals (end to end). In the same run it
measures a bare aiohttp handler that only inserts one row into the same database, just
before and just after: the ceiling of this stack on this machine, whose speed drifts
within minutes (the ratio is taken against the mean of the two).

``--rate R --seconds S`` is open loop, as a platform sends: R deliveries a second for S
seconds whatever the answers (at most ``--concurrency`` connections open; a send waiting
for one counts in its answer time, measured from when it was due). It reports answer
p50/p99 and how long after its first delivery each message was stored (its row's
``created_at``; every text carries its sequence number). ``--burst N`` fires N deliveries
as fast as ``--concurrency`` connections take them and reports when the last was answered,
when the last message was stored, and the backlog (deliveries not yet processed) sampled
while it drains. Every mode checks the counts and each conversation's order: per chat,
messages in id order follow the order their deliveries were accepted in, and no message
is stored before one that was sent after it had been answered.
"""

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.whatsapp import WhatsAppWebhooks, signed  # noqa: E402

APP_SECRET = "bench-app-secret"
SECRET_KEY = "bench-secret-key-0123456789"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@dataclass
class Result:
    """Throughput and latency of one run; ``sent`` maps a unique message's number to the
    wall-clock times its first delivery was due and was answered."""

    name: str
    seconds: float
    latencies: list[float]
    errors: int
    sent: dict[int, tuple[float, float]] = field(default_factory=dict)
    first: float = 0.0
    last_answer: float = 0.0
    #: CPU seconds the serving processes used while the deliveries were sent and answered,
    #: and (intake in a worker process) the worker's until every message was stored.
    server_cpu: float = 0.0
    worker_cpu: float | None = None
    #: PostgreSQL's CPU seconds over the same time.
    database_cpu: float = 0.0

    def rate(self) -> float:
        """Answers a second."""
        return len(self.latencies) / self.seconds

    def line(self) -> str:
        lat = self.latencies
        p50 = statistics.median(lat) * 1000
        p99 = percentile(lat, 0.99) * 1000
        return (
            f"{self.name:<14} {len(lat):>7} req  {self.rate():>8.0f} req/s  "
            f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  errors {self.errors}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


Body = tuple[int, bytes, dict[str, str]]


async def post(
    http: aiohttp.ClientSession, url: str, body: Body, due: float, result: Result
) -> None:
    """Send one delivery; its answer time counts from ``due`` (wall clock)."""
    number, data, headers = body
    async with http.post(url, data=data, headers=headers) as response:
        await response.read()
        if response.status != 200:
            result.errors += 1
            if result.errors == 1:
                print(f"first error: {response.status} {await response.text()}")
    answered = time.time()
    result.latencies.append(answered - due)
    result.last_answer = max(result.last_answer, answered)
    if number not in result.sent or result.sent[number][0] > due:
        result.sent[number] = (due, answered)


async def fire(url: str, bodies: list[Body], concurrency: int) -> Result:
    """Send every body once, ``concurrency`` at a time; time each request."""
    result = Result("", 0.0, [], 0)
    queue: asyncio.Queue[Body] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            await post(http, url, queue.get_nowait(), time.time(), result)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        started, result.first = time.perf_counter(), time.time()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


async def fire_at_rate(url: str, bodies: list[Body], rate: float, concurrency: int) -> Result:
    """Open loop: body k is due at start + k / rate, answered or not the ones before."""
    result = Result("", 0.0, [], 0)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        loop = asyncio.get_running_loop()
        start, result.first = loop.time(), time.time()
        tasks = []
        for k, body in enumerate(bodies):
            delay = start + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            due = result.first + k / rate
            tasks.append(asyncio.create_task(post(http, url, body, due, result)))
        await asyncio.gather(*tasks)
        result.seconds = loop.time() - start
    return result


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):  # a minute: a loaded 2-core machine imports slowly
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server at {url} did not start")


async def reset(database_url: str) -> None:
    """An empty public schema in the bench's database, created first on a new machine."""
    try:
        conn = await connect(database_url)
    except asyncpg.InvalidCatalogNameError:
        base, _, name = database_url.rpartition("/")
        server = await connect(f"{base}/postgres")
        try:
            await server.execute(f'CREATE DATABASE "{name}"')
        finally:
            await server.close()
        conn = await connect(database_url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def add_history(database_url: str, rows: int) -> None:
    """``rows`` processed deliveries and as many dispatched events, as a database that has
    served for a while holds: the queues' claims must not slow down with them."""
    conn = await connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO inbound_delivery (kind, key, payload, received_at, processed_at,"
            " attempts) SELECT 'whatsapp_message', 'history:' || n, '{}', now(), now(), 1"
            " FROM generate_series(1, $1) AS n", rows)  # fmt: skip
        await conn.execute(
            "INSERT INTO event (kind, data, created_at, attempts) SELECT 'history.item',"
            " '{}', now(), 0 FROM generate_series(1, $1)", rows)  # fmt: skip
        await conn.execute("ANALYZE inbound_delivery; ANALYZE event")
    finally:
        await conn.close()


def funnelbox(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "web.cli", *args], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout


async def setup_channel(base: str, token: str, phone_number_id: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{base}/api/v1/pipelines", json={"name": "Inbox"}) as r:
            pipeline = await r.json()
        channel = {
            "kind": "whatsapp",
            "name": "Bench number",
            "credentials": {
                "access_token": "bench-access-token",
                "app_secret": APP_SECRET,
                "verify_token": "bench-verify-token",
                "phone_number_id": phone_number_id,
                "waba_id": "102290129340398",
            },
            "pipeline_id": pipeline["id"],
            "stage_id": pipeline["stages"][0]["id"],
            "api_base_url": "http://127.0.0.1:9/v21.0",
        }
        async with http.post(f"{base}/api/v1/channels", json=channel) as r:
            assert r.status == 201, await r.text()


def deliveries(n: int, contacts: int, duplicates: float, seed: int) -> tuple[list[Body], int]:
    """N signed bodies: unique messages plus redeliveries of some of them, shuffled.
    Message i's text is ``message i``, which maps its row back to its delivery."""
    rng = random.Random(seed)
    hooks = WhatsAppWebhooks()
    unique = max(1, round(n * (1 - duplicates)))
    bodies = []
    for i in range(unique):
        wa_id = str(447911100000 + i % contacts)  # valid UK mobiles, as real wa_ids are
        payload = hooks.text(wa_id, f"message {i}", name=f"Customer {i % contacts}")
        bodies.append((i, *signed(payload, APP_SECRET)))
    bodies += [rng.choice(bodies) for _ in range(n - unique)]
    rng.shuffle(bodies)
    return bodies, unique


async def connect(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))


async def backlog(database_url: str, samples: list[tuple[float, int]], every: float) -> None:
    """Sample how many deliveries are stored but not processed, until cancelled."""
    conn = await connect(database_url)
    try:
        query = "SELECT count(*) FROM inbound_delivery WHERE next_attempt_at IS NOT NULL"
        while True:
            samples.append((time.time(), await conn.fetchval(query)))
            await asyncio.sleep(every)
    finally:
        await conn.close()


@dataclass
class Stored:
    """The messages as the database holds them, against what was sent."""

    latencies: list[float]
    last_stored: float
    order: str


async def stored(database_url: str, sent: dict[int, tuple[float, float]]) -> Stored:
    """Delivery -> message stored times and the per-conversation order check."""
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT m.id, m.dialog_id, m.text, m.created_at, d.id AS delivery FROM message m"
            " JOIN inbound_delivery d ON d.key = 'message:' || m.external_id"
            " WHERE m.direction = 'in' ORDER BY m.id"
        )
    finally:
        await conn.close()
    latencies, chats = [], defaultdict(list)
    for row in rows:
        number = int(row["text"].removeprefix("message "))
        latencies.append(row["created_at"].timestamp() - sent[number][0])
        chats[row["dialog_id"]].append((row["delivery"], *sent[number]))
    return Stored(latencies, max(r["created_at"].timestamp() for r in rows), order_check(chats))


def order_check(chats: dict[int, list[tuple[int, float, float]]]) -> str:
    """Per chat, in message id order: delivery ids rise (the accepted order), and no
    message was answered before an earlier-stored one was even sent."""
    accepted = inverted = 0
    for messages in chats.values():
        latest_due = 0.0
        accepted += sum(after[0] < before[0] for before, after in pairwise(messages))
        for _, due, answered in messages:
            if answered < latest_due:
                inverted += 1
            latest_due = max(latest_due, due)
    verdict = "OK" if accepted == inverted == 0 else "BROKEN"
    return (
        f"order in {len(chats)} chats: {accepted} out of accepted order, {inverted} stored"
        f" before a message sent after them was answered -> {verdict}"
    )


async def wait_processed(database_url: str) -> None:
    """Webhooks answer once a delivery is stored; wait until the intake has processed all."""
    conn = await connect(database_url)
    try:
        query = "SELECT count(*) FROM inbound_delivery WHERE next_attempt_at IS NOT NULL"
        while await conn.fetchval(query):
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def verify(database_url: str, unique: int, contacts: int) -> str:
    conn = await connect(database_url)
    try:
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
            for table in ("message", "dialog", "deal", "contact")
        }
    finally:
        await conn.close()
    expected = {"message": unique, "dialog": contacts, "deal": contacts, "contact": contacts}
    verdict = "OK" if counts == expected else "MISMATCH"
    return f"database: {counts} expected {expected} -> {verdict}"


async def bare_server(database_url: str, port: int, pool_size: int) -> None:
    """The ceiling: parse nothing, verify nothing, insert one row, answer 200."""
    pool = await asyncpg.create_pool(
        database_url.replace("postgres://", "postgresql://", 1), min_size=1, max_size=pool_size
    )
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_bare (id bigserial PRIMARY KEY, body text)"
    )

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()  # the bodies are ASCII JSON: text() costs what read() does
        await pool.execute("INSERT INTO bench_bare (body) VALUES ($1)", body)
        return web.json_response({"ok": True})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhooks/whatsapp", handle)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def prepare(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """A fresh database with an owner: the server's environment and an API token."""
    await reset(args.database_url)
    env = {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": args.database_url,
        "FUNNELBOX_SECRET_KEY": SECRET_KEY,
        "FUNNELBOX_DB_POOL_SIZE": str(args.pool),
        "FUNNELBOX_OUTBOX_WORKER": "false",
    }
    funnelbox(env, "migrate")
    if args.history:
        await add_history(args.database_url, args.history)
    owner = ["bench@example.com", "--role", "owner", "--password", "bench-password"]
    funnelbox(env, "createuser", *owner)
    return env, funnelbox(env, "token", "bench@example.com", "--name", "bench").strip()


async def run_funnelbox(
    args: argparse.Namespace, env: dict[str, str], token: str, bodies: list[Body]
) -> tuple[Result, list[tuple[float, int]]]:
    """Serve, connect the channel, send; wait for the intake to finish. Returns the
    answers and the backlog samples."""
    if args.worker_process:
        env = {**env, "FUNNELBOX_INTAKE_WORKER": "false", "FUNNELBOX_EVENT_WORKER": "false"}
    port = free_port()
    profiler = ["py-spy", "record", "--format", "raw", "--subprocesses", "-o", args.py_spy, "--"]
    server = subprocess.Popen(
        [*(profiler if args.py_spy else []), sys.executable, "-m", "web.cli", "serve",
         "--port", str(port), "--workers", str(args.workers)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = None
    if args.worker_process:  # the intake and the event dispatcher in a process of their own
        worker = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "worker"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    samples: list[tuple[float, int]] = []
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(f"{base}/healthz")
        await setup_channel(base, token, WhatsAppWebhooks().phone_number_id)
        sampler = asyncio.create_task(backlog(args.database_url, samples, args.sample))
        url = f"{base}/webhooks/whatsapp"
        cpu_before = {p.pid: cpu_seconds(p.pid) for p in (server, worker) if p is not None}
        database_before = postgres_ticks()
        if args.rate:
            result = await fire_at_rate(url, bodies, args.rate, args.concurrency)
        else:
            result = await fire(url, bodies, args.concurrency)
        result.server_cpu = cpu_seconds(server.pid) - cpu_before[server.pid]
        result.database_cpu = postgres_seconds(database_before)
        await wait_processed(args.database_url)
        if worker is not None:
            result.worker_cpu = cpu_seconds(worker.pid) - cpu_before[worker.pid]
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    finally:
        for process in (server, worker):
            if process is not None:
                process.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
                process.wait(timeout=30)
    result.name = "funnelbox"
    return result, samples


async def run_bare(args: argparse.Namespace, bodies: list[Body], when: str) -> Result:
    """The same bodies, closed loop, at the bare handler (run ``when``: before or after)."""
    port = free_port()
    bare = subprocess.Popen(
        [sys.executable, __file__, "--bare-server", str(port), "--database-url",
         args.database_url, "--pool", str(args.pool)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_ready(f"http://127.0.0.1:{port}/healthz")
        before, database_before = cpu_seconds(bare.pid), postgres_ticks()
        result = await fire(f"http://127.0.0.1:{port}/webhooks/whatsapp", bodies, args.concurrency)
        result.server_cpu = cpu_seconds(bare.pid) - before
        result.database_cpu = postgres_seconds(database_before)
    finally:
        bare.terminate()
        bare.wait(timeout=10)
    result.name = f"bare {when}"
    return result


def _processes() -> dict[int, tuple[int, str, int]]:
    """Every process's parent, name and CPU ticks (user and system), from Linux's /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            found[int(stat.parent.name)] = (int(fields[1]), name, int(fields[11]) + int(fields[12]))
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its descendants (the workers of ``serve
    --workers N``, the server under py-spy)."""
    processes = _processes()
    children: defaultdict[int, list[int]] = defaultdict(list)
    for child, (parent, _, _) in processes.items():
        children[parent].append(child)
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += processes[current][2] if current in processes else 0
        todo += children[current]
    return total / os.sysconf("SC_CLK_TCK")


def postgres_ticks() -> dict[int, int]:
    """CPU ticks of each PostgreSQL process (its backends serve the bench's connections)."""
    return {pid: ticks for pid, (_, name, ticks) in _processes().items() if name == "postgres"}


def postgres_seconds(before: dict[int, int]) -> float:
    """PostgreSQL's CPU time since ``before`` (a backend started since counts from 0)."""
    now = postgres_ticks()
    used = sum(ticks - before.get(pid, 0) for pid, ticks in now.items())
    return used / os.sysconf("SC_CLK_TCK")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


async def main(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    env, token = await prepare(args)
    n = args.burst or (round(args.rate * args.seconds) if args.rate else args.deliveries)
    bodies, unique = deliveries(n, args.contacts, args.duplicates, args.seed)
    # the bare handler before and after: this machine's speed drifts within minutes
    bare_before = await run_bare(args, bodies, "before")
    result, samples = await run_funnelbox(args, env, token, bodies)
    check = await verify(args.database_url, unique, min(args.contacts, unique))
    kept = await stored(args.database_url, result.sent)
    bare_after = await run_bare(args, bodies, "after")
    load_after = os.getloadavg()

    print("command:", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after")  # fmt: skip
    sending = f"at {args.rate:g}/s for {args.seconds:g} s" if args.rate else (
        f"from {args.concurrency} connections")  # fmt: skip
    print(f"deliveries {n} ({unique} unique, {n - unique} redelivered) {sending}, "
          f"{args.contacts} customers, {args.workers} server worker(s)"
          f"{f', {args.history} processed rows beforehand' if args.history else ''}"
          f"{', intake in a separate worker process' if args.worker_process else ''}")  # fmt: skip
    print(result.line())
    print(bare_before.line())
    print(bare_after.line())
    bare_cpu = (bare_before.server_cpu + bare_after.server_cpu) / 2
    print(f"server CPU while answering: funnelbox {result.server_cpu * 1000 / n:.2f} ms a delivery"
          f"{'' if args.worker_process else ' (intake included)'}, bare "
          f"{bare_cpu * 1000 / n:.2f} ms"
          + ("" if result.worker_cpu is None else
             f"; intake worker {result.worker_cpu * 1000 / unique:.2f} ms a message"))  # fmt: skip
    bare_database = (bare_before.database_cpu + bare_after.database_cpu) / 2
    print(f"PostgreSQL CPU while answering: {result.database_cpu * 1000 / n:.2f} ms a delivery, "
          f"bare {bare_database * 1000 / n:.2f} ms")  # fmt: skip
    bare_rate = (bare_before.rate() + bare_after.rate()) / 2
    if not args.rate:
        print(f"funnelbox / bare answer throughput: {result.rate() / bare_rate:.0%} "
              "(against the mean of the bare runs before and after)")  # fmt: skip
    end_to_end = kept.last_stored - result.first
    print(
        f"processed: {unique} messages, the last stored {end_to_end:.2f} s after the first "
        f"delivery ({unique / end_to_end:.0f} messages/s end to end, "
        f"{unique / end_to_end / bare_rate:.0%} of the bare "
        f"handler's answers/s); last answer at {result.last_answer - result.first:.2f} s, "
        f"last message stored {kept.last_stored - result.last_answer:.2f} s after it"
    )
    lat = kept.latencies
    print(f"delivery -> message stored: p50 {ms(statistics.median(lat))}  "
          f"p99 {ms(percentile(lat, 0.99))}  max {ms(max(lat))}")  # fmt: skip
    print("backlog (s after the first delivery: deliveries not yet processed): " + ", ".join(
        f"{t - result.first:.0f}: {count}" for t, count in thin(samples, 12)))  # fmt: skip
    print(kept.order)
    print(check)


def thin(samples: list[tuple[float, int]], most: int) -> list[tuple[float, int]]:
    """About ``most`` samples evenly spread, the last one kept."""
    step = max(1, len(samples) // most)
    return samples[::step] + ([samples[-1]] if samples and (len(samples) - 1) % step else [])


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--rate", type=float, help="open loop: deliveries a second")
    parser.add_argument("--seconds", type=float, default=60, help="open loop: for how long")
    parser.add_argument("--burst", type=int, help="N deliveries as fast as they are taken")
    parser.add_argument("--sample", type=float, default=1.0, help="backlog sampling period")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--contacts", type=int, default=500, help="distinct customers")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share redelivered")
    parser.add_argument("--pool", type=int, default=10, help="database pool size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--history", type=int, default=0, metavar="N",
        help="N processed deliveries and N dispatched events in the database beforehand",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="funnelbox serve processes")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/funnelbox_ingest"
    )
    parser.add_argument(
        "--worker-process", action="store_true",
        help="the intake and event workers in a separate `funnelbox worker` process",
    )  # fmt: skip
    parser.add_argument("--py-spy", metavar="FILE", help="profile the server into FILE (raw)")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.bare_server:
        asyncio.run(bare_server(arguments.database_url, arguments.bare_server, arguments.pool))
    else:
        asyncio.run(main(arguments))
