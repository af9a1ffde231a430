"""Meta Conversions API: settings, which deal events become which Meta events, hashing as
Meta documents it, batches on the fake Graph server, retries, splits and the 7-day drop."""

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.models import Event
from core.phones import normalize_phone
from tests.bot.test_whatsapp_inbound import post
from tests.conftest import SECRET_KEY, Api
from tests.fakes.whatsapp import FakeGraph, ctwa_referral
from tests.funnels.test_pipelines import make_pipeline
from triggers.conversions.models import Conversion, ConversionSettings, ConversionState
from triggers.conversions.service import convert, normalized_email, normalized_phone, sha256
from web.keys import CONVERSIONS, EVENTS

PIXEL = "1234567890"


@pytest.fixture
async def capi(api: Api, fake_graph: FakeGraph) -> dict:
    status, body = await api.put(
        "/api/v1/conversions/settings",
        {
            "pixel_id": PIXEL,
            "is_enabled": True,
            "access_token": fake_graph.access_token,
            "test_event_code": "TEST4242",
            "api_base_url": f"{fake_graph.url}/v21.0",
        },
    )
    assert status == 200, body
    return body


@pytest.fixture
async def sales(api: Api) -> dict:
    pipeline = await make_pipeline(api)
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    ann = (
        await api.post(
            "/api/v1/contacts",
            {"name": "Ann Lee", "phone": "+1 (415) 555-2671", "email": " Ann.Lee@Example.com "},
        )
    )[1]
    return {"pipeline": pipeline["id"], "stages": stages, "ann": ann}


async def report(api: Api) -> None:
    """Dispatch committed events, then send what they queued."""
    app = api.client.server.app
    await app[EVENTS].pump.drain()
    await app[CONVERSIONS].pump.drain()


def sent(fake_graph: FakeGraph) -> list[dict]:
    return [event for batch in fake_graph.conversions for event in batch.data]


# --- hashing: Meta's documented examples ---------------------------------------------------


def test_email_is_trimmed_lowercased_and_hashed_like_metas_example() -> None:
    # customer-information-parameters: John_Smith@gmail.com
    assert normalized_email("  John_Smith@gmail.com ") == "john_smith@gmail.com"
    assert (
        sha256(normalized_email("John_Smith@gmail.com"))
        == "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
    )


def test_phone_is_digits_with_country_code_like_metas_example() -> None:
    # customer-information-parameters: US phone number (650)555-1212 -> 16505551212
    stored = normalize_phone("(650)555-1212", region="US")
    assert stored == "+16505551212"
    assert normalized_phone(stored) == "16505551212"
    assert (
        sha256(normalized_phone(stored))
        == "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
    )
    assert normalized_phone("0044 20 7946 0958") == "442079460958"
    # the two ph values of the "Using the API" example payload
    assert sha256("12345678901") == (
        "254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4"
    )
    assert sha256("14251234567") == (
        "6f4fcb9deaeadc8f9746ae76d97ce1239e98b404efe5da3ee0b7149740f89ad6"
    )


# --- settings -------------------------------------------------------------------------------


async def test_settings_keep_the_token_sealed(api: Api, fake_graph: FakeGraph) -> None:
    url = "/api/v1/conversions/settings"
    assert (await api.get(url))[0] == 404
    status, body = await api.put(url, {"pixel_id": PIXEL, "is_enabled": True})
    assert status == 422 and body["error"]["field"] == "access_token", body
    status, body = await api.put(url, {"pixel_id": "pixel", "is_enabled": True})
    assert status == 422 and body["error"]["field"] == "pixel_id", body
    secret = "EAAG-very-secret-token"
    status, body = await api.put(
        url, {"pixel_id": PIXEL, "is_enabled": False, "access_token": secret}
    )
    assert status == 200, body
    assert secret not in str(body) and body["api_base_url"] == "https://graph.facebook.com/v21.0"
    stored = await ConversionSettings.get()
    assert secret not in stored.credentials
    # saving again without a token keeps the stored one
    status, body = await api.put(
        url, {"pixel_id": PIXEL, "is_enabled": True, "default_currency": "eur"}
    )
    assert status == 200 and body["default_currency"] == "EUR", body
    from core.crypto import Vault

    vault = Vault(SECRET_KEY.get_secret_value())
    assert vault.open((await ConversionSettings.get()).credentials) == {"access_token": secret}
    logged = await Event.filter(kind="conversions.configured").values_list("data", flat=True)
    assert len(logged) == 2 and all(secret not in str(data) for data in logged)
    assert (await api.delete(url))[0] == 204
    assert (await api.get(url))[0] == 404 and await ConversionSettings.all().count() == 0
    assert (await api.delete(url))[0] == 404


# --- what is reported ------------------------------------------------------------------------


async def test_lead_purchase_and_lost_as_chat_events(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph
) -> None:
    before = int(time.time())
    status, deal = await api.post(
        "/api/v1/deals",
        {
            "contact_ids": [sales["ann"]["id"]],
            "pipeline_id": sales["pipeline"],
            "amount": "1200.50",
            "currency": "EUR",
        },
    )
    assert status == 201
    await report(api)
    [batch] = fake_graph.conversions
    assert (batch.pixel_id, batch.test_event_code) == (PIXEL, "TEST4242")
    [lead] = batch.data
    assert lead["event_name"] == "Lead"
    assert lead["event_id"] == f"deal-{deal['id']}-lead"
    assert lead["action_source"] == "chat"
    assert before <= lead["event_time"] <= int(time.time())
    assert lead["user_data"] == {
        "ph": [sha256("14155552671")],
        "em": [sha256("ann.lee@example.com")],
        "external_id": [sha256(str(sales["ann"]["id"]))],
    }
    assert "messaging_channel" not in lead

    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": sales["stages"]["Won"]})
    await report(api)
    purchase = sent(fake_graph)[-1]
    assert purchase["event_name"] == "Purchase"
    assert purchase["event_id"] == f"deal-{deal['id']}-purchase"
    assert purchase["custom_data"] == {
        "pipeline": "Sales",
        "stage": "Won",
        "value": 1200.5,
        "currency": "EUR",
    }

    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": sales["stages"]["Lost"]})
    await report(api)
    lost = sent(fake_graph)[-1]
    assert lost["event_name"] == "ViewContent"
    assert lost["custom_data"] == {"pipeline": "Sales", "stage": "Lost"}
    assert "value" not in lost["custom_data"]
    # won again: the purchase was counted once already, its event id is not reused
    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": sales["stages"]["Won"]})
    await report(api)
    assert [e["event_name"] for e in sent(fake_graph)] == ["Lead", "Purchase", "ViewContent"]
    states = await Conversion.all().values_list("state", flat=True)
    assert set(states) == {ConversionState.SENT}


async def test_purchase_without_amount_uses_the_default_currency(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph
) -> None:
    status, deal = await api.post(
        "/api/v1/deals",
        {
            "contact_ids": [sales["ann"]["id"]],
            "pipeline_id": sales["pipeline"],
            "stage_id": sales["stages"]["Won"],
        },
    )
    assert status == 201
    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": sales["stages"]["New"]})
    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": sales["stages"]["Won"]})
    await report(api)
    purchase = next(e for e in sent(fake_graph) if e["event_name"] == "Purchase")
    assert (purchase["custom_data"]["value"], purchase["custom_data"]["currency"]) == (0.0, "USD")


async def test_click_to_whatsapp_deals_are_business_messaging(
    anon: Api, api: Api, capi: dict, whatsapp_channel: dict, fake_graph: FakeGraph
) -> None:
    payload = fake_graph.webhooks.text(
        "14155550123", "I saw your ad", referral=ctwa_referral("CLID-42")
    )
    await post(anon, payload)
    await report(api)
    [lead] = sent(fake_graph)
    assert lead["event_name"] == "Lead"
    assert lead["action_source"] == "business_messaging"
    assert lead["messaging_channel"] == "whatsapp"
    assert lead["user_data"] == {
        "ctwa_clid": "CLID-42",
        "whatsapp_business_account_id": fake_graph.waba_id,
    }


async def test_updates_in_a_burst_are_one_view(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph
) -> None:
    _, deal = await api.post(
        "/api/v1/deals", {"contact_ids": [sales["ann"]["id"]], "pipeline_id": sales["pipeline"]}
    )
    await api.patch(f"/api/v1/deals/{deal['id']}", {"title": "Sofa"})
    await report(api)
    assert [e["event_name"] for e in sent(fake_graph)] == ["Lead"], "the lead was the news"
    await Conversion.all().update(event_time=datetime.now(UTC) - timedelta(minutes=11))
    for title in ("Sofa and chair", "Two sofas", "Three sofas"):
        await api.patch(f"/api/v1/deals/{deal['id']}", {"title": title})
    await report(api)
    assert [e["event_name"] for e in sent(fake_graph)] == ["Lead", "ViewContent"]


async def test_nothing_is_queued_while_disabled(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph
) -> None:
    await api.put("/api/v1/conversions/settings", {"pixel_id": PIXEL, "is_enabled": False})
    await api.post(
        "/api/v1/deals", {"contact_ids": [sales["ann"]["id"]], "pipeline_id": sales["pipeline"]}
    )
    await report(api)
    assert await Conversion.all().count() == 0
    assert fake_graph.conversions == []


# --- exactly once, retries, batches -----------------------------------------------------------


async def test_an_event_seen_twice_is_queued_and_posted_once(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph
) -> None:
    await api.post(
        "/api/v1/deals", {"contact_ids": [sales["ann"]["id"]], "pipeline_id": sales["pipeline"]}
    )
    await report(api)
    added = await Event.get(kind="deal.contact_added")
    await convert(added)  # dispatched again after a crash
    await report(api)
    assert await Conversion.all().count() == 1
    assert len(sent(fake_graph)) == 1


async def test_temporary_errors_retry_with_the_same_event_id(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph
) -> None:
    fake_graph.fail_next(131000, endpoint="events")
    await api.post(
        "/api/v1/deals", {"contact_ids": [sales["ann"]["id"]], "pipeline_id": sales["pipeline"]}
    )
    await report(api)
    row = await Conversion.get()
    assert (row.state, row.attempts) == (ConversionState.PENDING, 1)
    assert row.next_attempt_at is not None and row.next_attempt_at > datetime.now(UTC)
    assert "131000" in (row.last_error or "")
    await Conversion.filter(id=row.id).update(next_attempt_at=datetime.now(UTC))
    await report(api)
    assert (await Conversion.get()).state == ConversionState.SENT
    ids = [call.body["data"][0]["event_id"] for call in fake_graph.calls_to("events")]
    assert len(ids) == 2 and len(set(ids)) == 1


async def test_a_refused_batch_is_split_so_only_the_bad_event_fails(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph
) -> None:
    for _ in range(3):
        await api.post(
            "/api/v1/deals",
            {"contact_ids": [sales["ann"]["id"]], "pipeline_id": sales["pipeline"]},
        )
    await api.client.server.app[EVENTS].pump.drain()
    fake_graph.fail_next(100, endpoint="events", times=2)  # the batch, then the first alone
    await api.client.server.app[CONVERSIONS].pump.drain()
    calls = fake_graph.calls_to("events")
    assert [len(call.body["data"]) for call in calls] == [3, 1, 1, 1]
    rows = await Conversion.all().order_by("id")
    assert [row.state for row in rows] == [
        ConversionState.FAILED,
        ConversionState.SENT,
        ConversionState.SENT,
    ]
    assert "Invalid parameter" in (rows[0].last_error or "")


async def test_events_older_than_seven_days_are_dropped_with_a_log(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    await api.post(
        "/api/v1/deals", {"contact_ids": [sales["ann"]["id"]], "pipeline_id": sales["pipeline"]}
    )
    await api.client.server.app[EVENTS].pump.drain()
    await Conversion.all().update(event_time=datetime.now(UTC) - timedelta(days=7, minutes=1))
    with caplog.at_level(logging.WARNING, logger="bot.conversions"):
        await api.client.server.app[CONVERSIONS].pump.drain()
    row = await Conversion.get()
    assert row.state == ConversionState.DROPPED and row.next_attempt_at is None
    assert fake_graph.conversions == []
    assert row.event_id in caplog.text and "older than 7 days" in caplog.text


async def test_conversions_are_listed_per_deal(
    api: Api, capi: dict, sales: dict, fake_graph: FakeGraph
) -> None:
    _, one = await api.post(
        "/api/v1/deals", {"contact_ids": [sales["ann"]["id"]], "pipeline_id": sales["pipeline"]}
    )
    await api.post(
        "/api/v1/deals", {"contact_ids": [sales["ann"]["id"]], "pipeline_id": sales["pipeline"]}
    )
    await report(api)
    # one request carried both deals' leads
    assert [len(batch.data) for batch in fake_graph.conversions] == [2]
    status, rows = await api.get("/api/v1/conversions", params={"deal_id": one["id"]})
    assert status == 200
    assert [(r["event_name"], r["state"]) for r in rows] == [("Lead", "sent")]
    assert rows[0]["body"]["user_data"]["ph"] == [sha256("14155552671")]
