"""Photos and documents from the reply box, in Chromium, to the fake messengers: picked
with the paper clip, sent with the text as caption, shown as outbound bubbles whose
status turns to sent; a file the platform would refuse is an inline error."""

import asyncio
import re
import struct
import zlib
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bot import channels
from bot.inbound import receive
from core.crypto import Vault
from core.models import User
from funnels import pipelines
from inbox.dialogs import Inbound, Sender
from inbox.models import ChannelKind, Message
from tests.conftest import SECRET_KEY, Backend
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram, TelegramUser
from tests.fakes.whatsapp import FakeGraph
from tests.web.pages.conftest import DESKTOP, Troubles, customer_writes, open_page, sign_in
from web.app import create_app


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


#: A real 1x1 PNG, which Chromium draws.
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _chunk(b"IDAT", zlib.compress(b"\x00\xff\x80\x00"))
    + _chunk(b"IEND", b"")
)
PDF = b"%PDF-1.4 price list"


@pytest.fixture
async def served(db: Backend) -> AsyncIterator[str]:
    """The app with its outbox worker sending, so what the browser queues goes out."""
    app = create_app(db.settings(outbox_worker=True), own_database=False)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


async def connect(admin: User, kind: ChannelKind, url: str, credentials: dict) -> channels.Channel:
    pipeline = await pipelines.create_pipeline(actor=admin, name="Messenger", initial_stage="New")
    stage = (await pipelines.list_stages(pipeline_id=pipeline.id))[0]
    return await channels.create_channel(
        actor=admin, vault=Vault(SECRET_KEY.get_secret_value()), kind=kind, name="Salon",
        credentials=credentials, pipeline_id=pipeline.id, stage_id=stage.id, api_base_url=url,
    )  # fmt: skip


def whatsapp(fake: FakeGraph) -> dict[str, str]:
    """Credentials of the fake's number."""
    return {
        "access_token": fake.access_token, "app_secret": "app-secret-123",
        "verify_token": "verify-123", "phone_number_id": fake.phone_number_id,
        "waba_id": fake.waba_id,
    }  # fmt: skip


async def open_dialog(page: Page, user: User, name: str) -> None:
    await sign_in(page, user)
    await page.locator(".dialog-item", has_text=name).click()
    await expect(page.get_by_role("region", name=name)).to_be_visible()


async def until(condition: object) -> None:
    async with asyncio.timeout(5):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_a_photo_sent_from_the_browser_reaches_whatsapp_as_a_media_message(
    browser: Browser, served: str, troubles: Troubles, admin: User, operator: User
) -> None:
    async with FakeGraph() as fake:
        channel = await connect(admin, ChannelKind.WHATSAPP, f"{fake.url}/v21.0", whatsapp(fake))
        await customer_writes(
            channel, "Ann", ["Can you show me the colours?"], user_id="447700900123"
        )
        async for page in open_page(browser, served, troubles, DESKTOP):
            await open_dialog(page, operator, "Ann")
            await page.get_by_label("Attach a photo or document").set_input_files(
                {"name": "colours.png", "mimeType": "image/png", "buffer": PNG}
            )
            await expect(page.locator("[data-attached]")).to_contain_text("colours.png")
            box = page.get_by_label("Reply to Ann")
            await expect(box).to_have_attribute("placeholder", "Add a caption…")
            await box.fill("Our spring colours")
            await box.press("Enter")
            bubble = page.locator(".bubble-out")
            await expect(bubble.locator("img.bubble-photo")).to_be_visible()
            await expect(bubble).to_contain_text("Our spring colours")
            await until(lambda: fake.sent)
            await expect(bubble.locator(".delivery")).to_have_attribute("title", "Sent")
            # the photo shows from our own copy (a PNG Chromium can decode: no placeholder)
            await expect(bubble.locator(".bubble-photo-missing")).to_have_count(0)
        [body] = fake.sent.values()
        [media] = fake.media.values()
    assert body["type"] == "image" and body["to"] == "447700900123"
    assert body["image"] == {"id": media.id, "caption": "Our spring colours"}
    assert (media.content, media.mime_type) == (PNG, "image/png")
    sent = await Message.get(direction="out")
    assert (sent.kind, sent.status, sent.author_user_id) == ("image", "sent", operator.id)  # type: ignore[attr-defined]


async def test_a_whatsapp_customers_photo_shows_in_the_dialog(
    browser: Browser, served: str, troubles: Troubles, admin: User, operator: User
) -> None:
    """The bubble's image is fetched from Meta through our media endpoint and drawn."""
    async with FakeGraph() as fake:
        channel = await connect(admin, ChannelKind.WHATSAPP, f"{fake.url}/v21.0", whatsapp(fake))
        media_id = fake.add_media(PNG, "image/png")
        sender = Sender(external_id="447700900125", name="Bea", phone="447700900125")
        photo = Inbound(sender=sender, chat_id=sender.external_id, external_id="wamid.photo",
                        kind="image", text="this colour", payload={"id": media_id})  # fmt: skip
        await receive(channel=channel, message=photo)
        async for page in open_page(browser, served, troubles, DESKTOP):
            await open_dialog(page, operator, "Bea")
            bubble = page.locator(".bubble-in", has_text="this colour")
            image = bubble.locator("img.bubble-photo")
            await expect(image).to_be_visible()
            await expect(bubble.locator(".bubble-photo-missing")).to_have_count(0)
            width = await image.evaluate("img => img.complete && img.naturalWidth")
            assert width == 1  # the 1x1 PNG, decoded
        assert len(fake.calls_to("download")) >= 1


async def test_a_document_sent_from_the_browser_reaches_telegram(
    browser: Browser, served: str, troubles: Troubles, admin: User, operator: User
) -> None:
    async with FakeTelegram() as fake:
        channel = await connect(admin, ChannelKind.TELEGRAM, fake.url, {"token": DEFAULT_TOKEN})
        # the fake numbers the chat's messages, so the customer's first comes from it too
        update = fake.text_update(TelegramUser(id=901, first_name="Mila"), "Your prices?")
        sender = Sender(external_id="901", name="Mila")
        external_id = f"901:{update['message']['message_id']}"
        inbound = Inbound(
            sender=sender, chat_id="901", external_id=external_id, text="Your prices?"
        )
        await receive(channel=channel, message=inbound)
        async for page in open_page(browser, served, troubles, DESKTOP):
            await open_dialog(page, operator, "Mila")
            await page.get_by_label("Attach a photo or document").set_input_files(
                {"name": "price list.pdf", "mimeType": "application/pdf", "buffer": PDF}
            )
            await page.get_by_role("button", name="Remove the file").click()
            await expect(page.locator("[data-attached]")).to_be_hidden()
            await page.get_by_label("Attach a photo or document").set_input_files(
                {"name": "price list.pdf", "mimeType": "application/pdf", "buffer": PDF}
            )
            await page.get_by_role("button", name="Send").click()  # no caption needed
            link = page.locator(".bubble-out a.bubble-document")
            await expect(link).to_have_text(re.compile("price list.pdf"))
            await until(lambda: fake.calls_to("sendDocument"))
            await expect(page.locator(".bubble-out .delivery")).to_have_attribute("title", "Sent")
            async with page.expect_download() as download:
                await link.click()
            path = await (await download.value).path()
            assert path.read_bytes() == PDF
        [stored] = fake.messages.values()
    assert stored["document"]["file_name"] == "price list.pdf"
    assert fake.files[stored["document"]["file_id"]].content == PDF
    assert not fake.calls_to("sendMessage")


async def test_a_file_the_platform_would_refuse_is_an_inline_error(
    page: Page, troubles: Troubles, admin: User, operator: User
) -> None:
    # nothing is ever sent: the file is refused before it is queued
    channel = await connect(
        admin, ChannelKind.WHATSAPP, "http://127.0.0.1:9/v21.0", whatsapp(FakeGraph())
    )
    await customer_writes(channel, "Ann", ["Hi"], user_id="447700900124")
    troubles.allow_status(422)
    await open_dialog(page, operator, "Ann")
    await page.get_by_label("Attach a photo or document").set_input_files(
        {"name": "cat.gif", "mimeType": "image/gif", "buffer": b"GIF89a..."}
    )
    await page.get_by_label("Reply to Ann").press("Enter")
    error = page.get_by_role("alert")
    await expect(error).to_contain_text("WhatsApp does not take image/gif files")
    await expect(page.locator("[data-attached]")).to_contain_text("cat.gif")  # kept to fix
    assert await Message.filter(direction="out").count() == 0
