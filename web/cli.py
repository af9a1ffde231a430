"""funnelbox: a self-hosted, messenger-centric CRM (Telegram and WhatsApp inbox, deals).

Each command imports what it needs when it runs, so ``funnelbox --help`` answers at once
rather than after loading aiogram, the ORM and the web app.
"""

import argparse
import asyncio
import secrets
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from core.settings import Settings

Command = Callable[[argparse.Namespace, "Settings"], Coroutine[None, None, int]]
ROLES = ("owner", "admin", "operator")


async def _migrate(args: argparse.Namespace, settings: "Settings") -> int:
    from core.db import migrate

    applied = await migrate(settings.database_url)
    if not applied:
        print("database is up to date: no migration to apply")
    else:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    return 0


async def _createuser(args: argparse.Namespace, settings: "Settings") -> int:
    from core import auth
    from core.db import database
    from core.models import Role

    password = args.password or secrets.token_urlsafe(12)
    async with database(settings.database_url):
        user = await auth.create_user(
            actor=None, email=args.email, role=Role(args.role), password=password, name=args.name
        )
    print(f"created {user.role.value} {user.email}")
    if not args.password:
        print(f"password: {password}")
    return 0


async def _setpassword(args: argparse.Namespace, settings: "Settings") -> int:
    from core import auth
    from core.db import database

    password = args.password or secrets.token_urlsafe(12)
    async with database(settings.database_url):
        user = await auth.get_user_by_email(email=args.email)
        revoked = await auth.set_password(
            actor=None, user=user, password=password, revoke_tokens=args.revoke_tokens
        )
    print(f"new password for {user.email}: {password}")
    print("signed out of every web session")
    if args.revoke_tokens:
        print(f"revoked {revoked} API token(s)")
    else:
        print("API tokens keep working (--revoke-tokens revokes them too)")
    return 0


async def _token(args: argparse.Namespace, settings: "Settings") -> int:
    """``token EMAIL --name N`` prints a new token alone on stdout (for ``$(...)``), what it
    is on stderr; ``token revoke ID`` revokes one."""
    from datetime import timedelta

    from core import auth, tokens
    from core.db import database

    if args.target == "revoke":
        return await _revoke_token(args, settings)
    if args.name is None or args.id is not None:
        print("error: use token EMAIL --name NAME, or token revoke ID", file=sys.stderr)
        return 2
    lifetime = timedelta(days=args.expires_days) if args.expires_days else None
    async with database(settings.database_url):
        user = await auth.get_user_by_email(email=args.target)
        token, raw = await tokens.create_token(
            actor=None, user=user, name=args.name, lifetime=lifetime
        )
    expiry = token.expires_at.isoformat() if token.expires_at else "never"
    print(
        f"API token {token.id} {token.name!r} for {user.email}, expires {expiry}", file=sys.stderr
    )
    print(raw)
    return 0


async def _revoke_token(args: argparse.Namespace, settings: "Settings") -> int:
    from core import tokens
    from core.db import database

    if args.id is None or not args.id.isdigit():
        print("error: token revoke takes the token's numeric id", file=sys.stderr)
        return 2
    async with database(settings.database_url):
        await tokens.revoke(actor=None, token_id=int(args.id))
    print(f"revoked API token {args.id}")
    return 0


async def _activation(args: argparse.Namespace, settings: "Settings") -> int:
    """``deactivate EMAIL`` and ``reactivate EMAIL``."""
    from core import auth
    from core.db import database

    change = auth.deactivate_user if args.command == "deactivate" else auth.reactivate_user
    async with database(settings.database_url):
        user = await auth.get_user_by_email(email=args.email)
        user = await change(actor=None, user_id=user.id)
    print(f"{user.email} is {'active' if user.is_active else 'deactivated'}")
    return 0


async def _bootstrap(args: argparse.Namespace, settings: "Settings") -> int:
    """Create the first owner when the database has no users (used by ``make run``)."""
    from core import auth
    from core.db import database
    from core.models import Role

    async with database(settings.database_url):
        owner = await auth.first_owner()
        if owner is not None:
            print(
                f"owner account: {owner.email} (forgot the password? "
                f"funnelbox setpassword {owner.email})"
            )
            return 0
        password = secrets.token_urlsafe(12)
        owner = await auth.create_user(
            actor=None, email=args.email, role=Role.OWNER, password=password, name=args.name
        )
    print(f"created owner account\n  login:    {owner.email}\n  password: {password}")
    return 0


async def _demo(args: argparse.Namespace, settings: "Settings") -> int:
    """Migrate and fill an unused database with the demo workspace (``web.demo``)."""
    from core.crypto import Vault
    from core.db import database, migrate
    from web import demo

    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    vault = Vault(secret)  # the demo's channels store (made-up) credentials
    await migrate(settings.database_url)
    async with database(settings.database_url):
        if not await demo.is_empty():
            print(
                "error: the database already holds data; the demo fills only an empty one "
                "(point FUNNELBOX_DATABASE_URL at a new database)",
                file=sys.stderr,
            )
            return 1
        owner = await demo.fill(vault, customers=args.customers)
    print(
        f"demo workspace ready: {args.customers} dialogs\n"
        f"  login:    {owner.email}\n  password: {demo.DEMO_PASSWORD}"
    )
    return 0


async def _telegram(args: argparse.Namespace, settings: "Settings") -> int:
    """``telegram set-webhook`` and ``telegram poll`` for one channel."""
    from bot import channels, telegram
    from core.crypto import Vault
    from core.db import database
    from inbox.models import ChannelKind

    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    vault = Vault(secret)
    async with database(settings.database_url):
        channel = await channels.get_channel(channel_id=args.channel)
        if channel.kind != ChannelKind.TELEGRAM:
            print(f"error: channel {channel.id} is a {channel.kind.value} channel", file=sys.stderr)
            return 1
        credentials = vault.open(channel.credentials)
        bot = telegram.make_bot(channel, credentials["token"])
        try:
            if args.action == "set-webhook":
                url = args.url.rstrip("/") + f"/webhooks/telegram/{channel.id}"
                await telegram.set_webhook(bot, url=url, secret=credentials["webhook_secret"])
                print(f"Telegram now delivers channel {channel.id} updates to {url}")
            else:
                print(f"polling channel {channel.id} ({channel.name}); Ctrl+C stops")
                await telegram.poll(telegram.build_dispatcher(vault=vault), bot, channel)
        finally:
            await bot.session.close()
    return 0


async def _parked(args: argparse.Namespace, settings: "Settings") -> int:
    """``parked list``, ``parked retry ID...`` and ``parked retry --all``."""
    from bot import parked
    from core.db import database

    async with database(settings.database_url):
        if args.action == "list":
            items = await parked.list_parked(kind=args.kind, limit=args.limit)
            for item in items:
                when = item.parked_at.isoformat(timespec="seconds") if item.parked_at else "-"
                print(f"{item.ref}\t{when}\t{item.attempts} attempts\t{item.error or ''}")
            print(f"{len(items)} parked")
            return 0
        if not args.all and not args.ids:
            print("error: name the items to retry (e.g. delivery:12), or --all", file=sys.stderr)
            return 1
        retried = await parked.retry_parked(actor=None, refs=None if args.all else args.ids)
    print(f"retried {len(retried)}: {' '.join(retried)}" if retried else "nothing parked")
    return 0


async def _altegio(args: argparse.Namespace, settings: "Settings") -> int:
    """``altegio sync [--full]``: one pull of every enabled connection (or one), with a
    progress bar and a summary; exit 1 when a pull failed."""
    from aiohttp import ClientSession
    from rich.console import Console
    from rich.progress import Progress

    from altegio_sync.client import Limiter
    from altegio_sync.connections import get_connection, list_connections
    from altegio_sync.pull import api_for, pull
    from core.crypto import Vault
    from core.db import database

    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    vault, console, failed = Vault(secret), Console(), False
    async with database(settings.database_url), ClientSession() as session:
        if args.connection is not None:
            chosen = [await get_connection(connection_id=args.connection)]
        else:
            chosen = await list_connections(enabled=True)
        if not chosen:
            console.print("no enabled Altegio connection")
        limiter = Limiter()
        for connection in chosen:
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task(f"company {connection.company_id}", total=None)
                summary = await pull(
                    connection,
                    api_for(connection, vault, session, limiter=limiter),
                    full=args.full,
                    progress=_advance(bar, task),
                )
            report = summary.report()
            counts = ", ".join(f"{report[k]} {k}" for k in ("created", "moved", "updated",
                                                             "unchanged", "errors"))  # fmt: skip
            console.print(f"{connection.name} (company {connection.company_id}): {counts}")
            for problem in report["problems"]:
                console.print(f"  {problem}", markup=False)
            if summary.error:
                failed = True
                console.print(f"  failed: {summary.error}", markup=False)
    return 1 if failed else 0


def _advance(bar: "Progress", task: "TaskID") -> Callable[[int, int], None]:
    """The pull's progress callback for one bar: records seen of the total."""
    return lambda seen, total: bar.update(task, completed=seen, total=total)


async def _worker(args: argparse.Namespace, settings: "Settings") -> int:
    """The intake, outbox and event workers without the web server, for split deployments.

    It is the application's lifecycle (cleanup_ctx) without a listening socket, the live
    bus included: with Redis configured, what it commits reaches the web servers' sockets.
    """
    import signal

    from aiohttp import web

    from core import heap
    from web.app import create_app

    workers = {"intake_worker": True, "outbox_worker": True, "event_worker": True}
    settings = settings.model_copy(update=workers)
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    heap.settle()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # announced only once a signal stops it cleanly (a supervisor may stop it at once)
    print("intake, outbox and event workers running; Ctrl+C stops")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


async def _openapi(args: argparse.Namespace, settings: "Settings") -> int:
    import json

    import web.app  # noqa: F401  (importing the app registers every route)
    from web.routes.system import document

    print(json.dumps(document(), indent=2, sort_keys=True))
    return 0


def _serve(args: argparse.Namespace, settings: "Settings") -> int:
    """Serve in one process, or in several sharing the port (PostgreSQL only)."""
    import multiprocessing

    host, port = args.host or settings.host, args.port or settings.port
    workers = args.workers or settings.workers
    if workers > 1 and settings.database_url.startswith("sqlite"):
        print("error: several workers need PostgreSQL (SQLite has one writer)", file=sys.stderr)
        return 1
    print(f"serving on http://{host}:{port} with {workers} worker(s)")
    if workers == 1:
        _serve_one(settings, host, port, reuse_port=False)
        return 0
    processes = [
        multiprocessing.Process(target=_serve_one, args=(settings, host, port, True))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    finally:
        for process in processes:
            process.terminate()
    return 0


def _serve_one(settings: "Settings", host: str, port: int, reuse_port: bool) -> None:
    from aiohttp import web

    from core import heap
    from core.logs import AccessLogger, configure
    from web.app import create_app

    configure(settings.log_level)
    app = create_app(settings)
    heap.settle()
    web.run_app(
        app, host=host, port=port, reuse_port=reuse_port, print=None,
        access_log_class=AccessLogger,
    )  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="funnelbox", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--version", action="version", version=f"funnelbox {version('funnelbox')}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the web server (and, unless switched off, workers)")
    serve.add_argument("--host", help="address to bind (default FUNNELBOX_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default FUNNELBOX_PORT, 8080)")
    serve.add_argument("--workers", type=int, help="processes sharing the port (PostgreSQL)")
    sub.add_parser("migrate", help="apply the committed database migrations")
    create = sub.add_parser("createuser", help="add a user")
    create.add_argument("email", help="the user's e-mail, their login")
    create.add_argument("--role", choices=ROLES, required=True, help="what the user may do")
    create.add_argument("--password", help="generated and printed when omitted")
    create.add_argument("--name", default="", help="display name, e.g. 'Ann Lee'")
    setpw = sub.add_parser("setpassword", help="set a user's password, ending their sessions")
    setpw.add_argument("email", help="the user's e-mail")
    setpw.add_argument("--password", help="generated and printed when omitted")
    setpw.add_argument("--revoke-tokens", action="store_true", help="revoke their API tokens too")
    token = sub.add_parser("token", help="print a new API token for a user, or revoke one")
    token.add_argument("target", metavar="EMAIL|revoke", help="the user's e-mail, or 'revoke'")
    token.add_argument("id", nargs="?", metavar="ID", help="with revoke: the token's id")
    token.add_argument("--name", help="what the new token is for (required for a new one)")
    token.add_argument("--expires-days", type=int, help="the new token stops after D days")
    stop = sub.add_parser("deactivate", help="stop a user, revoking every session and token")
    stop.add_argument("email", help="the user's e-mail")
    resume = sub.add_parser("reactivate", help="let a deactivated user sign in again")
    resume.add_argument("email", help="the user's e-mail")
    boot = sub.add_parser("bootstrap", help="create the first owner if there is none")
    boot.add_argument("--email", default="owner@example.com", help="the owner's login")
    boot.add_argument("--name", default="", help="the owner's display name")
    sub.add_parser("openapi", help="print the OpenAPI document")
    demo = sub.add_parser("demo", help="fill an empty database with a demo workspace")
    demo.add_argument("--customers", type=int, default=300, help="how many dialogs (300)")
    sub.add_parser("worker", help="run the intake, outbox and event workers without the web server")
    tg = sub.add_parser("telegram", help="Telegram channel tools: set-webhook, poll")
    tg_sub = tg.add_subparsers(dest="action", required=True, metavar="ACTION")
    hook = tg_sub.add_parser("set-webhook", help="register our webhook with Telegram")
    hook.add_argument("channel", type=int, help="the channel's id")
    hook.add_argument("--url", required=True, help="public base URL, e.g. https://crm.example.com")
    polling = tg_sub.add_parser("poll", help="long polling, for development")
    polling.add_argument("channel", type=int, help="the channel's id")
    park = sub.add_parser("parked", help="list parked items, or put them back in their queues")
    park_sub = park.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = park_sub.add_parser("list", help="parked items with their errors, oldest first")
    listing.add_argument("--kind", choices=("delivery", "event", "send", "conversion"))
    listing.add_argument("--limit", type=int, default=100, help="per kind (100)")
    again = park_sub.add_parser("retry", help="retry parked items, due at once")
    again.add_argument("ids", nargs="*", metavar="ID", help="items as listed, e.g. delivery:12")
    again.add_argument("--all", action="store_true", help="every parked item")
    altegio = sub.add_parser("altegio", help="Altegio sync tools: sync")
    altegio_sub = altegio.add_subparsers(dest="action", required=True, metavar="ACTION")
    once = altegio_sub.add_parser("sync", help="pull changed records now, with a progress bar")
    once.add_argument("--full", action="store_true", help="every record, not only changed ones")
    once.add_argument("--connection", type=int, help="only this connection (default: all)")
    return parser


COMMANDS: dict[str, Command] = {
    "migrate": _migrate,
    "createuser": _createuser,
    "setpassword": _setpassword,
    "token": _token,
    "deactivate": _activation,
    "reactivate": _activation,
    "bootstrap": _bootstrap,
    "openapi": _openapi,
    "demo": _demo,
    "worker": _worker,
    "telegram": _telegram,
    "parked": _parked,
    "altegio": _altegio,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    from core import auth
    from core.errors import DomainError
    from core.logs import configure
    from core.settings import get_settings

    settings = get_settings()
    auth.use_password_profile(settings.password_profile)
    if args.command == "worker":  # serve configures each of its processes; one-shot
        configure(settings.log_level)  # commands print their answer, and only warnings log
    if args.command == "serve":
        return _serve(args, settings)
    try:
        return asyncio.run(COMMANDS[args.command](args, settings))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
