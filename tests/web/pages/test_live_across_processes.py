"""Live across processes, in Chromium: two real ``funnelbox serve`` processes share
PostgreSQL and Redis; a Telegram update posted to server A's webhook (A takes it in) shows
in the inbox of a browser signed in on server B (whose intake is off) without a reload."""

import os

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from core.crypto import Vault
from core.models import User
from inbox.models import Channel
from tests.conftest import IN_CI, SECRET_KEY, Backend
from tests.fakes.telegram import FakeTelegram, TelegramUser
from tests.processes import Server
from tests.web.pages.conftest import DESKTOP, Troubles, open_page, sign_in

#: The page hears of A's message through Redis: allow a loaded machine some time.
LIVE_MS = 15_000


def shared(db: Backend) -> dict[str, str]:
    """Both servers' environment: the test's PostgreSQL and Redis; skip (or, under CI,
    fail) where there are none, since SQLite and the in-memory bus serve one process."""
    if db.name == "postgres" and db.redis_url:
        return {
            **os.environ,
            "FUNNELBOX_DATABASE_URL": db.url,
            "FUNNELBOX_REDIS_URL": db.redis_url,
            "FUNNELBOX_SECRET_KEY": SECRET_KEY.get_secret_value(),
            "FUNNELBOX_OUTBOX_WORKER": "false",
        }
    if IN_CI and db.name == "postgres":
        pytest.fail("under CI=true this runs on PostgreSQL with Redis: FUNNELBOX_TEST_REDIS_URL")
    pytest.skip("needs PostgreSQL and Redis shared by two processes (the PostgreSQL + Redis run)")


async def test_a_message_posted_to_one_server_appears_live_in_a_browser_on_the_other(
    browser: Browser, db: Backend, troubles: Troubles, operator: User, channel: Channel
) -> None:
    env = shared(db)
    secret = Vault(SECRET_KEY.get_secret_value()).open(channel.credentials)["webhook_secret"]
    fake = FakeTelegram()  # builds updates only: nothing here calls the Bot API
    mila = TelegramUser(id=901, first_name="Mila")
    async with (
        Server({**env, "FUNNELBOX_INTAKE_WORKER": "true"}, dispatch=False) as a,
        Server({**env, "FUNNELBOX_INTAKE_WORKER": "false"}, dispatch=False) as b,
        aiohttp.ClientSession() as http,
    ):

        async def post_to_a(text: str) -> None:
            async with http.post(
                f"{a.base}/webhooks/telegram/{channel.id}", json=fake.text_update(mila, text),
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            ) as answer:  # fmt: skip
                assert answer.status == 200, await answer.text()

        async for page in open_page(browser, b.base, troubles, DESKTOP):
            await sign_in(page, operator)
            await expect(page.get_by_text("No dialogs yet: connect a channel")).to_be_visible()
            await page.evaluate("window.marker = 'no reload'")

            await post_to_a("Hello from the other server")
            item = page.locator(".dialog-item", has_text="Mila")
            await expect(item).to_contain_text("Hello from the other server", timeout=LIVE_MS)
            await item.click()
            bubbles = page.get_by_role("region", name="Mila").locator(".bubble")
            await expect(bubbles).to_have_count(1)

            await post_to_a("Is there a slot tomorrow?")
            await expect(bubbles).to_have_count(2, timeout=LIVE_MS)
            await expect(bubbles.last).to_contain_text("Is there a slot tomorrow?")
            assert await page.evaluate("window.marker") == "no reload"
