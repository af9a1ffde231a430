"""Signing in and out through the login page, in a real browser."""

import asyncio
import re

from playwright.async_api import Page, expect

from core.auth import set_password
from core.models import User
from tests.web.pages.conftest import Troubles, sign_in


async def test_anonymous_visitor_is_sent_to_login_and_back(page: Page, operator: User) -> None:
    await page.goto("/inbox")
    assert page.url.endswith("/login?next=/inbox")
    await sign_in(page, operator)
    # the form carried the page the visitor asked for
    await page.goto("/login?next=/inbox")
    await expect(page).to_have_url(re.compile(r"/inbox$"))


async def test_root_sends_each_visitor_where_they_belong(page: Page, operator: User) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await sign_in(page, operator)
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/inbox$"))


async def test_log_in_and_out(page: Page, admin: User) -> None:
    await page.goto("/deals")
    await sign_in(page, admin)
    await expect(page).to_have_url(re.compile(r"/deals$"))
    await expect(page.get_by_role("heading", name="Deals", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    # the session is gone: the inbox asks for a login again
    await page.goto("/inbox")
    await expect(page).to_have_url(re.compile(r"/login\?next="))


async def test_wrong_password_shows_an_error(page: Page, admin: User, troubles: Troubles) -> None:
    troubles.allow_status(401)
    await sign_in(page, admin, password="not the password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    await expect(page.get_by_label("E-mail")).to_have_value(admin.email)
    await page.goto("/inbox")
    assert "/login" in page.url


async def test_login_only_returns_to_this_site(page: Page, admin: User) -> None:
    await page.goto("/login?next=//evil.example/x")
    await page.get_by_label("E-mail").fill(admin.email)
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/inbox$"))


async def test_a_page_whose_session_ends_elsewhere_goes_to_the_login(
    page: Page, operator: User
) -> None:
    """A new password set on the command line ends the session: the open inbox's live
    socket is closed as signed out, and the page reloads to the login."""
    hello = asyncio.Event()  # the socket is open once the server's hello arrived
    page.on("websocket", lambda ws: ws.on("framereceived", lambda _: hello.set()))
    await sign_in(page, operator)
    await expect(page).to_have_url(re.compile(r"/inbox$"))
    await asyncio.wait_for(hello.wait(), 10)
    await set_password(actor=None, user=operator, password="a brand new password")
    await expect(page).to_have_url(re.compile(r"/login\?next=/inbox$"), timeout=10_000)
