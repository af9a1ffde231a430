"""Deals in the browser: who sees them, and the first visit's pipeline prompt."""

import re

from playwright.async_api import Page, expect

from core.models import User
from funnels import pipelines
from funnels.deals import create_deal, get_deal
from inbox.service import create_contact
from tests.web.pages.conftest import Troubles, sign_in
from web.middleware import CSRF_FIELD

#: Every page of the deals section that is this module's (the deal page is tested apart).
DEALS_PAGES = (
    "/deals",
    "/deals/pipelines",
    "/deals/pipelines/1",
    "/deals/pipelines/1/stages/1/cards",
    "/deals/list",
    "/deals/list?sort=amount&order=desc",
    "/deals/export.csv",
)


async def test_an_operator_sees_no_deals_menu_and_gets_403(
    page: Page, admin: User, operator: User, troubles: Troubles
) -> None:
    troubles.allow_status(403)
    sales = await pipelines.create_pipeline(actor=admin, name="Sales")
    contact = await create_contact(actor=admin, name="Ann")
    deal = await create_deal(actor=admin, contact_ids=[contact.id], pipeline_id=sales.id)
    await sign_in(page, operator)
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Inbox")).to_be_visible()
    await expect(nav.get_by_role("link", name="Deals")).to_have_count(0)
    await expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    for path in (*DEALS_PAGES, "/settings"):
        response = await page.goto(path)
        assert response.status == 403
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "You do not have access to this page"
        )
    # nor can an operator delete deals by posting the list's form
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    form = {CSRF_FIELD: token or "", "ids": str(deal.id), "back": "/deals/list"}
    answer = await page.request.post("/deals/list/delete", form=form, max_redirects=0)
    assert answer.status == 403
    assert await get_deal(deal_id=deal.id)


async def test_first_visit_prompts_for_a_pipeline_and_creates_it(page: Page, admin: User) -> None:
    await sign_in(page, admin)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals").click()
    await expect(page.get_by_role("heading", name="Create your first pipeline")).to_be_visible()
    await page.get_by_label("Pipeline name").fill("Sales")
    await page.get_by_label("Stage 1 name").fill("First contact")
    await page.get_by_label("Stage 2 name").fill("Booked")
    await page.get_by_label("Stage 3 name").fill("")
    await page.get_by_role("button", name="Create pipeline").click()

    # the new pipeline's board opens, its columns the stages just named
    await expect(page).to_have_url(re.compile(r"/deals/pipelines/1$"))
    await expect(page.locator(".column-head h2")).to_have_text(
        ["First contact 10%", "Booked 30%", "Won 100%", "Lost 0%"]
    )
    await expect(page.get_by_text("Drop a deal here")).to_have_count(4)
    await page.goto("/deals/pipelines")
    card = page.get_by_role("link", name="Sales")
    await expect(card).to_have_attribute("href", "/deals/pipelines/1")
    await expect(card.locator(".chip")).to_have_text(
        ["First contact 10%", "Booked 30%", "Won 100%", "Lost 0%"]
    )
    [created] = await pipelines.list_pipelines()
    stages = await pipelines.list_stages(pipeline_id=created.id)
    assert [(s.name, s.probability) for s in stages] == [
        ("First contact", 10),
        ("Booked", 30),
        ("Won", 100),
        ("Lost", 0),
    ]


async def test_a_refused_pipeline_shows_the_reason_inline(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(422)
    await sign_in(page, admin)
    await page.goto("/deals")
    await page.get_by_label("Stage 1 name").fill("Kept")
    await page.get_by_role("button", name="Create pipeline").click()
    await expect(page.get_by_role("alert")).to_have_text("Name must not be empty.")
    await expect(page.get_by_label("Pipeline name")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Stage 1 name")).to_have_value("Kept")
    assert await pipelines.list_pipelines() == []
