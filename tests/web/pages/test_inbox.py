"""The inbox's read side: dialog list, conversation, side panel, phone width."""

import re

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bot import channels
from bot.inbound import receive
from core.crypto import Vault
from core.models import User
from funnels import pipelines
from inbox import outgoing
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, ChannelKind, Dialog, Message
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, TelegramUser
from tests.processes import free_port
from tests.web.pages.conftest import DESKTOP, Troubles, customer_writes, open_page, sign_in
from web.app import create_app


async def test_empty_inbox_says_how_to_start(page: Page, operator: User) -> None:
    await sign_in(page, operator)
    await expect(page.get_by_text("No dialogs yet: connect a channel")).to_be_visible()


async def test_inbox_lists_dialogs_and_opens_one_without_reload(
    page: Page, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Mila Kowalski", ["Is there a slot tomorrow?"], user_id="601")
    await customer_writes(channel, "Ravi Shah", ["Hi", "Thanks!"], user_id="602")
    mila = await Dialog.get(contact__name="Mila Kowalski")
    ravi = await Dialog.get(contact__name="Ravi Shah")
    await outgoing.send_text(actor=operator, dialog_id=mila.id, text="Yes, 10:00 works")

    await sign_in(page, operator)
    items = page.locator(".dialog-item")
    # newest activity first: our reply to Mila came after Ravi's messages
    await expect(items).to_have_count(2)
    await expect(items.nth(0)).to_contain_text("Mila Kowalski")
    await expect(items.nth(0)).to_contain_text("You: Yes, 10:00 works")
    await expect(items.nth(1)).to_contain_text("Ravi Shah")
    await expect(items.nth(1)).to_contain_text("Thanks!")
    await expect(items.nth(0).get_by_role("img", name="Telegram")).to_be_visible()

    await page.evaluate("window.marker = 'still the same page'")
    await items.nth(0).click()
    await expect(page).to_have_url(re.compile(rf"/inbox/{mila.id}$"))
    conversation = page.get_by_role("region", name="Mila Kowalski")
    bubbles = conversation.locator(".bubble")
    await expect(bubbles).to_have_count(2)
    await expect(bubbles.nth(0)).to_contain_text("Is there a slot tomorrow?")
    await expect(bubbles.nth(0)).to_have_class(re.compile("bubble-in"))
    await expect(bubbles.nth(1)).to_contain_text("Yes, 10:00 works")
    await expect(bubbles.nth(1)).to_have_class(re.compile("bubble-out"))
    await expect(bubbles.nth(1)).to_contain_text(operator.email)  # the author
    await expect(bubbles.nth(1).locator(".delivery")).to_have_attribute("title", "Queued")
    await expect(conversation.locator(".day-separator")).to_have_text(["Today"])
    await expect(page.get_by_role("complementary")).to_contain_text("Mila Kowalski")
    assert await page.evaluate("window.marker") == "still the same page"
    await expect(items.nth(0)).to_have_attribute("aria-current", "true")

    # the keyboard works too: arrows move along the list, Enter opens. Opening Mila's
    # dialog marked it read, which fetches the list again: a link swapped in moments ago
    # is not yet htmx's (Enter would load the page), so let that fetch land first
    await page.wait_for_load_state("networkidle")
    await items.nth(0).focus()
    await page.keyboard.press("ArrowDown")
    await expect(items.nth(1)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(rf"/inbox/{ravi.id}$"))
    await expect(page.get_by_role("region", name="Ravi Shah").locator(".bubble")).to_have_count(2)
    assert await page.evaluate("window.marker") == "still the same page"


async def test_a_dialog_url_opens_directly(page: Page, operator: User, channel: Channel) -> None:
    await customer_writes(channel, "Ann", ["Hello"], user_id="603")
    dialog = await Dialog.get(contact__name="Ann")
    await page.goto(f"/inbox/{dialog.id}")
    await sign_in(page, operator)
    await expect(page).to_have_url(re.compile(rf"/inbox/{dialog.id}$"))
    await expect(page.locator(".bubble-text")).to_have_text("Hello")


async def test_phone_width_shows_one_column_with_a_back_arrow(
    phone: Page, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Mila Kowalski", ["Hello"], user_id="604")
    await sign_in(phone, operator)
    dialogs = phone.get_by_role("region", name="Inbox")
    await expect(dialogs).to_be_visible()
    await expect(phone.get_by_text("Pick a dialog")).to_be_hidden()

    await phone.locator(".dialog-item").first.click()
    conversation = phone.get_by_role("region", name="Mila Kowalski")
    await expect(conversation).to_be_visible()
    await expect(dialogs).to_be_hidden()
    box = await conversation.bounding_box()
    assert box is not None and box["x"] == 0 and box["width"] == 390
    await expect(phone.get_by_role("complementary")).to_be_hidden()

    await phone.get_by_role("link", name="Back to dialogs").click()
    await expect(phone).to_have_url(re.compile(r"/inbox$"))
    await expect(dialogs).to_be_visible()
    await expect(conversation).to_be_hidden()


async def test_the_reply_box_sends_through_the_api_and_shows_the_reply(
    page: Page, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Ann", ["Can I book for Friday?"], user_id="605")
    dialog = await Dialog.get(contact__name="Ann")
    await sign_in(page, operator)
    await page.locator(".dialog-item").click()  # swapped in by htmx, then swapped again
    box = page.get_by_label("Reply to Ann")
    await box.fill("Friday 10:00 is free")
    await box.press("Enter")
    bubbles = page.locator(".bubble")
    await expect(bubbles).to_have_count(2)
    await expect(bubbles.nth(1)).to_contain_text("Friday 10:00 is free")
    await expect(page.get_by_label("Reply to Ann")).to_have_value("")
    [_, reply] = await Message.filter(dialog_id=dialog.id).order_by("id")
    assert (reply.text, reply.author_user_id) == ("Friday 10:00 is free", operator.id)


async def test_a_telegram_update_appears_in_the_open_inbox_without_reload(
    browser: Browser, db: Backend, troubles: Troubles, operator: User, channel: Channel
) -> None:
    """Posted to the webhook, taken in by the intake worker, announced on the live socket:
    the open list and conversation show it, and the typed draft survives."""
    app = create_app(db.settings(intake_worker=True), own_database=False)
    secret = Vault(SECRET_KEY.get_secret_value()).open(channel.credentials)["webhook_secret"]
    mila, ravi = TelegramUser(id=701, first_name="Mila"), TelegramUser(id=702, first_name="Ravi")
    async with (
        TestServer(app, host="127.0.0.1") as server,
        FakeTelegram() as fake,
        ClientSession() as http,
    ):
        base = str(server.make_url("")).rstrip("/")

        async def deliver(update: dict) -> None:
            async with http.post(
                f"{base}/webhooks/telegram/{channel.id}", json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            ) as answer:  # fmt: skip
                assert answer.status == 200

        await deliver(fake.text_update(mila, "Hello"))
        async for page in open_page(browser, base, troubles, DESKTOP):
            await sign_in(page, operator)
            await page.locator(".dialog-item").first.click()
            await expect(page.locator(".bubble")).to_have_count(1)
            await page.get_by_label("Reply to Mila").fill("draft in progress")
            await page.evaluate("window.marker = 'no reload'")
            await deliver(fake.text_update(mila, "Is there a slot tomorrow?"))
            await deliver(fake.text_update(ravi, "Hi"))
            await expect(page.locator(".bubble")).to_have_count(2)
            await expect(page.locator(".bubble").last).to_contain_text("Is there a slot tomorrow?")
            await expect(page.locator(".dialog-item")).to_have_count(2)
            assert await page.evaluate("window.marker") == "no reload"
            assert await page.get_by_label("Reply to Mila").input_value() == "draft in progress"


async def test_a_photo_telegram_cannot_serve_shows_as_a_placeholder(
    page: Page, troubles: Troubles, operator: User, admin: User
) -> None:
    """Telegram down: the media endpoint answers 502 and the bubble says the photo is not
    available, keeping its caption, instead of a broken image."""
    pipeline = await pipelines.create_pipeline(actor=admin, name="Photos", initial_stage="New")
    stage = (await pipelines.list_stages(pipeline_id=pipeline.id))[0]
    down = await channels.create_channel(
        actor=admin, vault=Vault(SECRET_KEY.get_secret_value()), kind=ChannelKind.TELEGRAM,
        name="Down bot", credentials={"token": DEFAULT_TOKEN}, pipeline_id=pipeline.id,
        stage_id=stage.id, api_base_url=f"http://127.0.0.1:{free_port()}",  # nothing listens
    )  # fmt: skip
    photo = Inbound(
        sender=Sender(external_id="801", name="Mila"), chat_id="801", external_id="801:1",
        kind="image", text="my nails", payload={"file_id": "photo-1", "mime_type": "image/jpeg"},
    )  # fmt: skip
    await receive(channel=down, message=photo)
    troubles.allow_status(502)  # Chromium logs the image's failed load
    await sign_in(page, operator)
    await page.locator(".dialog-item").first.click()
    bubble = page.locator(".bubble").first
    missing = bubble.locator(".bubble-photo-missing")
    await expect(missing).to_have_text("Photo (no longer available)")
    await expect(bubble.locator("img")).to_have_count(0)
    await expect(bubble).to_contain_text("my nails")


async def test_a_live_refetch_keeps_the_keyboard_on_the_same_dialog(
    page: Page, operator: User, channel: Channel
) -> None:
    """The list is fetched again when anyone writes: the dialog the operator moved to
    with the arrows keeps the focus, so Enter still opens it."""
    await customer_writes(channel, "Mila Kowalski", ["Hi"], user_id="601")
    await customer_writes(channel, "Ravi Shah", ["Hello"], user_id="602")
    await sign_in(page, operator)
    items = page.locator(".dialog-item")
    await expect(items).to_have_count(2)
    await items.filter(has_text="Mila Kowalski").focus()
    await customer_writes(channel, "Olga Petrenko", ["New here"], user_id="603")
    await expect(items).to_have_count(3)  # the list was fetched again
    await expect(items.filter(has_text="Mila Kowalski")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("region", name="Mila Kowalski").locator(".bubble")).to_have_count(
        1
    )
