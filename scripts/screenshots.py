"""PNGs of every page at 1280 and 390 px, for docs/ and for looking at the UI.

    .venv/bin/python -m scripts.screenshots --database sqlite://screenshots.sqlite3 --out docs

An empty database is migrated and filled with the demo workspace (``funnelbox demo``) first;
a database with users needs ``--email`` and ``--password`` of an account to sign in as.
The app runs in-process on a free port of 127.0.0.1 with its background workers off.
The demo's WhatsApp number has made-up credentials, so Meta would list no templates for
it: the app's template cache is given :data:`TEMPLATES` instead, as Meta would list them.
"""

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser, ViewportSize, async_playwright
from pydantic import SecretStr

from bot.channels import list_channels
from bot.graph import Template
from core.crypto import Vault
from core.db import database, migrate
from core.settings import Settings
from funnels.models import Deal
from funnels.pipelines import list_pipelines
from inbox.dialog_list import list_dialogs
from inbox.dialogs import list_messages
from inbox.models import ChannelKind, Dialog
from web import demo
from web.app import create_app
from web.keys import TEMPLATES as TEMPLATE_CACHE

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
DEMO_SECRET = "screenshots-demo-secret-key"  # noqa: S105 (seals the demo's fake credentials)
#: The dialog past WhatsApp's 24-hour window that the screenshots show.
OUTSIDE_WINDOW = "Grace O'Neill"
TEMPLATES = [
    Template("1", "appointment_reminder", "en_GB", "APPROVED", "UTILITY", [
        {"type": "BODY", "text": "Hello {{1}}, a reminder of your appointment on {{2}}. "
         "Reply here to move it.", "example": {"body_text": [["Grace", "Friday at 10:00"]]}},
    ]),
    Template("2", "autumn_offer", "en_GB", "APPROVED", "MARKETING", [
        {"type": "BODY", "text": "Hi {{1}}! This autumn balayage is 15% off until the end of "
         "October. Write to us to book.", "example": {"body_text": [["Grace"]]}},
    ]),
    Template("3", "we_miss_you", "en_GB", "APPROVED", "MARKETING", [
        {"type": "BODY", "text": "It's been a while! Your next visit comes with a free treatment."},
    ]),
]  # fmt: skip


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite://screenshots.sqlite3")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--email", default=demo.OWNER_EMAIL)
    parser.add_argument("--password", default=demo.DEMO_PASSWORD)
    parser.add_argument("--timezone", default="Europe/London")
    return parser.parse_args()


@dataclass
class Showcase:
    """The demo's records that show the most on their pages."""

    pipeline_id: int | None = None
    #: The longest of the latest conversations.
    dialog_id: int | None = None
    #: The deal of the longest conversation that has an amount, and its customer.
    deal_id: int | None = None
    contact_id: int | None = None
    #: A WhatsApp dialog past the 24-hour window.
    window_dialog_id: int | None = None


async def prepare(url: str) -> dict[str, str]:
    """Migrate, fill an empty database, and name the pages worth a picture (after login)."""
    await migrate(url)
    async with database(url):
        if await demo.is_empty():
            await demo.fill(Vault(DEMO_SECRET))
        return pages_of(await showcase())


async def showcase() -> Showcase:
    dialogs = (await list_dialogs(limit=10)).items
    sizes = {d.id: len(await list_messages(dialog_id=d.id)) for d in dialogs}
    by_size = sorted(sizes, key=sizes.__getitem__, reverse=True)
    found = await Deal.filter(dialog_id__in=by_size, amount__not_isnull=True)
    deal = min(found, key=lambda d: by_size.index(d.dialog_id or 0), default=None)
    pipelines = await list_pipelines()
    window = await Dialog.get_or_none(contact__name=OUTSIDE_WINDOW)
    return Showcase(
        pipeline_id=pipelines[0].id if pipelines else None,
        dialog_id=by_size[0] if by_size else None,
        deal_id=deal.id if deal else None,
        contact_id=next((d.contact_id for d in dialogs if deal and d.id == deal.dialog_id), None),
        window_dialog_id=window.id if window else None,
    )


def pages_of(shown: Showcase) -> dict[str, str]:
    """Every page by its picture's name; those about a record only when the demo has it."""
    pages = {
        "inbox": "/inbox",
        "inbox-mine": "/inbox?filter=mine",
        "deals": "/deals/pipelines",
        "deals-list": "/deals/list?sort=amount&order=desc",
        "settings": "/settings",
        "deals-board": f"/deals/pipelines/{shown.pipeline_id}",
        "dialog": f"/inbox/{shown.dialog_id}",
        "contacts": "/contacts",
        "deal": f"/deals/{shown.deal_id}",
        "contact": f"/contacts/{shown.contact_id}",
        "dialog-window": f"/inbox/{shown.window_dialog_id}",
    }
    return {name: path for name, path in pages.items() if not path.endswith("/None")}


async def give_templates(app: web.Application) -> None:
    """Fill the started app's template cache for the demo's WhatsApp numbers with
    :data:`TEMPLATES` (keyed ``channel id:business account id``, as bot.templates does)."""
    vault = Vault(DEMO_SECRET)

    async def listed() -> list[Template]:
        return TEMPLATES

    for channel in await list_channels():
        if channel.kind == ChannelKind.WHATSAPP:
            waba_id = vault.open(channel.credentials)["waba_id"]
            key = f"{channel.id}:{waba_id}"
            await app[TEMPLATE_CACHE].get(key, listed)


async def serve(settings: Settings) -> tuple[web.AppRunner, str]:
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await give_templates(app)
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def shoot(
    browser: Browser, base: str, args: argparse.Namespace, pages: dict[str, str]
) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        viewport = ViewportSize(width=width, height=height)
        context = await browser.new_context(base_url=base, viewport=viewport)
        page = await context.new_page()
        await page.goto("/login")
        await page.screenshot(path=args.out / f"login-{label}.png")
        await page.get_by_label("E-mail").fill(args.email)
        await page.get_by_label("Password").fill(args.password)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/inbox")
        for name, path in pages.items():
            await page.goto(path)
            await page.wait_for_load_state("networkidle")  # the fragments pages fetch
            target = args.out / f"{name}-{label}.png"
            await page.screenshot(path=target)
            print(f"{target}  {path} at {width} px")
        await context.close()


async def main() -> None:
    args = parse()
    pages = await prepare(args.database)
    settings = Settings(
        database_url=args.database,
        secret_key=SecretStr(DEMO_SECRET),
        timezone=args.timezone,
        intake_worker=False,
        event_worker=False,
        outbox_worker=False,
    )
    runner, base = await serve(settings)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            await shoot(browser, base, args, pages)
            await browser.close()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
