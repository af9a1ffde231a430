"""Page tests in real headless Chromium against the app on 127.0.0.1.

One browser for the whole session, a fresh context (cookies, storage) and page per test.
Any console error, uncaught exception or JS dialog (an ``alert`` an injection managed to
run) fails the test that caused it.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, async_playwright

from bot import channels
from bot.inbound import receive
from core.crypto import Vault
from core.models import User
from funnels import pipelines
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, ChannelKind
from tests.conftest import PASSWORD, SECRET_KEY, Backend
from tests.fakes.telegram import DEFAULT_TOKEN
from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def server(db: Backend) -> AsyncIterator[str]:
    """The base URL of a real server on loopback."""
    app = create_app(db.settings(), own_database=False)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield str(test_server.make_url("")).rstrip("/")


@dataclass
class Troubles:
    """What went wrong in the page, outside the test's own assertions."""

    errors: list[str] = field(default_factory=list)
    allowed: set[int] = field(default_factory=set)

    def allow_status(self, status: int) -> None:
        """A test that asks for an error page expects Chromium to log its status."""
        self.allowed.add(status)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(f"status of {s} " in e for s in self.allowed)]

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def exception(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")

    async def dialog(self, dialog: Dialog) -> None:
        self.errors.append(f"JS {dialog.type}: {dialog.message}")
        await dialog.dismiss()


@pytest.fixture
def troubles() -> Troubles:
    return Troubles()


async def open_page(
    browser: Browser, server: str, troubles: Troubles, viewport: dict
) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=server, viewport=viewport)
    context.set_default_timeout(5000)
    page = await context.new_page()
    page.on("console", troubles.console)
    page.on("pageerror", troubles.exception)
    page.on("dialog", troubles.dialog)
    yield page
    # htmx settles 20 ms after a swap: let the last one finish so its errors count too, and
    # the page's last requests end before the browser drops them
    await page.evaluate("new Promise(done => setTimeout(done, 60))")
    await page.wait_for_load_state("networkidle")
    await context.close()
    assert troubles.unexpected() == []


@pytest.fixture
async def page(browser: Browser, server: str, troubles: Troubles) -> AsyncIterator[Page]:
    """A desktop-width page; the test fails on any console error or JS dialog."""
    async for found in open_page(browser, server, troubles, DESKTOP):
        yield found


@pytest.fixture
async def phone(browser: Browser, server: str, troubles: Troubles) -> AsyncIterator[Page]:
    """The same at phone width (390 px)."""
    async for found in open_page(browser, server, troubles, PHONE):
        yield found


async def sign_in(page: Page, user: User, password: str = PASSWORD) -> None:
    """Log in through the form like a person would (the one on screen, if it is shown)."""
    if "/login" not in page.url:
        await page.goto("/login")
    await page.get_by_label("E-mail").fill(user.email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def customer_writes(channel: Channel, name: str, texts: list[str], *, user_id: str) -> None:
    """Customer messages taken in the way the Telegram intake takes them."""
    for number, text in enumerate(texts, start=1):
        sender = Sender(external_id=user_id, name=name)
        external_id = f"{user_id}:{number}"
        message = Inbound(sender=sender, chat_id=user_id, external_id=external_id, text=text)
        await receive(channel=channel, message=message)


@pytest.fixture
async def channel(admin: User) -> Channel:
    """A Telegram channel whose dialogs land in a fresh pipeline."""
    pipeline = await pipelines.create_pipeline(actor=admin, name="Messenger", initial_stage="New")
    stage = (await pipelines.list_stages(pipeline_id=pipeline.id))[0]
    return await channels.create_channel(
        actor=admin,
        vault=Vault(SECRET_KEY.get_secret_value()),
        kind=ChannelKind.TELEGRAM,
        name="Salon bot",
        credentials={"token": DEFAULT_TOKEN},
        pipeline_id=pipeline.id,
        stage_id=stage.id,
    )
