"""Photos and documents: uploaded through the API, checked against each platform's types
and sizes, kept by their digest, and sent by the same outbox as text (sendPhoto and
sendDocument on Telegram; a media upload then a media message on WhatsApp)."""

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import FormData

from bot.outbox import OutboxWorker
from bot.senders import TIMEOUTS
from core.models import Event
from inbox.attachments import LARGEST, MB
from inbox.models import Message, Outbox
from tests.asserts import assert_error
from tests.bot.conftest import MakeWorker
from tests.bot.test_outbox import CHAT, WA_ID, make_due, open_chat
from tests.conftest import Api, Backend
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeGraph
from web.api import BODY_LIMIT
from web.app import UPLOAD_OVERHEAD

JPEG = b"\xff\xd8\xff\xe0" + b"fake jpeg body " * 20
PNG = b"\x89PNG\r\n\x1a\n" + b"fake png body " * 20
PDF = b"%PDF-1.4 fake invoice " * 20


def form(
    content: bytes, name: str, content_type: str | None, caption: str | None = None
) -> FormData:
    data = FormData(quote_fields=False)  # names as browsers send them, not percent-encoded
    data.add_field("file", io.BytesIO(content), filename=name, content_type=content_type)
    if caption is not None:
        data.add_field("caption", caption)
    return data


async def upload(
    api: Api, dialog_id: int, content: bytes, name: str, content_type: str | None, **extra: str
) -> tuple[int, dict]:
    return await api.post(
        f"/api/v1/dialogs/{dialog_id}/media", data=form(content, name, content_type, **extra)
    )


async def sent(api: Api, dialog_id: int, *args: object, **extra: str) -> dict:
    status, body = await upload(api, dialog_id, *args, **extra)  # type: ignore[arg-type]
    assert status == 201, body
    return body


# -- both channels --------------------------------------------------------------------------


async def test_a_photo_reaches_telegram_by_send_photo(
    api: Api, db: Backend, telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    queued = await sent(api, dialog.id, JPEG, "nails.jpg", "image/jpeg", caption="Your set")
    digest = hashlib.sha256(JPEG).hexdigest()
    assert (queued["kind"], queued["text"], queued["status"]) == ("image", "Your set", "queued")
    assert queued["payload"] == {
        "sha256": digest, "size": len(JPEG), "mime_type": "image/jpeg", "file_name": "nails.jpg",
    }  # fmt: skip
    assert (db.media_dir / digest[:2] / digest).read_bytes() == JPEG
    [event] = await Event.filter(kind="message.queued")
    assert event.data["message_id"] == queued["id"]

    assert await worker.run_once() == 1
    [call] = fake_telegram.calls_to("sendPhoto")
    assert call.params["chat_id"] == CHAT and call.params["caption"] == "Your set"
    [(chat, message_id)] = fake_telegram.messages
    photo_id = fake_telegram.messages[(chat, message_id)]["photo"][0]["file_id"]
    assert fake_telegram.files[photo_id].content == JPEG
    message = await Message.get(id=queued["id"])
    assert (message.status, message.external_id) == ("sent", f"{chat}:{message_id}")
    assert not fake_telegram.calls_to("sendMessage")


async def test_a_document_reaches_telegram_by_send_document_with_its_name(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    # a browser that knows no type sends octet-stream: the name says it is a PDF
    queued = await sent(api, dialog.id, PDF, "../../Invoice 12.pdf", "application/octet-stream")
    assert queued["kind"] == "document" and queued["text"] == ""
    assert queued["payload"]["file_name"] == "Invoice 12.pdf"
    assert queued["payload"]["mime_type"] == "application/pdf"
    await worker.run_once()
    [call] = fake_telegram.calls_to("sendDocument")
    assert "caption" not in call.params
    [stored] = fake_telegram.messages.values()
    assert stored["document"]["file_name"] == "Invoice 12.pdf"
    assert fake_telegram.files[stored["document"]["file_id"]].content == PDF
    assert (await Message.get(id=queued["id"])).status == "sent"


async def test_a_photo_reaches_whatsapp_as_uploaded_media(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, worker: OutboxWorker
) -> None:
    dialog = await open_chat(whatsapp_channel, WA_ID)
    queued = await sent(api, dialog.id, PNG, "hair.png", "image/png", caption="Before/after")
    assert queued["kind"] == "image"
    assert await worker.run_once() == 1
    [up] = fake_graph.calls_to("upload")
    assert up.path == f"/v21.0/{fake_graph.phone_number_id}/media"
    assert (up.body["messaging_product"], up.body["type"]) == ("whatsapp", "image/png")
    [media] = fake_graph.media.values()
    assert (media.content, media.mime_type, media.file_name) == (PNG, "image/png", "hair.png")
    [(wamid, body)] = fake_graph.sent.items()
    assert body["to"] == WA_ID and body["type"] == "image"
    assert body["image"] == {"id": media.id, "caption": "Before/after"}
    message = await Message.get(id=queued["id"])
    assert (message.status, message.external_id) == ("sent", wamid)


async def test_a_document_reaches_whatsapp_with_its_file_name(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, worker: OutboxWorker
) -> None:
    dialog = await open_chat(whatsapp_channel, WA_ID)
    await sent(api, dialog.id, PDF, "price list.pdf", "application/pdf")
    await worker.run_once()
    [media] = fake_graph.media.values()
    [body] = fake_graph.sent.values()
    assert body["type"] == "document"
    assert body["document"] == {"id": media.id, "filename": "price list.pdf"}


async def test_the_media_endpoint_serves_our_own_files(
    api: Api, operator: object, telegram_channel: dict
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    photo = await sent(api, dialog.id, JPEG, "nails.jpg", "image/jpeg")
    document = await sent(api, dialog.id, PDF, "Счёт.pdf", "application/pdf")
    as_operator = await api.as_user(operator)  # type: ignore[arg-type]
    async with as_operator.client.get(
        f"/api/v1/messages/{photo['id']}/media",
        headers={"Authorization": f"Bearer {as_operator.token}"},
    ) as answer:
        assert answer.status == 200 and await answer.read() == JPEG
        assert answer.headers["Content-Type"] == "image/jpeg"
        assert answer.headers["Content-Disposition"].startswith("inline;")
    async with api.client.get(
        f"/api/v1/messages/{document['id']}/media",
        headers={"Authorization": f"Bearer {api.token}"},
    ) as answer:
        assert answer.status == 200 and await answer.read() == PDF
        assert answer.headers["Content-Disposition"] == (
            "attachment; filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82.pdf"
        )


async def test_the_same_file_twice_is_kept_once(
    api: Api, db: Backend, telegram_channel: dict
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    first = await sent(api, dialog.id, JPEG, "a.jpg", "image/jpeg")
    second = await sent(api, dialog.id, JPEG, "b.jpg", "image/jpeg")
    assert first["payload"]["sha256"] == second["payload"]["sha256"]
    assert [p.name for p in db.media_dir.rglob("*") if p.is_file()].count(
        first["payload"]["sha256"]
    ) == 1


# -- limits, checked before anything is queued ------------------------------------------------


async def test_each_platforms_limits_are_enforced_before_queuing(
    api: Api, whatsapp_channel: dict, telegram_channel: dict
) -> None:
    whatsapp = await open_chat(whatsapp_channel, WA_ID)
    telegram = await open_chat(telegram_channel, str(CHAT))
    big_photo = b"\xff\xd8\xff" + bytes(5 * MB)
    cases = [
        (whatsapp, big_photo, "big.jpg", "image/jpeg", "at most 5 MB"),
        (whatsapp, b"GIF89a...", "cat.gif", "image/gif", "does not take image/gif"),
        (whatsapp, b"PK\x03\x04", "site.zip", "application/zip", "does not take"),
        (telegram, b"\xff\xd8\xff" + bytes(10 * MB), "huge.jpg", "image/jpeg", "at most 10 MB"),
        (telegram, PDF, "fake.jpg", "image/jpeg", "not the image/jpeg it claims"),
        (telegram, b"", "empty.pdf", "application/pdf", "empty"),
    ]
    for dialog, content, name, content_type, reason in cases:
        status, body = await upload(api, dialog.id, content, name, content_type)
        assert_error(status, body, 422, "validation_failed", "file")
        assert reason in body["error"]["message"], (name, body)
    # a photo just under WhatsApp's limit goes; so does any file type on Telegram
    await sent(api, whatsapp.id, big_photo[: 5 * MB], "ok.jpg", "image/jpeg")
    await sent(api, telegram.id, b"PK\x03\x04", "site.zip", "application/zip")
    assert await Message.filter(direction="out").count() == 2
    assert await Outbox.all().count() == 2


async def test_bad_upload_requests_get_clear_errors(
    api: Api, whatsapp_channel: dict, telegram_channel: dict
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    path = f"/api/v1/dialogs/{dialog.id}/media"
    status, body = await upload(api, dialog.id, JPEG, "a.jpg", "image/jpeg", caption="x" * 1025)
    assert_error(status, body, 422, "validation_failed", "caption")
    status, body = await api.post(path, data={"caption": "only a caption"})
    assert_error(status, body, 400, "malformed_form", "body")  # urlencoded, not multipart
    status, body = await api.post(path, json={"file": "a.jpg"})
    assert_error(status, body, 400, "malformed_form", "body")
    no_file = FormData(default_to_multipart=True)
    no_file.add_field("caption", "hello")
    status, body = await api.post(path, data=no_file)
    assert_error(status, body, 422, "validation_failed", "file")
    status, body = await api.post(
        path, data=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert status == 400, body
    status, body = await upload(api, 999_999, JPEG, "a.jpg", "image/jpeg")
    assert_error(status, body, 404, "not_found", "dialog_id")
    closed = await open_chat(whatsapp_channel, WA_ID, inbound_hours_ago=30)
    status, body = await upload(api, closed.id, JPEG, "a.jpg", "image/jpeg")
    assert_error(status, body, 409, "window_closed")
    assert await Message.filter(direction="out").count() == 0


async def test_the_body_limit_is_the_largest_upload_and_json_stays_small(api: Api) -> None:
    app = api.client.server.app
    assert app._client_max_size == LARGEST + UPLOAD_OVERHEAD
    padding = "x" * (BODY_LIMIT + 1)
    status, body = await api.call(
        "POST", "/api/v1/pipelines", data=io.BytesIO(json.dumps({"name": padding}).encode()),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert_error(status, body, 413, "too_large", "body")
    assert str(BODY_LIMIT) in body["error"]["message"]


# -- the outbox's retries and statuses -------------------------------------------------------


async def test_whatsapp_upload_and_send_failures_are_retried(
    api: Api, whatsapp_channel: dict, fake_graph: FakeGraph, worker: OutboxWorker
) -> None:
    """A 5xx of the upload, then a 429-style rate limit of the send: each is a retry of
    the whole send (uploading again), and the message goes queued -> sent."""
    dialog = await open_chat(whatsapp_channel, WA_ID)
    queued = await sent(api, dialog.id, JPEG, "a.jpg", "image/jpeg")
    fake_graph.fail_next(131000, endpoint="upload")
    await worker.run_once()
    row = await Outbox.get(message_id=queued["id"])
    assert (row.state, row.attempts) == ("pending", 1) and "131000" in row.last_error
    assert not fake_graph.sent
    fake_graph.fail_next(130429)
    await make_due()
    await worker.run_once()
    row = await Outbox.get(message_id=queued["id"])
    assert (row.state, row.attempts) == ("pending", 2) and "130429" in row.last_error
    assert (await Message.get(id=queued["id"])).status == "queued"
    await make_due()
    await worker.run_once()
    assert len(fake_graph.calls_to("upload")) == 3
    [body] = fake_graph.sent.values()
    assert body["image"]["id"] == list(fake_graph.media)[-1]
    statuses = await Event.filter(kind="message.status").order_by("id")
    assert [(e.data["message_id"], e.data["status"]) for e in statuses] == [
        (queued["id"], "queued"),  # each wait says why
        (queued["id"], "queued"),
        (queued["id"], "sent"),
    ]


async def test_telegram_flood_wait_holds_a_photo(
    api: Api, telegram_channel: dict, fake_telegram: FakeTelegram, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    queued = await sent(api, dialog.id, JPEG, "a.jpg", "image/jpeg")
    fake_telegram.fail_next("sendPhoto", status=429, retry_after=5)
    before = datetime.now(UTC)
    await worker.run_once()
    row = await Outbox.get(message_id=queued["id"])
    assert row.state == "pending" and row.next_attempt_at >= before + timedelta(seconds=5)
    fake_telegram.fail_next("sendPhoto", status=502)
    await make_due()
    await worker.run_once()
    assert (await Outbox.get(message_id=queued["id"])).attempts == 2
    await make_due()
    await worker.run_once()
    assert len(fake_telegram.calls_to("sendPhoto")) == 3
    assert (await Message.get(id=queued["id"])).status == "sent"


async def test_a_file_gone_from_the_store_fails_the_message(
    api: Api, db: Backend, telegram_channel: dict, worker: OutboxWorker
) -> None:
    dialog = await open_chat(telegram_channel, str(CHAT))
    queued = await sent(api, dialog.id, PDF, "a.pdf", "application/pdf")
    digest = queued["payload"]["sha256"]
    (db.media_dir / digest[:2] / digest).unlink()
    await worker.run_once()
    message = await Message.get(id=queued["id"])
    assert (message.status, message.error) == ("failed", "the file is no longer kept")


async def test_the_outbox_lease_outlasts_a_file_send(make_worker: MakeWorker) -> None:
    """A file may take TIMEOUTS.media to upload: a lease shorter than that (and the
    margin) would let a second worker send it again while the first still uploads."""
    with pytest.raises(ValueError, match="lease must exceed 27"):
        make_worker(lease=timedelta(seconds=TIMEOUTS.media + 1))
    assert make_worker()  # the outbox's own policy (30 s) leaves room
