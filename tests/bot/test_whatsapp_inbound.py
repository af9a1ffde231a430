"""WhatsApp Cloud API webhooks: verified, routed by phone_number_id, stored once."""

import json

from core.events import change
from core.models import Event
from funnels.models import Deal
from inbox.dialogs import queue, set_delivery
from inbox.models import Author, Channel, Contact, ContactIdentity, DeliveryStatus, Dialog, Message
from inbox.service import create_contact
from tests.asserts import assert_error
from tests.bot.conftest import APP_SECRET, VERIFY_TOKEN, drain
from tests.conftest import Api
from tests.fakes.whatsapp import FakeGraph, WhatsAppWebhooks, ctwa_referral, sign, signed

WA_ID = "16505551234"


async def post(anon: Api, payload: dict, secret: str = APP_SECRET):
    body, headers = signed(payload, secret)
    answer = await anon.call("POST", "/webhooks/whatsapp", data=body, headers=headers)
    await drain(anon)
    return answer


async def test_verification_handshake(anon: Api, whatsapp_channel: dict) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    status, body = await anon.get("/webhooks/whatsapp", params=query)
    assert (status, body) == (200, "1158201444")
    status, body = await anon.get("/webhooks/whatsapp", params={**query, "hub.verify_token": "x"})
    assert status == 403 and body["error"]["field"] == "hub.verify_token"


async def test_text_message_creates_contact_dialog_and_deal(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    payload = fake_graph.webhooks.text(WA_ID, "Can I book for Friday?", name="Maria")
    status, _ = await post(anon, payload)
    assert status == 200
    contact = await Contact.get()
    assert (contact.name, contact.phone) == ("Maria", "+16505551234")
    message = await Message.get()
    assert message.text == "Can I book for Friday?"
    assert message.external_id == payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    dialog = await Dialog.get()
    assert dialog.last_inbound_at is not None
    assert (await Deal.get()).title == "Maria"


async def test_text_no_database_can_store_is_cleaned_and_the_message_kept(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    payload = fake_graph.webhooks.text(WA_ID, "Hi\u0000 there \ud83d", name="Ma\u0000ria")
    status, _ = await post(anon, payload)
    assert status == 200
    assert (await Message.get()).text == "Hi there \ufffd"
    assert (await Contact.get()).name == "Maria"


async def test_a_customer_known_by_phone_is_the_same_contact(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    async with change(None):
        known = await create_contact(actor=None, name="Maria Lopez", phone="+16505551234")
    assert (await post(anon, fake_graph.webhooks.text(WA_ID, "Hola", name="Maria")))[0] == 200
    assert await Contact.all().count() == 1
    identity = await ContactIdentity.get()
    assert identity.contact_id == known.id and (await Dialog.get()).contact_id == known.id


async def test_redelivery_and_bad_signature(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    payload = fake_graph.webhooks.text(WA_ID, "hello")
    for _ in range(3):
        assert (await post(anon, payload))[0] == 200
    assert await Message.all().count() == 1 and await Deal.all().count() == 1
    status, body = await post(anon, fake_graph.webhooks.text(WA_ID, "forged"), secret="wrong")
    assert status == 401 and body["error"]["field"] == "X-Hub-Signature-256"
    status, _ = await anon.call("POST", "/webhooks/whatsapp", data=json.dumps(payload).encode())
    assert status == 401
    assert await Message.all().count() == 1


async def test_malformed_json_is_kept_parked_and_unknown_numbers_ignored(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    from bot.models import InboundDelivery

    body = b'{"object": "whatsapp_business_account", "entry": ['
    headers = {"X-Hub-Signature-256": sign(body, APP_SECRET)}
    status, _ = await anon.call("POST", "/webhooks/whatsapp", data=body, headers=headers)
    assert status == 200, "signed by Meta: a refusal would only bring it back"
    [parked] = await InboundDelivery.all()
    assert parked.parked_at is not None and "malformed JSON" in (parked.last_error or "")
    stranger = WhatsAppWebhooks(phone_number_id="999999999").text(WA_ID, "hi")
    status, _ = await post(anon, stranger)
    assert status == 200
    assert await Message.all().count() == 0 and await InboundDelivery.all().count() == 1


async def test_every_inbound_type_is_stored(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    hooks = fake_graph.webhooks
    first = hooks.text(WA_ID, "hi")
    await post(anon, first)
    first_id = first["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    payloads = {
        "image": hooks.image(WA_ID, "media-1", caption="my hair"),
        "document": hooks.document(WA_ID, "media-2", filename="brief.pdf"),
        "audio": hooks.audio(WA_ID, "media-3"),
        "video": hooks.video(WA_ID, "media-4"),
        "location": hooks.location(WA_ID, 38.9, -77.0, name="Salon"),
        "interactive": hooks.button_reply(WA_ID, "yes", "Yes, confirm", context_id=first_id),
        "button": hooks.button(WA_ID, "Reschedule", "RESCHEDULE", context_id=first_id),
        "reaction": hooks.reaction(WA_ID, first_id, "👍"),
    }
    for payload in payloads.values():
        assert (await post(anon, payload))[0] == 200
    stored = {m.kind: m for m in await Message.all()}
    assert set(payloads) <= set(stored)
    assert stored["image"].text == "my hair" and stored["image"].payload["id"] == "media-1"
    assert stored["document"].payload["filename"] == "brief.pdf"
    assert stored["location"].payload["latitude"] == 38.9
    assert stored["interactive"].text == "Yes, confirm"
    assert stored["button"].payload["payload"] == "RESCHEDULE"
    assert stored["reaction"].text == "👍"
    assert await Deal.all().count() == 1


async def test_ad_click_id_and_business_scoped_user_id_are_kept(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    payload = fake_graph.webhooks.text(
        WA_ID, "I saw your ad", user_id="US.13491208655302741918", referral=ctwa_referral("CLID-1")
    )
    await post(anon, payload)
    identity = await ContactIdentity.get()
    assert identity.ctwa_clid == "CLID-1"
    assert identity.user_id == "US.13491208655302741918"
    assert (await Message.get()).payload["referral"]["ctwa_clid"] == "CLID-1"


async def test_statuses_move_forward_only_and_are_deduplicated(
    anon: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    await post(anon, fake_graph.webhooks.text(WA_ID, "hi"))
    dialog = await Dialog.get()
    async with change(None) as batch:
        sent = await queue(batch, dialog=dialog, author=Author.OPERATOR, text="Hello Maria")
        await set_delivery(
            batch, message=sent, status=DeliveryStatus.SENT, external_id="wamid.OUT1"
        )
    hooks = fake_graph.webhooks
    for status in ("read", "delivered", "delivered"):
        assert (await post(anon, hooks.status("wamid.OUT1", status, WA_ID)))[0] == 200
    assert (await Message.get(id=sent.id)).status == DeliveryStatus.READ
    assert await Event.filter(kind="message.status").count() == 2  # sent, read
    await post(anon, hooks.status("wamid.OUT1", "failed", WA_ID, error_code=131026))
    failed = await Message.get(id=sent.id)
    assert failed.status == DeliveryStatus.FAILED and failed.error.startswith("131026")
    assert (await Channel.get()).id == whatsapp_channel["id"]


async def test_a_customers_photo_is_fetched_from_meta_on_demand(
    anon: Api, api: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    """The media id Meta sent is turned into its short-lived URL and fetched, both with
    the channel's token; the inbox gets the bytes with their type."""
    media_id = fake_graph.add_media(b"\xff\xd8 a jpeg", "image/jpeg")
    await post(anon, fake_graph.webhooks.image(WA_ID, media_id, caption="my hair"))
    message = await Message.get()
    bearer = {"Authorization": f"Bearer {api.token}"}
    answer = await api.client.get(f"/api/v1/messages/{message.id}/media", headers=bearer)
    assert answer.status == 200 and answer.content_type == "image/jpeg"
    assert await answer.read() == b"\xff\xd8 a jpeg"
    [lookup] = fake_graph.calls_to("media")
    assert lookup.path == f"/v21.0/{media_id}" and len(fake_graph.calls_to("download")) == 1


async def test_media_meta_refuses_or_cannot_serve_is_an_error_shape_never_a_500(
    anon: Api, api: Api, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    """An unknown or expired media id is a 404; Meta failing or down a 502; each is the
    JSON error shape naming the message."""
    await post(anon, fake_graph.webhooks.image(WA_ID, "media-never-stored"))
    media = f"/api/v1/messages/{(await Message.get()).id}/media"
    status, body = await api.get(media)
    assert_error(status, body, 404, "not_found", "message_id")
    assert "no longer serves" in body["error"]["message"]
    fake_graph.fail_next(131000, endpoint="media")
    assert_error(*await api.get(media), 502, "upstream_unavailable", "message_id")
    await fake_graph.close()  # down: nothing listens on its port any more
    assert_error(*await api.get(media), 502, "upstream_unavailable", "message_id")
