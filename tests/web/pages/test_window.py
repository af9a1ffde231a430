"""WhatsApp outside the 24-hour window, in Chromium: the reply box offers the approved
templates with their parameters instead of free text, and a picked one reaches the fake
Graph API as a template message."""

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, Route, expect

from bot import channels
from bot.inbound import receive
from core.crypto import Vault
from core.events import change
from core.models import User
from funnels import pipelines
from funnels.models import Deal
from inbox.dialogs import Inbound, Sender, backdate
from inbox.models import Channel, ChannelKind, DeliveryStatus, Dialog, Message
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.whatsapp import FakeGraph
from tests.web.pages.conftest import DESKTOP, Troubles, open_page, sign_in
from web.app import create_app

WA_ID = "447911123456"
REMINDER = [
    {"type": "HEADER", "format": "TEXT", "text": "Studio Lumen"},
    {
        "type": "BODY",
        "text": "Hello {{1}}, a reminder of your {{2}} appointment. Reply to change it.",
        "example": {"body_text": [["Ann", "Friday 10:00"]]},
    },
]


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        fake.add_template("appointment_reminder", language="en_GB", components=REMINDER)
        fake.add_template("welcome_back", components=[{"type": "BODY", "text": "Welcome back!"}])
        fake.add_template("not_yet_approved", status="PENDING")
        named = [{"type": "BODY", "text": "Hi {{first_name}}"}]
        fake.add_template("named_parameters", components=named)
        yield fake


async def whatsapp(admin: User, graph: FakeGraph) -> Channel:
    pipeline = await pipelines.create_pipeline(actor=admin, name="Messenger", initial_stage="New")
    stage = (await pipelines.list_stages(pipeline_id=pipeline.id))[0]
    return await channels.create_channel(
        actor=admin, vault=Vault(SECRET_KEY.get_secret_value()), kind=ChannelKind.WHATSAPP,
        name="Salon number", pipeline_id=pipeline.id, stage_id=stage.id,
        credentials={
            "access_token": graph.access_token, "app_secret": "whatsapp-app-secret",
            "verify_token": "verify-token", "phone_number_id": graph.phone_number_id,
            "waba_id": graph.waba_id,
        },
        api_base_url=f"{graph.url}/v21.0",
    )  # fmt: skip


async def customer_wrote(channel: Channel, text: str, *, hours_ago: float) -> Dialog:
    """Ann's message, taken in ``hours_ago`` hours ago."""
    sender = Sender(external_id=WA_ID, name="Ann Novak", phone=f"+{WA_ID}")
    key = f"wamid.{text}"
    inbound = Inbound(sender=sender, chat_id=WA_ID, external_id=key, text=text)
    await receive(channel=channel, message=inbound)
    message = await Message.get(channel_id=channel.id, external_id=key)
    async with change(None) as batch:
        await backdate(batch, message=message, at=datetime.now(UTC) - timedelta(hours=hours_ago))
    return await Dialog.get(id=message.dialog_id)  # type: ignore[attr-defined]


async def open_dialog(page: Page, user: User) -> None:
    await sign_in(page, user)
    await page.locator(".dialog-item", has_text="Ann Novak").click()
    await expect(page.get_by_role("region", name="Ann Novak")).to_be_visible()


async def test_a_whatsapp_dialog_outside_the_window_offers_templates(
    browser: Browser, db: Backend, troubles: Troubles, admin: User, operator: User,
    graph: FakeGraph,
) -> None:  # fmt: skip
    """The text box gives way to the approved templates an operator can fill in; the one
    picked, with its parameters typed in, goes out through the outbox to the Graph API."""
    channel = await whatsapp(admin, graph)
    dialog = await customer_wrote(channel, "Is Friday still on?", hours_ago=30)
    app = create_app(db.settings(outbox_worker=True), own_database=False)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url("")).rstrip("/")
        async for page in open_page(browser, base, troubles, DESKTOP):
            await open_dialog(page, operator)
            notice = page.locator(".window-notice")
            await expect(notice).to_contain_text("last wrote more than 24 hours ago")
            box = page.get_by_label("Reply to Ann Novak")
            await expect(box).to_be_disabled()
            await expect(box).to_be_hidden()
            await expect(page.locator("[data-attach]")).to_be_hidden()  # nor may media go

            picker = page.get_by_label("Template")
            # approved and fillable only: not the pending one, not the named parameters
            await expect(picker.locator("option")).to_have_text(
                ["appointment_reminder · en_GB", "welcome_back · en_US"]
            )
            preview = page.locator("[data-template-preview]:visible")
            await expect(preview).to_have_text(
                "Hello {{1}}, a reminder of your {{2}} appointment. Reply to change it."
            )
            first = page.get_by_label("Value for {{1}}")
            await expect(first).to_have_attribute("placeholder", "e.g. Ann")
            await first.fill("Ann")
            await page.get_by_label("Value for {{2}}").fill("Friday 10:00")
            await expect(preview).to_have_text(
                "Hello Ann, a reminder of your Friday 10:00 appointment. Reply to change it."
            )
            await page.get_by_role("button", name="Send template").click()
            bubble = page.locator(".bubble-out")
            await expect(bubble).to_contain_text("appointment_reminder")
            async with asyncio.timeout(15):  # the outbox worker's turn, on a loaded machine
                while not graph.sent:
                    await asyncio.sleep(0.05)
            delivery = bubble.locator(".delivery")
            await expect(delivery).to_have_attribute("title", "Sent", timeout=15_000)
    [request] = graph.sent.values()
    assert (request["type"], request["to"]) == ("template", WA_ID)
    assert request["template"] == {
        "name": "appointment_reminder",
        "language": {"code": "en_GB"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ann"},
                    {"type": "text", "text": "Friday 10:00"},
                ],
            }
        ],
    }
    sent = await Message.get(dialog_id=dialog.id, direction="out")
    assert (sent.kind, sent.author_user_id) == ("template", operator.id)  # type: ignore[attr-defined]


async def test_a_template_shows_sent_when_its_reload_was_rendered_before_the_send(
    browser: Browser, db: Backend, troubles: Troubles, admin: User, operator: User,
    graph: FakeGraph,
) -> None:  # fmt: skip
    """The conversation fetched after a send can be rendered while the message is still
    queued and reach the page after the live status event's own refetch has shown it sent:
    the page fetches the messages once more, so the bubble does not fall back to Queued."""
    channel = await whatsapp(admin, graph)
    dialog = await customer_wrote(channel, "Is Friday still on?", hours_ago=30)
    graph.slow("messages", 1.5)  # Graph has the message; our worker hears so 1.5 s later
    rendered, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        if route.request.headers.get("hx-target") != "conversation-area":
            await route.continue_()
            return
        response = await route.fetch()  # rendered now, the template still queued
        rendered.set()
        await release.wait()
        await route.fulfill(response=response)

    app = create_app(db.settings(outbox_worker=True), own_database=False)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url("")).rstrip("/")
        async for page in open_page(browser, base, troubles, DESKTOP):
            await open_dialog(page, operator)
            await page.evaluate("document.getElementById('conversation-area').dataset.stale = ''")
            await page.route(f"**/inbox/{dialog.id}", hold)
            await page.get_by_label("Template").select_option(label="welcome_back · en_US")
            await page.get_by_role("button", name="Send template").click()
            async with asyncio.timeout(15):
                await rendered.wait()
            delivery = page.locator(".bubble-out .delivery")
            # the live event's refetch shows it sent while the stale reload is held back
            await expect(delivery).to_have_attribute("title", "Sent", timeout=15_000)
            release.set()
            await expect(page.locator("#conversation-area:not([data-stale])")).to_be_attached()
            await expect(delivery).to_have_attribute("title", "Sent")
            await page.unroute(f"**/inbox/{dialog.id}")
    sent = await Message.get(dialog_id=dialog.id, direction="out")
    assert sent.status == DeliveryStatus.SENT


async def test_a_template_sent_from_a_deal_page_keeps_the_deal_page(
    page: Page, admin: User, graph: FakeGraph
) -> None:
    """The deal page holds the same conversation: a template sent there reloads the deal's
    chat, not the inbox's conversation in its place."""
    channel = await whatsapp(admin, graph)
    dialog = await customer_wrote(channel, "Is Friday still on?", hours_ago=30)
    deal = await Deal.get(dialog_id=dialog.id)
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    await page.get_by_label("Template").select_option(label="welcome_back · en_US")
    await page.get_by_role("button", name="Send template").click()
    chat = page.locator("[data-deal-chat]")
    await expect(chat.locator(".bubble-out")).to_contain_text("welcome_back")
    await expect(page.locator("#conversation-area")).to_have_attribute(
        "data-reload", re.compile(rf"^/deals/{deal.id}/chat\?")
    )
    await expect(page.locator("[data-deal-details]")).to_be_visible()


async def test_notes_still_take_text_and_a_template_needs_its_parameters(
    page: Page, admin: User, operator: User, graph: FakeGraph
) -> None:
    channel = await whatsapp(admin, graph)
    await customer_wrote(channel, "Hello", hours_ago=25)
    await open_dialog(page, operator)
    box = page.get_by_label("Reply to Ann Novak")
    await page.get_by_role("radio", name="Note").check()
    await expect(box).to_be_enabled()
    await expect(page.get_by_label("Template")).to_be_hidden()
    await page.get_by_role("radio", name="Reply").check()
    await expect(box).to_be_disabled()

    send = page.get_by_role("button", name="Send template")
    await send.click()  # {{1}} and {{2}} are empty: the browser keeps the form
    await expect(page.get_by_label("Value for {{1}}")).to_have_js_property("validity.valid", False)
    await page.get_by_label("Template").select_option(label="welcome_back · en_US")
    await expect(page.locator("[data-template-preview]:visible")).to_have_text("Welcome back!")
    await expect(page.get_by_label("Value for {{1}}")).to_be_hidden()
    await send.click()
    await expect(page.locator(".bubble-out")).to_contain_text("welcome_back")
    assert not graph.sent  # this server's outbox worker is off: queued only


async def test_inside_the_window_the_box_takes_text_and_closes_on_time(
    phone: Page, admin: User, operator: User, graph: FakeGraph
) -> None:
    """Shortly before the window closes the text box is there; then the page closes it by
    itself, without a reload, and offers the templates."""
    channel = await whatsapp(admin, graph)
    await customer_wrote(channel, "Hello", hours_ago=24 - 10 / 3600)  # ten seconds left
    await open_dialog(phone, operator)
    box = phone.get_by_label("Reply to Ann Novak")
    await expect(box).to_be_enabled()
    await expect(phone.locator(".window-notice")).to_be_hidden()
    await expect(box).to_be_disabled(timeout=20_000)
    await expect(phone.locator(".window-notice")).to_be_visible()
    await expect(phone.get_by_label("Template")).to_be_visible()
    assert not graph.calls_to("messages")


async def test_a_graph_refusal_is_said_in_the_box(
    page: Page, admin: User, operator: User, graph: FakeGraph
) -> None:
    channel = await whatsapp(admin, graph)
    await customer_wrote(channel, "Hello", hours_ago=48)
    graph.fail_next(190, endpoint="templates")
    await open_dialog(page, operator)
    await expect(page.locator(".template-picker [role=alert]")).to_contain_text(
        re.compile(r"The templates could not be loaded: 190: .*access token")
    )
    await page.get_by_role("radio", name="Note").check()
    await page.get_by_label("Reply to Ann Novak").fill("Tried to remind her: WhatsApp refused")
    await page.get_by_label("Reply to Ann Novak").press("Enter")
    await expect(page.locator(".bubble-note")).to_contain_text("WhatsApp refused")


async def test_the_window_opens_again_when_the_customer_writes(
    page: Page, admin: User, operator: User, graph: FakeGraph
) -> None:
    channel = await whatsapp(admin, graph)
    await customer_wrote(channel, "Hello", hours_ago=26)
    await open_dialog(page, operator)
    box = page.get_by_label("Reply to Ann Novak")
    await expect(box).to_be_disabled()
    sender = Sender(external_id=WA_ID, name="Ann Novak", phone=f"+{WA_ID}")
    inbound = Inbound(sender=sender, chat_id=WA_ID, external_id="wamid.again", text="Still there?")
    await receive(channel=channel, message=inbound)  # the live socket tells the page
    await expect(page.locator(".bubble-in").last).to_contain_text("Still there?")
    await expect(box).to_be_enabled()
    await expect(page.locator(".window-notice")).to_be_hidden()
    await box.fill("Yes! Friday is still on.")
    await box.press("Enter")
    await expect(page.locator(".bubble-out")).to_contain_text("Friday is still on")
