"""The inbox at length: the list loads its next page on scrolling, search narrows it, and
a long conversation loads its earlier messages above without moving the view."""

import re

from playwright.async_api import Page, expect

from core.models import User
from inbox.models import Channel, Dialog
from tests.web.pages.conftest import customer_writes, sign_in

PAGE = 50  # what the list and a conversation show at first


async def test_scrolling_the_list_loads_the_next_page(
    page: Page, operator: User, channel: Channel
) -> None:
    for number in range(PAGE + 5):
        await customer_writes(channel, f"Customer {number:02d}", ["Hello"], user_id=f"8{number}")
    await sign_in(page, operator)
    items = page.locator(".dialog-item")
    await expect(items).to_have_count(PAGE)
    await expect(items.first).to_contain_text("Customer 54")  # newest activity first
    await items.last.scroll_into_view_if_needed()
    await expect(items).to_have_count(PAGE + 5)
    await expect(items.last).to_contain_text("Customer 00")
    names = await page.locator(".dialog-name").all_inner_texts()
    assert names == [f"Customer {n:02d}" for n in reversed(range(PAGE + 5))]  # none twice


async def test_search_finds_a_dialog_by_message_text_and_keeps_it_in_the_url(
    page: Page, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Mila Kowalski", ["Is there a slot tomorrow?"], user_id="901")
    await customer_writes(channel, "Ravi Shah", ["Do you sell gift cards?", "ok"], user_id="902")
    await sign_in(page, operator)
    items = page.locator(".dialog-item")
    await expect(items).to_have_count(2)
    await page.get_by_role("searchbox", name="Search dialogs").fill("gift card")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text("Ravi Shah")  # found in an earlier message
    await expect(page).to_have_url(re.compile(r"/inbox\?q=gift\+card$"))
    await page.reload()  # the address is the search
    await expect(page.get_by_role("searchbox", name="Search dialogs")).to_have_value("gift card")
    await expect(items).to_have_count(1)
    await page.get_by_role("searchbox", name="Search dialogs").fill("nobody")
    await expect(page.get_by_text("No dialog matches “nobody”")).to_be_visible()
    await page.get_by_role("searchbox", name="Search dialogs").fill("")
    await expect(items).to_have_count(2)
    await expect(page).to_have_url(re.compile(r"/inbox$"))


async def test_earlier_messages_load_above_keeping_the_view(
    page: Page, operator: User, channel: Channel
) -> None:
    texts = [f"message {n:02d}" for n in range(PAGE + 7)]
    await customer_writes(channel, "Ann", texts, user_id="903")
    dialog = await Dialog.get(contact__name="Ann")
    await sign_in(page, operator)
    await page.goto(f"/inbox/{dialog.id}")
    bubbles = page.locator(".bubble-text")
    await expect(bubbles).to_have_count(PAGE)
    await expect(bubbles.first).to_have_text("message 07")
    messages = page.locator("[data-messages]")
    at_bottom = await messages.evaluate("m => m.scrollHeight - m.scrollTop - m.clientHeight")
    assert at_bottom < 2  # the newest message shows
    await messages.evaluate("m => { m.scrollTop = 0 }")  # up to the oldest shown
    oldest = messages.get_by_text("message 07")
    top = await oldest.evaluate("e => e.getBoundingClientRect().top")
    await page.get_by_role("button", name="Earlier messages").click()
    await expect(bubbles).to_have_count(PAGE + 7)
    await expect(bubbles.first).to_have_text("message 00")
    await expect(page.get_by_role("button", name="Earlier messages")).to_have_count(0)
    await expect(page.locator(".day-separator")).to_have_count(1)  # one day, one separator
    # what was on screen stays there: the older messages went above it
    await page.evaluate("new Promise(done => setTimeout(done, 100))")  # after htmx settles
    assert abs(await oldest.evaluate("e => e.getBoundingClientRect().top") - top) < 2
    assert await messages.evaluate("m => m.scrollTop") > 0
