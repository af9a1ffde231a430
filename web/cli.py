"""The ``funnelbox`` command: serve, migrate, createuser, token, bootstrap, openapi."""

import argparse
import asyncio
import json
import logging
import multiprocessing
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot import channels, telegram
from core import auth
from core.crypto import Vault
from core.db import database, migrate
from core.errors import DomainError
from core.models import Role
from core.settings import Settings, get_settings
from inbox.models import ChannelKind
from web.app import create_app
from web.routes.system import document

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    await migrate(settings.database_url)
    print("database is up to date")
    return 0


async def _createuser(args: argparse.Namespace, settings: Settings) -> int:
    password = args.password or secrets.token_urlsafe(12)
    async with database(settings.database_url):
        user = await auth.create_user(
            actor=None, email=args.email, role=Role(args.role), password=password
        )
    print(f"created {user.role.value} {user.email}")
    if not args.password:
        print(f"password: {password}")
    return 0


async def _setpassword(args: argparse.Namespace, settings: Settings) -> int:
    password = args.password or secrets.token_urlsafe(12)
    async with database(settings.database_url):
        user = await auth.get_user_by_email(email=args.email)
        await auth.set_password(actor=None, user=user, password=password)
    print(f"new password for {user.email}: {password}")
    return 0


async def _token(args: argparse.Namespace, settings: Settings) -> int:
    async with database(settings.database_url):
        user = await auth.get_user_by_email(email=args.email)
        print(await auth.issue_token(user=user))
    return 0


async def _bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    """Create the first owner when the database has no users (used by ``make run``)."""
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
            actor=None, email=args.email, role=Role.OWNER, password=password
        )
    print(f"created owner account\n  login:    {owner.email}\n  password: {password}")
    return 0


async def _telegram(args: argparse.Namespace, settings: Settings) -> int:
    """``telegram set-webhook`` and ``telegram poll`` for one channel."""
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


async def _worker(args: argparse.Namespace, settings: Settings) -> int:
    """The intake, outbox and event workers without the web server, for split deployments.

    It is the application's lifecycle (cleanup_ctx) without a listening socket.
    """
    workers = {"intake_worker": True, "outbox_worker": True, "event_worker": True}
    settings = settings.model_copy(update=workers)
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
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


async def _openapi(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(document(), indent=2, sort_keys=True))
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve in one process, or in several sharing the port (PostgreSQL only)."""
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


def _serve_one(settings: Settings, host: str, port: int, reuse_port: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web.run_app(create_app(settings), host=host, port=port, reuse_port=reuse_port, print=None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="funnelbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="processes sharing the port (PostgreSQL)")
    sub.add_parser("migrate", help="apply database migrations")
    create = sub.add_parser("createuser", help="add a user")
    create.add_argument("email")
    create.add_argument("--role", choices=[r.value for r in Role], required=True)
    create.add_argument("--password", help="generated and printed when omitted")
    setpw = sub.add_parser("setpassword", help="set a user's password, ending their sessions")
    setpw.add_argument("email")
    setpw.add_argument("--password", help="generated and printed when omitted")
    token = sub.add_parser("token", help="print a new API token for a user")
    token.add_argument("email")
    boot = sub.add_parser("bootstrap", help="create the first owner if there is none")
    boot.add_argument("--email", default="owner@example.com")
    sub.add_parser("openapi", help="print the OpenAPI document")
    sub.add_parser("worker", help="run the intake, outbox and event workers without the web server")
    tg = sub.add_parser("telegram", help="Telegram channel tools")
    tg_sub = tg.add_subparsers(dest="action", required=True)
    hook = tg_sub.add_parser("set-webhook", help="register our webhook with Telegram")
    hook.add_argument("channel", type=int)
    hook.add_argument("--url", required=True, help="public base URL, e.g. https://crm.example.com")
    polling = tg_sub.add_parser("poll", help="long polling, for development")
    polling.add_argument("channel", type=int)
    return parser


COMMANDS: dict[str, Command] = {
    "migrate": _migrate,
    "createuser": _createuser,
    "setpassword": _setpassword,
    "token": _token,
    "bootstrap": _bootstrap,
    "openapi": _openapi,
    "worker": _worker,
    "telegram": _telegram,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    settings = get_settings()
    if args.command == "serve":
        return _serve(args, settings)
    try:
        return asyncio.run(COMMANDS[args.command](args, settings))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
