"""CSRF, security headers, no inline script, and customer text that stays text."""

import re

import aiohttp
from playwright.async_api import Page, expect

from core import tokens
from core.models import User
from inbox.models import Channel, Dialog
from tests.web.pages.conftest import Troubles, customer_writes, sign_in
from web.middleware import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE

INJECTION = "<img src=x onerror=alert(1)>"
PAGES = ["/login", "/inbox", "/inbox/{dialog}", "/deals", "/settings", "/no-such-page"]


async def session_of(page: Page) -> str:
    cookies = await page.context.cookies()
    return next(c["value"] for c in cookies if c["name"] == SESSION_COOKIE)


async def test_a_form_without_the_csrf_token_is_refused(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(403)
    await page.goto("/deals")
    await sign_in(page, admin)
    # the same form, its token taken out: the server refuses it and creates nothing
    await page.locator(f"form.pipeline-form input[name={CSRF_FIELD}]").evaluate("e => e.remove()")
    await page.get_by_label("Pipeline name").fill("Forged")
    await page.get_by_role("button", name="Create pipeline").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "You do not have access to this page"
    )
    await page.goto("/deals")
    await expect(page.get_by_role("heading", name="Create your first pipeline")).to_be_visible()


async def test_the_login_form_needs_its_token_too(server: str, admin: User) -> None:
    async with aiohttp.ClientSession() as http:
        form = {"email": admin.email, "password": "correct horse battery"}
        async with http.post(f"{server}/login", data=form, allow_redirects=False) as response:
            assert response.status == 403
            assert SESSION_COOKIE not in response.cookies


async def test_api_writes_with_the_cookie_need_the_header(page: Page, admin: User) -> None:
    await sign_in(page, admin)
    await expect(page).to_have_url(re.compile(r"/inbox$"))
    body = {"name": "Via cookie"}
    refused = await page.request.post("/api/v1/pipelines", data=body)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "csrf_failed"
    wrong = await page.request.post("/api/v1/pipelines", data=body, headers={CSRF_HEADER: "0" * 64})
    assert wrong.status == 403
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    accepted = await page.request.post("/api/v1/pipelines", data=body, headers={CSRF_HEADER: token})
    assert accepted.status == 201, await accepted.text()
    # reads need no token
    assert (await page.request.get("/api/v1/pipelines")).status == 200


async def test_bearer_requests_need_no_csrf_token(server: str, admin: User) -> None:
    token = await tokens.issue_token(user=admin)
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.post(f"{server}/api/v1/pipelines", json={"name": "Via bearer"}) as response,
    ):
        assert response.status == 201


async def test_every_page_has_security_headers_and_no_inline_script(
    page: Page, admin: User, channel: Channel, troubles: Troubles
) -> None:
    troubles.allow_status(404)
    await customer_writes(channel, "Ann", ["Hello"], user_id="501")
    dialog = await Dialog.get(contact__name="Ann")
    await sign_in(page, admin)
    for path in PAGES:
        response = await page.goto(path.format(dialog=dialog.id))
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        html = await response.text()
        for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
            assert script.strip() == "", (path, script)
        assert not re.search(r"\son\w+=", html), path
        assert not re.search(r"\sstyle=", html), path
    api = await page.request.get("/api/v1/me")
    assert api.headers["x-frame-options"] == "DENY"


async def test_a_customer_message_with_markup_shows_as_text(
    page: Page, admin: User, channel: Channel
) -> None:
    await customer_writes(channel, INJECTION, [INJECTION], user_id="502")
    dialog = await Dialog.get(contact__name=INJECTION)
    await sign_in(page, admin)
    await page.goto(f"/inbox/{dialog.id}")
    await expect(page.locator(".bubble-text")).to_have_text(INJECTION)
    await expect(page.locator(".dialog-preview")).to_have_text(INJECTION)
    assert await page.locator("main img[src=x]").count() == 0
    # the page fixture fails the test if alert(1) ran (a JS dialog) or the CSP fired
