"""The inbox's tools in Chromium: private notes, canned replies by "/", the side panel's
contact editing and tasks, and the settings section that keeps the canned replies."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bot import channels
from core.crypto import Vault
from core.models import User
from funnels import pipelines
from funnels.models import Deal
from inbox.models import Channel, ChannelKind, Contact, Dialog, Message, Outbox
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.web.pages.conftest import DESKTOP, Troubles, customer_writes, open_page, sign_in
from triggers import canned, tasks
from triggers.models import Task
from web.app import create_app


async def open_dialog(page: Page, user: User, name: str) -> None:
    await sign_in(page, user)
    await page.locator(".dialog-item", has_text=name).click()
    await expect(page.get_by_role("region", name=name)).to_be_visible()


async def test_a_note_looks_different_and_never_reaches_telegram(
    browser: Browser, db: Backend, troubles: Troubles, admin: User, operator: User
) -> None:
    """With the outbox worker running against a fake Bot API, the note stays home and the
    reply written after it is the only thing Telegram hears."""
    pipeline = await pipelines.create_pipeline(actor=admin, name="Messenger", initial_stage="New")
    stage = (await pipelines.list_stages(pipeline_id=pipeline.id))[0]
    app = create_app(db.settings(outbox_worker=True), own_database=False)
    async with FakeTelegram() as fake, TestServer(app, host="127.0.0.1") as server:
        channel = await channels.create_channel(
            actor=admin, vault=Vault(SECRET_KEY.get_secret_value()), kind=ChannelKind.TELEGRAM,
            name="Salon bot", credentials={"token": DEFAULT_TOKEN}, pipeline_id=pipeline.id,
            stage_id=stage.id, api_base_url=fake.url,
        )  # fmt: skip
        await customer_writes(channel, "Ann", ["Can I come at 10?"], user_id="801")
        base = str(server.make_url("")).rstrip("/")
        async for page in open_page(browser, base, troubles, DESKTOP):
            await open_dialog(page, operator, "Ann")
            await page.get_by_role("radio", name="Note").check()
            await expect(page.locator("[data-reply-form]")).to_have_class(re.compile("is-note"))
            box = page.get_by_label("Reply to Ann")
            await expect(box).to_have_attribute("placeholder", "Write a note only your team sees…")
            await box.fill("VIP: prefers the morning")
            await box.press("Enter")
            note = page.locator(".bubble-note")
            await expect(note).to_contain_text("VIP: prefers the morning")
            await expect(note).to_contain_text("Only your team sees this")
            await expect(note).to_contain_text(operator.email)
            await expect(note.locator("time")).to_have_count(1)
            assert await note.evaluate(
                "e => getComputedStyle(e).backgroundColor"
            ) != await page.locator(".bubble-in").evaluate(
                "e => getComputedStyle(e).backgroundColor"
            )
            await expect(note.locator(".delivery")).to_have_count(0)

            await page.get_by_role("radio", name="Reply").check()
            await page.get_by_label("Reply to Ann").fill("10:00 is yours")
            await page.get_by_label("Reply to Ann").press("Enter")
            await expect(page.locator(".bubble-out")).to_contain_text("10:00 is yours")
            async with asyncio.timeout(5):
                while not fake.calls_to("sendMessage"):
                    await asyncio.sleep(0.05)
        assert [c.params["text"] for c in fake.calls_to("sendMessage")] == ["10:00 is yours"]
    dialog = await Dialog.get(contact__name="Ann")
    stored = await Message.get(dialog_id=dialog.id, direction="note")
    assert (stored.text, stored.author_user_id) == ("VIP: prefers the morning", operator.id)  # type: ignore[attr-defined]
    assert not await Outbox.filter(message_id=stored.id).exists()


async def test_a_canned_reply_picked_with_slash_is_filled_in_and_sent(
    page: Page, admin: User, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Mila Kowalski", ["When are you open?"], user_id="802")
    await canned.create_reply(
        actor=admin, shortcut="hours", title="Opening hours",
        text="Hello {{ contact.name }}, we are open 9-19.",
    )  # fmt: skip
    await canned.create_reply(actor=admin, shortcut="bye", title="Goodbye", text="Bye!")
    await open_dialog(page, operator, "Mila Kowalski")
    box = page.get_by_label("Reply to Mila Kowalski")
    popup = page.get_by_role("listbox", name="Canned replies")

    await box.press("/")
    await expect(popup.get_by_role("option")).to_have_count(2)
    await box.press("Escape")
    await expect(popup).to_be_hidden()
    await expect(box).to_have_value("/")

    await box.press("h")  # "/h": only the hours reply (by shortcut) is left
    await expect(popup.get_by_role("option")).to_have_count(1)
    await box.press("Backspace")
    await expect(popup.get_by_role("option")).to_have_count(2)
    await box.press("ArrowDown")  # bye, hours: by shortcut
    await expect(popup.get_by_role("option", name="/hours Opening hours")).to_have_attribute(
        "aria-selected", "true"
    )
    await box.press("Enter")  # picks; does not send
    await expect(box).to_have_value("Hello Mila Kowalski, we are open 9-19.")
    await expect(popup).to_be_hidden()
    assert await Message.filter(direction="out").count() == 0

    await box.press("End")
    await box.type(" See you!")
    await box.press("Enter")
    await expect(page.locator(".bubble-out")).to_contain_text(
        "Hello Mila Kowalski, we are open 9-19. See you!"
    )
    sent = await Message.get(direction="out")
    assert sent.text == "Hello Mila Kowalski, we are open 9-19. See you!"


async def test_the_contact_is_edited_in_the_side_panel(
    page: Page, troubles: Troubles, operator: User, channel: Channel
) -> None:
    troubles.allow_status(422)  # the refused phone
    await customer_writes(channel, "Ravi", ["Hi"], user_id="803")
    await open_dialog(page, operator, "Ravi")
    panel = page.get_by_role("complementary")
    await expect(panel.get_by_text("Salon bot")).to_be_visible()  # the channel identity
    phone = panel.get_by_label("Phone")
    await phone.fill("12")
    await phone.press("Enter")
    error = panel.locator("[data-field-error=phone]")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("not a")
    await expect(phone).to_have_attribute("aria-invalid", "true")
    assert (await Contact.get(name="Ravi")).phone is None

    await phone.fill("+48 601 234 567")
    await panel.get_by_label("E-mail").click()  # leaving the field saves it
    await expect(panel.get_by_text("Saved")).to_be_visible()
    await expect(error).to_be_hidden()
    await expect(phone).to_have_value("+48601234567")
    await panel.get_by_label("Name").fill("Ravi Shah")
    await panel.get_by_label("Name").press("Enter")
    await expect(panel.get_by_role("heading", name="Ravi Shah")).to_be_visible()
    contact = await Contact.get(id=(await Dialog.get()).contact_id)  # type: ignore[attr-defined]
    assert (contact.name, contact.phone) == ("Ravi Shah", "+48601234567")


async def test_a_task_is_completed_from_the_side_panel(
    page: Page, admin: User, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Ann", ["Hi"], user_id="804")
    deal = await Deal.get(title="Ann")
    due = datetime.now(UTC) + timedelta(hours=2)
    task = await tasks.create_task(actor=admin, title="Call back", due_at=due, deal_id=deal.id)
    await tasks.create_task(actor=admin, title="Not about Ann", due_at=due)
    await open_dialog(page, admin, "Ann")
    panel = page.get_by_role("complementary")
    await expect(panel.get_by_role("link", name=re.compile("^Ann"))).to_have_attribute(
        "href", f"/deals/{deal.id}"
    )
    await expect(panel.locator(".task")).to_have_count(1)
    await panel.get_by_role("button", name="Complete “Call back”").click()
    await expect(panel.get_by_text("No open tasks.")).to_be_visible()
    assert (await Task.get(id=task.id)).done_at is not None


async def test_admins_add_and_delete_canned_replies_in_settings(
    page: Page, troubles: Troubles, admin: User
) -> None:
    troubles.allow_status(422)  # the template that does not compile
    await page.goto("/settings")
    await sign_in(page, admin)
    section = page.get_by_role("region", name="Canned replies")
    await expect(section.get_by_text("No canned replies yet.")).to_be_visible()
    await section.get_by_label("Shortcut").fill("hours")
    await section.get_by_label("Title").fill("Opening hours")
    await section.get_by_label("Text").fill("Open {% if %}")
    await section.get_by_role("button", name="Add canned reply").click()
    await expect(section.get_by_role("alert")).to_contain_text("line 1")
    await section.get_by_label("Text").fill("Hi {{ contact.name }}, we open at 9.")
    await section.get_by_role("button", name="Add canned reply").click()
    await expect(section.locator(".row")).to_have_count(1)
    await expect(section.locator(".row")).to_contain_text("/hours")
    await expect(section.locator(".row")).to_contain_text("Hi {{ contact.name }}, we open at 9.")
    await section.get_by_role("button", name="Delete /hours").click()
    await expect(section.get_by_text("No canned replies yet.")).to_be_visible()
    assert await canned.list_replies() == []
