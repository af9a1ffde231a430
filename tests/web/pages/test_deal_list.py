"""The deal list in Chromium: sort and filters kept in the address, keyset pages, bulk
delete after a confirmation, and the CSV export of the filtered list."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

from playwright.async_api import Browser, Locator, Page, expect

from core.models import User
from funnels import pipelines
from funnels.deals import create_deal
from funnels.models import Deal
from inbox.service import create_contact
from tests.web.pages.conftest import DESKTOP, Troubles, open_page, sign_in

#: (title, amount, close date) of the deals every test starts from, all in EUR.
DEALS = (
    ("Ann cut", "120.00", date(2026, 3, 1)),
    ("Ben colour", "80.50", None),
    ("Cleo cut", "99999999.99", date(2026, 1, 15)),
    ("Dan beard", None, None),
    ("Eve cut", "35.00", date(2026, 2, 1)),
)


async def make_deals(actor: User) -> None:
    pipeline = await pipelines.create_pipeline(actor=actor, name="Salon")
    for title, amount, close_date in DEALS:
        contact = await create_contact(actor=actor, name=title.split()[0])
        await create_deal(
            actor=actor, contact_ids=[contact.id], pipeline_id=pipeline.id, title=title,
            amount=Decimal(amount) if amount else None, currency="EUR" if amount else None,
            close_date=close_date,
        )  # fmt: skip


def titles(page: Page) -> Locator:
    return page.locator(".deal-table tbody td.title")


async def test_sort_and_filter_bookmark_the_url_and_reopen_it(
    page: Page, browser: Browser, server: str, troubles: Troubles, admin: User
) -> None:
    await make_deals(admin)
    await sign_in(page, admin)
    await page.goto("/deals/list")
    await expect(titles(page)).to_have_text([t for t, _, _ in DEALS])  # oldest first

    await page.get_by_role("link", name="Amount").click()
    await expect(page).to_have_url(re.compile(r"/deals/list\?sort=amount$"))
    await expect(titles(page)).to_have_text(
        ["Eve cut", "Ben colour", "Ann cut", "Cleo cut", "Dan beard"]  # no amount last
    )
    await page.get_by_role("link", name="Amount").click()  # again: the other way
    await expect(page.get_by_role("columnheader", name="Amount")).to_have_attribute(
        "aria-sort", "descending"
    )
    await expect(titles(page)).to_have_text(
        ["Cleo cut", "Ann cut", "Ben colour", "Eve cut", "Dan beard"]
    )
    await page.get_by_label("Deal name").fill("cut")
    await page.get_by_label("Close date from").fill("2026-02-01")
    await page.get_by_role("button", name="Apply").click()
    await expect(titles(page)).to_have_text(["Ann cut", "Eve cut"])
    await expect(page.locator(".deal-table tbody tr").first).to_contain_text("€120.00")
    bookmark = page.url
    assert "sort=amount" in bookmark and "order=desc" in bookmark and "title=cut" in bookmark

    # the bookmark opened later, in another browser window, shows the same view
    async for other in open_page(browser, server, troubles, DESKTOP):
        await other.goto(bookmark)
        await sign_in(other, admin)
        await expect(other).to_have_url(bookmark)
        await expect(titles(other)).to_have_text(["Ann cut", "Eve cut"])
        await expect(other.get_by_label("Deal name")).to_have_value("cut")
        await expect(other.get_by_label("Close date from")).to_have_value("2026-02-01")


async def test_a_filter_that_cannot_be_read_says_so(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(422)
    await make_deals(admin)
    await sign_in(page, admin)
    await page.goto("/deals/list?created_from=yesterday")
    await expect(page.get_by_role("alert")).to_contain_text("created_from")
    await expect(page.get_by_label("Created from")).to_have_value("")  # a date field
    await expect(titles(page)).to_have_count(len(DEALS))


async def test_keyset_pages(page: Page, admin: User) -> None:
    pipeline = await pipelines.create_pipeline(actor=admin, name="Salon")
    contact = await create_contact(actor=admin, name="Many")
    for number in range(1, 53):
        await create_deal(
            actor=admin, contact_ids=[contact.id], pipeline_id=pipeline.id,
            title=f"Deal {number:02d}",
        )  # fmt: skip
    await sign_in(page, admin)
    await page.goto("/deals/list?sort=title&order=desc")
    await expect(titles(page)).to_have_count(50)
    await page.get_by_role("link", name="Next page").click()
    await expect(titles(page)).to_have_text(["Deal 02", "Deal 01"])
    await expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    await page.get_by_role("link", name="First page").click()
    await expect(titles(page).first).to_have_text("Deal 52")


async def test_bulk_delete_three_deals_after_confirming(page: Page, admin: User) -> None:
    await make_deals(admin)
    await sign_in(page, admin)
    await page.goto("/deals/list?title=cut")
    delete = page.get_by_role("button", name="Delete selected")
    await expect(delete).to_be_disabled()
    for title in ("Ann cut", "Cleo cut", "Eve cut"):
        await page.get_by_label(f"Select {title}").check()
    await expect(delete).to_have_text("Delete selected (3)")
    dialog = page.get_by_role("dialog", name="Delete 3 deals?")

    await delete.click()
    await expect(dialog).to_contain_text("Deleted deals cannot be recovered.")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    assert await Deal.all().count() == len(DEALS)

    await delete.click()
    await dialog.get_by_role("button", name="Delete deals").click()
    await expect(page).to_have_url(re.compile(r"/deals/list\?title=cut$"))
    await expect(page.get_by_text("No deals match these filters.")).to_be_visible()
    assert sorted(await Deal.all().values_list("title", flat=True)) == ["Ben colour", "Dan beard"]

    # "all on the page" ticks every row
    await page.goto("/deals/list")
    await page.get_by_label("Select all deals on this page").check()
    await expect(delete).to_have_text("Delete selected (2)")


async def test_csv_export_matches_the_filtered_list(page: Page, admin: User) -> None:
    await make_deals(admin)
    await sign_in(page, admin)
    await page.goto("/deals/list?sort=amount&order=desc&title=c")  # cut, colour, Cleo
    shown = await titles(page).all_text_contents()
    assert shown == ["Cleo cut", "Ann cut", "Ben colour", "Eve cut"]

    async with page.expect_download() as started:
        await page.get_by_role("link", name="Export CSV").click()
    download = await started.value
    assert download.suggested_filename == "deals.csv"
    with open(await download.path(), encoding="utf-8") as file:  # noqa: ASYNC230 (a temp file)
        rows = list(csv.DictReader(io.StringIO(file.read())))
    assert [row["title"] for row in rows] == shown
    assert [row["amount"] for row in rows] == ["99999999.99", "120.00", "80.50", "35.00"]
    assert {row["currency"] for row in rows} == {"EUR"}
    assert rows[0]["close_date"] == "2026-01-15" and rows[2]["close_date"] == ""
    assert [row["contacts"] for row in rows] == ["Cleo", "Ann", "Ben", "Eve"]
    assert {row["pipeline"] for row in rows} == {"Salon"}
