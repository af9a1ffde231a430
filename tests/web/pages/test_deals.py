"""Deals in the browser: who sees them, and the first visit's pipeline prompt."""

from playwright.async_api import Page, expect

from core.models import User
from funnels import pipelines
from tests.web.pages.conftest import Troubles, sign_in


async def test_an_operator_sees_no_deals_menu_and_gets_403(
    page: Page, operator: User, troubles: Troubles
) -> None:
    troubles.allow_status(403)
    await sign_in(page, operator)
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Inbox")).to_be_visible()
    await expect(nav.get_by_role("link", name="Deals")).to_have_count(0)
    await expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    for path in ("/deals", "/settings"):
        response = await page.goto(path)
        assert response.status == 403
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "You do not have access to this page"
        )


async def test_first_visit_prompts_for_a_pipeline_and_creates_it(page: Page, admin: User) -> None:
    await sign_in(page, admin)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals").click()
    await expect(page.get_by_role("heading", name="Create your first pipeline")).to_be_visible()
    await page.get_by_label("Pipeline name").fill("Sales")
    await page.get_by_label("Stage 1 name").fill("First contact")
    await page.get_by_label("Stage 2 name").fill("Booked")
    await page.get_by_label("Stage 3 name").fill("")
    await page.get_by_role("button", name="Create pipeline").click()

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
