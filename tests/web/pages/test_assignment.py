"""Assignment and unread counts in the inbox, in Chromium: filter tabs, the header's
control kept live across pages, badges in the list, the navigation and the title."""

import asyncio
import re

from playwright.async_api import Browser, Page, expect

from bot.inbound import receive
from core.models import Role, User
from inbox.assignment import assign
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, Dialog, Message
from tests.conftest import make_user
from tests.web.pages.conftest import DESKTOP, Troubles, customer_writes, open_page, sign_in


async def writes_again(channel: Channel, user_id: str, name: str, text: str) -> None:
    """One more message of a customer who wrote before (a new platform id)."""
    sender = Sender(external_id=user_id, name=name)
    number = await Message.filter(dialog__chat_id=user_id).count() + 1
    message = Inbound(sender=sender, chat_id=user_id, external_id=f"{user_id}:{number}", text=text)
    await receive(channel=channel, message=message)


async def live(page: Page, url: str) -> None:
    """Open ``url`` and wait until its live socket said hello (events from now on show).

    The page before (the inbox a sign-in lands on) must be loaded first, so that its
    socket, opened while its modules run, is not mistaken for the new page's."""
    await expect(page).to_have_url(re.compile("/inbox"))
    await page.wait_for_load_state("load")
    hello = asyncio.Event()
    page.on("websocket", lambda socket: socket.on("framereceived", lambda _: hello.set()))
    await page.goto(url)
    await asyncio.wait_for(hello.wait(), timeout=5)


async def test_filter_tabs_show_all_mine_and_unassigned(
    page: Page, admin: User, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Mila Kowalski", ["Hi"], user_id="901")
    await customer_writes(channel, "Ravi Shah", ["Hello"], user_id="902")
    mila = await Dialog.get(contact__name="Mila Kowalski")
    await assign(actor=admin, dialog_id=mila.id, assignee_id=operator.id)

    await sign_in(page, operator)
    items = page.locator(".dialog-item")
    tabs = page.get_by_role("navigation", name="Which dialogs")
    await expect(items).to_have_count(2)
    await expect(tabs.get_by_role("link", name="All")).to_have_attribute("aria-current", "page")

    await tabs.get_by_role("link", name="Mine").click()
    await expect(page).to_have_url(re.compile(r"/inbox\?filter=mine$"))
    await expect(items).to_have_text([re.compile("Mila Kowalski")])
    await tabs.get_by_role("link", name="Unassigned").click()
    await expect(page).to_have_url(re.compile(r"/inbox\?filter=unassigned$"))
    await expect(items).to_have_text([re.compile("Ravi Shah")])

    # a dialog opened from a filtered list keeps the filter in its address and on reload
    await items.first.click()
    await expect(page).to_have_url(re.compile(r"/inbox/\d+\?filter=unassigned$"))
    await page.reload()
    await expect(items).to_have_text([re.compile("Ravi Shah")])
    await expect(tabs.get_by_role("link", name="Unassigned")).to_have_attribute(
        "aria-current", "page"
    )
    await expect(items.first).to_have_attribute("aria-current", "true")
    await tabs.get_by_role("link", name="Mine").click()
    await expect(page).to_have_url(re.compile(r"/inbox/\d+\?filter=mine$"))
    await expect(page.get_by_role("region", name="Ravi Shah")).to_be_visible()  # still open


async def test_assign_to_me_shows_live_in_another_page(
    browser: Browser, server: str, troubles: Troubles, admin: User, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Mila Kowalski", ["Hi"], user_id="903")
    mila = await Dialog.get(contact__name="Mila Kowalski")
    async for watcher in open_page(browser, server, troubles, DESKTOP):
        await sign_in(watcher, admin)
        await live(watcher, f"/inbox/{mila.id}?filter=unassigned")
        await expect(watcher.locator(".dialog-item")).to_have_count(1)
        async for page in open_page(browser, server, troubles, DESKTOP):
            await sign_in(page, operator)
            await page.locator(".dialog-item").click()
            header = page.locator(".conversation-head")
            await expect(header).to_contain_text("Unassigned")
            await header.get_by_role("button", name="Assign to me").click()
            await expect(header).to_contain_text(f"Assigned to {operator.email}")
            await expect(header.get_by_role("button", name="Unassign")).to_be_visible()
            assert (await Dialog.get(id=mila.id)).assignee_id == operator.id  # type: ignore[attr-defined]

            # the admin's page, untouched: its header and its unassigned list follow
            choice = watcher.get_by_label("Assigned to")
            await expect(choice.locator("option:checked")).to_have_text(operator.email)
            await expect(watcher.locator(".dialog-item")).to_have_count(0)
            await expect(watcher.get_by_text("Every dialog has someone")).to_be_visible()

            # and the admin gives it back to nobody from the select
            await choice.select_option(label="Unassigned")
            await expect(header).to_contain_text("Unassigned")
            await expect(header.get_by_role("button", name="Assign to me")).to_be_visible()


async def test_an_operator_cannot_take_a_colleagues_dialog(
    page: Page, admin: User, operator: User, channel: Channel
) -> None:
    colleague = await make_user(Role.OPERATOR, "colleague@example.com")
    await customer_writes(channel, "Ann", ["Hello"], user_id="904")
    ann = await Dialog.get(contact__name="Ann")
    await assign(actor=admin, dialog_id=ann.id, assignee_id=colleague.id)
    await page.goto(f"/inbox/{ann.id}")
    await sign_in(page, operator)
    header = page.locator(".conversation-head")
    await expect(header).to_contain_text("Assigned to colleague@example.com")
    await expect(header.get_by_role("button")).to_have_count(0)
    await expect(header.get_by_role("combobox")).to_have_count(0)


async def test_unread_counts_clear_on_open_and_the_total_follows(
    page: Page, operator: User, channel: Channel
) -> None:
    await customer_writes(channel, "Mila Kowalski", ["Hi", "Are you there?"], user_id="905")
    await customer_writes(channel, "Ravi Shah", ["Hello"], user_id="906")
    await sign_in(page, operator)
    await live(page, "/inbox")
    nav = page.locator("[data-unread-total]")
    mila = page.locator(".dialog-item", has_text="Mila Kowalski")
    await expect(nav).to_have_text("3")
    await expect(page).to_have_title(re.compile(r"^\(3\) Inbox"))
    await expect(mila.locator(".unread-badge")).to_have_text("2 unread")
    await expect(mila).to_have_class(re.compile("is-unread"))

    await mila.click()
    await expect(mila.locator(".unread-badge")).to_have_count(0)
    await expect(mila).not_to_have_class(re.compile("is-unread"))
    await expect(nav).to_have_text("1")
    await expect(page).to_have_title(re.compile(r"^\(1\) Inbox"))

    # the customer writes into the open conversation: it stays read; another dialog counts
    await writes_again(channel, "905", "Mila Kowalski", "One more thing")
    await expect(page.locator(".bubble")).to_have_count(3)
    await writes_again(channel, "906", "Ravi Shah", "Hello?")
    ravi = page.locator(".dialog-item", has_text="Ravi Shah")
    await expect(ravi.locator(".unread-badge")).to_have_text("2 unread")
    await expect(nav).to_have_text("2")
    await expect(mila.locator(".unread-badge")).to_have_count(0)
    await ravi.click()
    await expect(nav).to_be_hidden()
    await expect(page).to_have_title("Inbox · Funnelbox")
