"""The pipeline board in Chromium: columns and cards, drag and drop through the move
service, the lost reason, refused moves, more cards on scroll, live moves by others."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from aiohttp import ClientSession
from playwright.async_api import Locator, Page, expect

from core import tokens
from core.models import Role, User
from funnels import catalog, pipelines
from funnels.deals import create_deal, get_deal, move_deal
from funnels.models import Deal, Pipeline, Stage
from inbox.models import Channel
from inbox.service import create_contact
from tests.conftest import make_user
from tests.web.pages.conftest import Troubles, customer_writes, sign_in
from tests.web.pages.test_assignment import live


@dataclass
class Board:
    pipeline: Pipeline
    new: Stage
    offer: Stage
    won: Stage
    lost: Stage


async def make_board(actor: User) -> Board:
    """Sales: New 10%, Offer 50%, Won, Lost; Ann (120 EUR) and Ben (80 EUR) in New."""
    pipeline = await pipelines.create_pipeline(actor=actor, name="Sales", initial_stage="New")
    await pipelines.create_stage(actor=actor, pipeline_id=pipeline.id, name="Offer", probability=50)
    new, offer, won, lost = await pipelines.list_stages(pipeline_id=pipeline.id)
    for name, amount in (("Ann", "120.00"), ("Ben", "80.00")):
        contact = await create_contact(actor=actor, name=name)
        await create_deal(
            actor=actor, contact_ids=[contact.id], pipeline_id=pipeline.id, stage_id=new.id,
            amount=Decimal(amount), currency="EUR",
        )  # fmt: skip
    return Board(pipeline, new, offer, won, lost)


def column(page: Page, stage: Stage) -> Locator:
    return page.locator(f'.board-column[data-stage-id="{stage.id}"]')


async def drag(page: Page, card: Locator, target: Locator) -> None:
    """Hold the card, move it over the target column's list in steps, let go (SortableJS
    in fallback mode follows the mouse like a person's drag)."""
    await card.scroll_into_view_if_needed()
    start = await card.bounding_box()
    end = await target.locator("[data-cards]").bounding_box()
    assert start is not None and end is not None
    await page.mouse.move(start["x"] + 20, start["y"] + 10)
    await page.mouse.down()
    await page.mouse.move(start["x"] + 30, start["y"] + 20, steps=5)
    await page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=15)
    await page.mouse.up()


async def test_columns_show_stage_figures_and_cards(page: Page, admin: User) -> None:
    sales = await make_board(admin)
    tag = await catalog.create_tag(actor=admin, name="VIP")
    ann = await create_contact(actor=admin, name="Cleo")
    await create_deal(
        actor=admin, contact_ids=[ann.id], pipeline_id=sales.pipeline.id, stage_id=sales.offer.id,
        title="Cleo colour", amount=Decimal("1200.50"), currency="GBP", tag_ids=[tag.id],
    )  # fmt: skip
    await sign_in(page, admin)
    await page.goto(f"/deals/pipelines/{sales.pipeline.id}")
    headings = page.locator(".column-head h2")
    await expect(headings).to_have_text(["New 10%", "Offer 50%", "Won 100%", "Lost 0%"])
    new = column(page, sales.new)
    await expect(new.locator("[data-column-count]")).to_have_text("2 deals")
    await expect(new.locator(".total")).to_have_text("€200.00")
    await expect(new.locator(".weighted")).to_have_text("weighted €20.00")
    offer = column(page, sales.offer)
    card = offer.get_by_role("listitem", name="Cleo colour")
    await expect(card.get_by_role("link", name="Cleo colour")).to_have_attribute(
        "href", re.compile(r"^/deals/\d+$")
    )
    await expect(card).to_contain_text("£1,200.50")
    await expect(card.locator(".deal-card-contacts")).to_have_text("Cleo")
    await expect(card.locator(".tag")).to_have_text("VIP")
    await expect(card).to_contain_text(admin.email)  # the owner
    await expect(offer.locator(".weighted")).to_have_text("weighted £600.25")
    await expect(page.get_by_role("link", name="Create deal")).to_have_attribute(
        "href", f"/deals/new?pipeline_id={sales.pipeline.id}"
    )


async def test_drag_a_card_to_won_sets_the_close_date_and_both_totals_change(
    page: Page, admin: User
) -> None:
    sales = await make_board(admin)
    await sign_in(page, admin)
    await page.goto(f"/deals/pipelines/{sales.pipeline.id}")
    await page.evaluate("window.marker = 'no reload'")
    new, won = column(page, sales.new), column(page, sales.won)
    await expect(won.locator(".total")).to_have_text("No amounts")

    await drag(page, new.get_by_role("listitem", name="Ann"), won)

    await expect(won.locator("[data-column-count]")).to_have_text("1 deal")
    await expect(won.locator(".total")).to_have_text("€120.00")
    await expect(new.locator("[data-column-count]")).to_have_text("1 deal")
    await expect(new.locator(".total")).to_have_text("€80.00")
    card = won.get_by_role("listitem", name="Ann")
    await expect(card.locator("[data-close-date]")).to_be_visible()
    [deal_id] = [int(await card.get_attribute("data-deal-id") or 0)]
    deal = await get_deal(deal_id=deal_id)
    assert (deal.stage_id, deal.close_date) == (sales.won.id, datetime.now(UTC).date())
    assert await page.evaluate("window.marker") == "no reload"


async def test_drag_to_lost_asks_the_reason(page: Page, admin: User) -> None:
    sales = await make_board(admin)
    reason = await catalog.create_lost_reason(actor=admin, name="Too expensive")
    await sign_in(page, admin)
    await page.goto(f"/deals/pipelines/{sales.pipeline.id}")
    new, lost = column(page, sales.new), column(page, sales.lost)
    dialog = page.get_by_role("dialog", name="Why was this deal lost?")

    # cancelled: the card goes back and nothing moved
    await drag(page, new.get_by_role("listitem", name="Ben"), lost)
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(new.get_by_role("listitem", name="Ben")).to_be_visible()
    await expect(lost.locator(".deal-card")).to_have_count(0)

    await drag(page, new.get_by_role("listitem", name="Ben"), lost)
    await dialog.get_by_label("Lost reason").select_option(label="Too expensive")
    await dialog.get_by_role("button", name="Mark as lost").click()
    await expect(lost.locator("[data-column-count]")).to_have_text("1 deal")
    await expect(lost.get_by_role("listitem", name="Ben")).to_be_visible()
    card = lost.get_by_role("listitem", name="Ben")
    deal = await get_deal(deal_id=int(await card.get_attribute("data-deal-id") or 0))
    assert (deal.stage_id, deal.lost_reason_id) == (sales.lost.id, reason.id)


async def test_a_refused_move_snaps_back_with_the_reason(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(404)
    sales = await make_board(admin)
    await sign_in(page, admin)
    await page.goto(f"/deals/pipelines/{sales.pipeline.id}")
    offer = column(page, sales.offer)
    await expect(offer).to_be_visible()
    await pipelines.delete_stage(actor=admin, stage_id=sales.offer.id)  # someone else did

    await drag(page, column(page, sales.new).get_by_role("listitem", name="Ann"), offer)
    await expect(page.get_by_role("alert")).to_contain_text(f"stage {sales.offer.id}")
    await expect(column(page, sales.new).locator(".deal-card")).to_have_count(2)
    await expect(page.locator(".board-column")).to_have_count(3)  # the board caught up


async def test_a_move_through_the_api_by_someone_else_appears_without_reload(
    page: Page, server: str, admin: User
) -> None:
    sales = await make_board(admin)
    colleague = await make_user(Role.OWNER, "colleague@example.com")
    token = await tokens.issue_token(user=colleague)
    await sign_in(page, admin)
    await live(page, f"/deals/pipelines/{sales.pipeline.id}")
    await page.evaluate("window.marker = 'no reload'")
    card = column(page, sales.new).get_by_role("listitem", name="Ann")
    deal_id = int(await card.get_attribute("data-deal-id") or 0)

    async with ClientSession() as http, http.post(
        f"{server}/api/v1/deals/{deal_id}/move", json={"stage_id": sales.offer.id},
        headers={"Authorization": f"Bearer {token}"},
    ) as answer:  # fmt: skip
        assert answer.status == 200, await answer.text()

    offer = column(page, sales.offer)
    await expect(offer.get_by_role("listitem", name="Ann")).to_be_visible()
    await expect(offer.locator(".total")).to_have_text("€120.00")
    await expect(column(page, sales.new).locator("[data-column-count]")).to_have_text("1 deal")
    assert await page.evaluate("window.marker") == "no reload"


async def test_a_long_column_loads_more_cards_on_scroll(page: Page, admin: User) -> None:
    sales = await make_board(admin)
    contact = await create_contact(actor=admin, name="Many")
    for number in range(1, 24):
        await create_deal(
            actor=admin, contact_ids=[contact.id], pipeline_id=sales.pipeline.id,
            stage_id=sales.offer.id, title=f"Deal {number:02d}",
        )  # fmt: skip
    await sign_in(page, admin)
    await page.goto(f"/deals/pipelines/{sales.pipeline.id}")
    cards = column(page, sales.offer).locator(".deal-card")
    await expect(cards).to_have_count(20)
    await expect(cards.first).to_have_attribute("aria-label", "Deal 23")  # newest first
    await column(page, sales.offer).locator(".more-cards").scroll_into_view_if_needed()
    await expect(cards).to_have_count(23)
    await expect(cards.last).to_have_attribute("aria-label", "Deal 01")


async def test_filters_narrow_the_board_and_its_totals(page: Page, admin: User) -> None:
    sales = await make_board(admin)
    await sign_in(page, admin)
    await page.goto(f"/deals/pipelines/{sales.pipeline.id}")
    await page.get_by_label("Deal name").fill("ben")
    await page.get_by_role("button", name="Apply").click()
    await expect(page).to_have_url(re.compile(r"\?title=ben"))
    new = column(page, sales.new)
    await expect(new.locator(".deal-card")).to_have_count(1)
    await expect(new.locator(".total")).to_have_text("€80.00")


async def test_deals_opens_the_pipeline_last_looked_at(page: Page, admin: User) -> None:
    first = await make_board(admin)
    other = await pipelines.create_pipeline(actor=admin, name="Gift cards")
    await sign_in(page, admin)
    await page.goto("/deals")
    await expect(page).to_have_url(re.compile(rf"/deals/pipelines/{first.pipeline.id}$"))
    await (
        page.get_by_role("navigation", name="Pipelines")
        .get_by_role("link", name="Gift cards")
        .click()
    )
    await expect(page).to_have_url(re.compile(rf"/deals/pipelines/{other.id}$"))
    await page.goto("/deals")
    await expect(page).to_have_url(re.compile(rf"/deals/pipelines/{other.id}$"))
    await expect(page.get_by_role("heading", name="New 10%")).to_be_visible()


async def test_a_card_of_a_dialog_shows_its_last_message_and_unread_count(
    page: Page, admin: User, channel: Channel
) -> None:
    await customer_writes(channel, "Mila Kowalski", ["Hi", "Is Friday free?"], user_id="811")
    [deal] = await Deal.filter(title="Mila Kowalski")
    await sign_in(page, admin)
    await page.goto(f"/deals/pipelines/{deal.pipeline_id}")
    card = page.get_by_role("listitem", name="Mila Kowalski")
    await expect(card.locator(".deal-card-last")).to_have_text("Is Friday free?")
    await expect(card.locator(".unread-badge")).to_have_text("2 unread")


async def test_a_refetch_keeps_the_board_where_it_was_scrolled(phone: Page, admin: User) -> None:
    """At phone width one column shows at a time: a live refetch must not swipe back."""
    sales = await make_board(admin)
    deal_id = (await Deal.filter(title="Ann").first().values_list("id", flat=True)) or 0
    await sign_in(phone, admin)
    await live(phone, f"/deals/pipelines/{sales.pipeline.id}")
    offer = column(phone, sales.offer)
    await offer.scroll_into_view_if_needed()
    left = await phone.locator("[data-board]").evaluate("board => board.scrollLeft")
    assert left > 0
    await move_deal(actor=admin, deal_id=int(deal_id), stage_id=sales.offer.id)  # in-process bus
    await expect(offer.get_by_role("listitem", name="Ann")).to_be_visible()
    assert await phone.locator("[data-board]").evaluate("board => board.scrollLeft") == left
