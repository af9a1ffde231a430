"""The deal page and the Create deal form in Chromium: the form saves (or says why not,
under the field), custom fields and tags land in the timeline, contacts come and go, the
chat is the inbox's and its reply reaches Telegram, clone, delete after confirming, tasks."""

import asyncio
import re
from decimal import Decimal

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bot import channels
from bot.inbound import Answer, receive
from core.crypto import Vault
from core.models import User
from funnels import catalog, deals, pipelines
from funnels.models import Deal, DealContact, FieldKind, Pipeline
from funnels.queries import contact_deals
from inbox import service as contacts
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel, ChannelKind, Contact, Dialog
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.web.pages.conftest import DESKTOP, Troubles, customer_writes, open_page, sign_in
from triggers import tasks
from triggers.models import Task
from web.app import create_app


async def sales(admin: User) -> Pipeline:
    return await pipelines.create_pipeline(actor=admin, name="Sales", initial_stage="New")


async def a_deal(admin: User, name: str = "Mila Kowalski") -> Deal:
    pipeline = await sales(admin)
    contact = await contacts.create_contact(actor=admin, name=name, phone="+48601234567")
    return await deals.create_deal(
        actor=admin, contact_ids=[contact.id], pipeline_id=pipeline.id,
        amount=Decimal("120.00"), currency="EUR",
    )  # fmt: skip


async def test_create_a_deal_from_a_contact_with_the_title_pre_filled(
    page: Page, admin: User
) -> None:
    pipeline = await sales(admin)
    contact = await contacts.create_contact(actor=admin, name="Ravi Shah", email="ravi@example.com")
    await sign_in(page, admin)
    await page.goto(f"/contacts/{contact.id}")
    await page.get_by_role("link", name="Create deal").click()
    await expect(page).to_have_url(re.compile(rf"/deals/new\?contact_id={contact.id}$"))
    await expect(page.get_by_label("Title")).to_have_value("Ravi Shah")
    await expect(page.locator("[data-chosen-contacts]")).to_contain_text("Ravi Shah")
    await page.get_by_label("Title").fill("Ravi Shah: colouring")
    await page.get_by_label("Amount").fill("85,50")
    await page.get_by_label("Currency").fill("gbp")
    await page.get_by_role("button", name="Create deal").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Ravi Shah: colouring")
    deal = await Deal.get(title="Ravi Shah: colouring")
    assert page.url.endswith(f"/deals/{deal.id}")
    assert (deal.pipeline_id, deal.owner_id) == (pipeline.id, admin.id)
    assert (deal.amount, deal.currency) == (Decimal("85.50"), "GBP")
    open_deals, _ = await contact_deals(contact_id=contact.id)
    assert [d.id for d in open_deals] == [deal.id]


async def test_choosing_a_contact_names_the_deal_and_a_typed_title_stays(
    page: Page, admin: User
) -> None:
    await sales(admin)
    await contacts.create_contact(actor=admin, name="Anna Nowak", phone="+48601000001")
    await contacts.create_contact(actor=admin, name="Anton Berg", phone="+48601000002")
    await sign_in(page, admin)
    await page.goto("/deals/new")
    await page.get_by_label("Find a contact").fill("Ann")
    await page.get_by_role("button", name=re.compile("Anna Nowak")).click()
    await expect(page.get_by_label("Title")).to_have_value("Anna Nowak")
    await page.get_by_label("Title").fill("Wedding package")
    await page.get_by_label("Find a contact").fill("Anton")
    await page.get_by_role("button", name=re.compile("Anton Berg")).click()
    await expect(page.get_by_label("Title")).to_have_value("Wedding package")
    await expect(page.locator("[data-chosen-contacts] li")).to_have_count(2)
    await page.get_by_role("button", name="Create deal").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Wedding package")
    deal = await Deal.get(title="Wedding package")
    links = await DealContact.filter(deal_id=deal.id).order_by("position").select_related("contact")
    assert [link.contact.name for link in links] == ["Anna Nowak", "Anton Berg"]


async def test_create_deal_without_a_contact_says_so_and_keeps_the_form(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(422)
    await sales(admin)
    await sign_in(page, admin)
    await page.goto("/deals/new")
    await page.get_by_label("Title").fill("Nobody's deal")
    await page.get_by_role("button", name="Create deal").click()
    await expect(page.get_by_role("alert")).to_have_text("A deal needs at least one contact.")
    await expect(page.get_by_label("Title")).to_have_value("Nobody's deal")
    assert await Deal.all().count() == 0


async def test_a_contact_made_inline_on_create_deal_is_chosen(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(422)
    await sales(admin)
    await sign_in(page, admin)
    await page.goto("/deals/new")
    await page.get_by_text("New contact").click()
    await page.get_by_label("Name", exact=True).fill("Olga Petrenko")
    await page.get_by_label("Phone").fill("12")
    await page.get_by_role("button", name="Add contact").click()
    await expect(page.locator("#new-contact-phone-error")).to_be_visible()
    await page.get_by_label("Phone").fill("+380671234567")
    await page.get_by_role("button", name="Add contact").click()
    await expect(page.locator("[data-chosen-contacts]")).to_contain_text("Olga Petrenko")
    await expect(page.get_by_label("Title")).to_have_value("Olga Petrenko")
    await page.get_by_role("button", name="Create deal").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Olga Petrenko")
    contact = await Contact.get(name="Olga Petrenko")
    assert contact.phone == "+380671234567"


async def test_edit_a_custom_field_and_a_tag_and_see_the_timeline_entry(
    page: Page, admin: User
) -> None:
    deal = await a_deal(admin)
    notes = await catalog.create_custom_field(actor=admin, name="Notes", kind=FieldKind.TEXT)
    await catalog.create_tag(actor=admin, name="Loyal", color="#1e7d45")
    await catalog.create_tag(actor=admin, name="Cold")
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    await page.get_by_label("Notes").fill("Prefers mornings")
    await page.get_by_role("checkbox", name="Loyal").check()
    await page.get_by_role("button", name="Save").click()

    await expect(page.get_by_role("status")).to_have_text("Saved")
    entry = page.locator(".timeline-entry").first
    await expect(entry).to_contain_text(f"{admin.email} changed the deal")
    await expect(entry.locator(".timeline-changes li")).to_have_text(
        ["Notes: — → Prefers mornings", "Tags: — → Loyal"]
    )
    await expect(page.get_by_label("Notes")).to_have_value("Prefers mornings")
    await expect(page.get_by_role("checkbox", name="Loyal")).to_be_checked()
    reloaded = await Deal.get(id=deal.id).prefetch_related("tags", "field_values")
    assert [t.name for t in reloaded.tags] == ["Loyal"]
    assert [v.value_text for v in reloaded.field_values] == ["Prefers mornings"]
    assert notes.id == reloaded.field_values[0].field_id


async def test_a_refused_save_shows_the_reason_under_the_field_and_changes_nothing(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(422)
    deal = await a_deal(admin)
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    await page.get_by_label("Title").fill("Renamed")
    await page.get_by_label("Amount").fill("12.345")
    await page.get_by_role("button", name="Save").click()
    amount = page.get_by_label("Amount")
    await expect(amount).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#amount-error")).to_have_text("Amount has at most 2 decimal places.")
    await expect(amount).to_have_value("12.345")
    await expect(page.get_by_label("Title")).to_have_value("Renamed")
    reloaded = await Deal.get(id=deal.id)
    assert (reloaded.title, reloaded.amount) == ("Mila Kowalski", Decimal("120.00"))


async def test_moving_to_lost_with_a_reason_from_the_form(page: Page, admin: User) -> None:
    deal = await a_deal(admin)
    reason = await catalog.create_lost_reason(actor=admin, name="Too expensive")
    lost = next(
        s for s in await pipelines.list_stages(pipeline_id=deal.pipeline_id) if s.name == "Lost"
    )
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    await expect(page.get_by_label("Lost reason")).to_be_hidden()
    await page.get_by_label("Stage").select_option(str(lost.id))
    await page.get_by_label("Lost reason").select_option(label="Too expensive")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".timeline-entry").first).to_contain_text("Lost reason")
    await expect(page.locator(".timeline-deal-stage_changed")).to_contain_text("Stage: New → Lost")
    reloaded = await Deal.get(id=deal.id)
    assert (reloaded.stage_id, reloaded.lost_reason_id) == (lost.id, reason.id)
    assert reloaded.close_date is not None


async def test_contacts_are_added_created_inline_and_removed(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(409)
    deal = await a_deal(admin)
    await contacts.create_contact(actor=admin, name="Ravi Shah", phone="+447911123456")
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    people = page.locator("[data-deal-contacts] .deal-contact-name")
    await page.get_by_label("Add a contact").fill("Ravi")
    await page.get_by_role("button", name=re.compile("Ravi Shah")).click()
    await expect(people).to_have_text(["Mila Kowalski", "Ravi Shah"])
    await page.get_by_text("New contact").click()
    await page.get_by_label("Name", exact=True).fill("Olga")
    await page.get_by_label("Phone", exact=True).fill("+447911123456")
    await page.get_by_role("button", name="Add contact").click()
    await expect(page.get_by_role("alert")).to_contain_text("has this phone already")
    await page.get_by_label("Phone", exact=True).fill("")
    await page.get_by_role("button", name="Add contact").click()
    await expect(people).to_have_text(["Mila Kowalski", "Ravi Shah", "Olga"])
    await page.get_by_role("button", name="Remove Ravi Shah from the deal").click()
    await expect(people).to_have_text(["Mila Kowalski", "Olga"])
    await expect(page.locator(".timeline-entry").first).to_contain_text(
        "removed the contact Ravi Shah"
    )
    linked = await Contact.filter(deal_contacts__deal_id=deal.id).order_by("id")
    assert [c.name for c in linked] == ["Mila Kowalski", "Olga"]


async def test_clone_opens_the_copy(page: Page, admin: User) -> None:
    deal = await a_deal(admin)
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    await page.get_by_role("button", name="Clone").click()
    await expect(page).not_to_have_url(re.compile(rf"/deals/{deal.id}$"))
    copy = await Deal.exclude(id=deal.id).get()
    await expect(page).to_have_url(re.compile(rf"/deals/{copy.id}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mila Kowalski")
    assert (copy.title, copy.amount, copy.stage_id) == (deal.title, deal.amount, deal.stage_id)


async def test_delete_asks_first_and_says_it_cannot_be_undone(page: Page, admin: User) -> None:
    deal = await a_deal(admin)
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    confirm = page.get_by_role("button", name="Delete deal")
    await expect(confirm).to_be_hidden()
    await page.locator("summary", has_text="Delete").click()
    await expect(page.get_by_text("Deleted deals cannot be recovered.")).to_be_visible()
    assert await Deal.filter(id=deal.id).exists()
    await confirm.click()
    await expect(page).to_have_url(re.compile(r"/deals/pipelines/\d+$"))
    assert not await Deal.filter(id=deal.id).exists()


async def test_tasks_are_added_and_completed(page: Page, admin: User, owner: User) -> None:
    deal = await a_deal(admin)
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    await page.get_by_label("New task").fill("Call back about the offer")
    await page.get_by_label("Due").fill("2030-05-04T10:30")
    await page.get_by_label("Assignee").select_option(label=owner.email)
    await page.get_by_role("button", name="Add task").click()
    done = page.get_by_role("button", name="Complete “Call back about the offer”")
    await expect(done).to_be_visible()
    [task] = await Task.filter(deal_id=deal.id)
    assert (task.assignee_id, task.due_at.year, task.done_at) == (owner.id, 2030, None)  # type: ignore[attr-defined]
    await done.click()
    await expect(page.locator(".task.is-done")).to_contain_text("Call back about the offer")
    await expect(page.locator(".timeline-entry").first).to_contain_text(
        "completed the task “Call back about the offer”"
    )
    assert (await Task.get(id=task.id)).done_at is not None
    assert await tasks.list_tasks(actor=admin, deal_id=deal.id, open_only=True) == []


async def test_an_empty_task_title_is_refused_under_the_field(
    page: Page, admin: User, troubles: Troubles
) -> None:
    troubles.allow_status(422)
    deal = await a_deal(admin)
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    await page.get_by_role("button", name="Add task").click()
    await expect(page.locator("#task_title-error")).to_have_text("Title must not be empty.")
    assert not await Task.filter(deal_id=deal.id).exists()


async def test_reply_from_the_deal_chat_reaches_telegram_and_switching_contacts_switches_it(
    browser: Browser, db: Backend, troubles: Troubles, admin: User
) -> None:
    pipeline = await sales(admin)
    stage = (await pipelines.list_stages(pipeline_id=pipeline.id))[0]
    app = create_app(db.settings(outbox_worker=True), own_database=False)
    async with FakeTelegram() as fake, TestServer(app, host="127.0.0.1") as server:
        channel = await channels.create_channel(
            actor=admin, vault=Vault(SECRET_KEY.get_secret_value()), kind=ChannelKind.TELEGRAM,
            name="Salon bot", credentials={"token": DEFAULT_TOKEN}, pipeline_id=pipeline.id,
            stage_id=stage.id, api_base_url=fake.url,
        )  # fmt: skip
        await customer_writes(channel, "Ann", ["Can I come at 10?"], user_id="901")
        await customer_writes(channel, "Ben", ["Is parking free?"], user_id="902")
        deal = await Deal.get(dialog__contact__name="Ann")
        ben = await Contact.get(name="Ben")
        await deals.add_contact(actor=admin, deal_id=deal.id, contact_id=ben.id)
        base = str(server.make_url("")).rstrip("/")
        async for page in open_page(browser, base, troubles, DESKTOP):
            await sign_in(page, admin)
            await page.goto(f"/deals/{deal.id}")
            chat = page.locator("[data-deal-chat]")
            await expect(chat.locator(".bubble")).to_have_text([re.compile("Can I come at 10")])
            await page.get_by_label("Reply to Ann").fill("10:00 is yours")
            await page.get_by_label("Reply to Ann").press("Enter")
            await expect(chat.locator(".bubble-out")).to_contain_text("10:00 is yours")
            await expect(page.get_by_label("Reply to Ann")).to_have_value("")
            async with asyncio.timeout(5):
                while not fake.calls_to("sendMessage"):
                    await asyncio.sleep(0.05)
            await expect(page.locator("[data-deal-details]")).to_be_visible()  # still the deal

            await page.locator("[data-deal-contacts] a", has_text="Ben").click()
            await expect(page.get_by_label("Reply to Ben")).to_be_visible()
            await expect(chat.locator(".bubble")).to_have_text([re.compile("Is parking free")])
            await expect(page).to_have_url(re.compile(rf"/deals/{deal.id}\?contact_id={ben.id}$"))
            await expect(page.locator("[data-deal-contacts] a[aria-current=true]")).to_contain_text(
                "Ben"
            )
        [sent] = fake.calls_to("sendMessage")
        assert (sent.params["text"], str(sent.params["chat_id"])) == ("10:00 is yours", "901")
    ann_dialog = await Dialog.get(contact__name="Ann")
    assert ann_dialog.id == deal.dialog_id  # type: ignore[attr-defined]


async def test_an_operator_gets_403_on_the_deal_and_contact_pages(
    page: Page, admin: User, operator: User, troubles: Troubles
) -> None:
    troubles.allow_status(403)
    deal = await a_deal(admin)
    [contact] = await Contact.all()
    await sign_in(page, operator)
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Contacts")).to_have_count(0)
    for path in (
        f"/deals/{deal.id}",
        "/deals/new",
        f"/deals/{deal.id}/chat",
        "/contacts",
        f"/contacts/{contact.id}",
        "/contacts/picker?q=Mila",
    ):
        response = await page.goto(path)
        assert response is not None and response.status == 403, path
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "You do not have access to this page"
        )


async def test_what_the_bot_wrote_in_the_deals_dialog_is_in_its_timeline(
    page: Page, admin: User, channel: Channel
) -> None:
    await customer_writes(channel, "Ann", ["Hello"], user_id="903")
    start = Inbound(sender=Sender(external_id="903", name="Ann"), chat_id="903",
                    external_id="903:2", text="/start")  # fmt: skip
    await receive(channel=channel, message=start, answer=Answer(text="Welcome to the salon!"))
    deal = await Deal.get(dialog__contact__name="Ann")
    await sign_in(page, admin)
    await page.goto(f"/deals/{deal.id}")
    said = page.locator(".timeline-bot_message")
    await expect(said).to_have_count(1)
    await expect(said).to_contain_text("The bot wrote to the customer: Welcome to the salon!")
    created = page.locator(".timeline-deal-created")
    await expect(created).to_contain_text("Funnelbox created the deal")


async def test_the_contacts_list_searches_names_phones_and_e_mails_as_you_type(
    page: Page, admin: User
) -> None:
    await contacts.create_contact(actor=admin, name="Mila Kowalski", phone="+48601234567")
    await contacts.create_contact(actor=admin, name="Ravi Shah", email="ravi@example.com")
    ann = await contacts.create_contact(actor=admin, name="Ann Lee")
    pipeline = await sales(admin)
    won = next(s for s in await pipelines.list_stages(pipeline_id=pipeline.id) if s.name == "Won")
    for title, stage_id in (("Haircut", None), ("Colour", won.id)):
        await deals.create_deal(
            actor=admin, contact_ids=[ann.id], pipeline_id=pipeline.id, stage_id=stage_id,
            title=title, amount=Decimal("25.00"), currency="EUR",
        )  # fmt: skip
    await sign_in(page, admin)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    names = page.locator(".contact-row-name")
    await expect(names).to_have_text(["Mila Kowalski", "Ravi Shah", "Ann Lee"])
    search = page.get_by_label("Search contacts")
    for typed, found in (("601 234", "Mila Kowalski"), ("ravi@", "Ravi Shah"), ("lee", "Ann Lee")):
        await search.fill(typed)
        await expect(names).to_have_text([found])
    await expect(page).to_have_url(re.compile(r"/contacts\?q=lee$"))
    await names.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ann Lee")
    for region, shown in (
        ("Open deals", r"Haircut\s+New · €25.00"),
        ("Closed deals", r"Colour\s+Won · €25.00"),
    ):
        chips = page.get_by_role("region", name=region).locator(".deal-chip")
        await expect(chips).to_have_text([re.compile(shown)])
