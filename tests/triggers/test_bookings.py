"""Bookings behind deals: set by hand over the API, shown in templates, and reminders that
count back from the start ("1 day before the booking"), re-planned when it moves."""

from datetime import UTC, datetime, timedelta

from bot.inbound import receive
from core.models import Event
from funnels.models import Deal
from inbox.dialogs import Inbound, Sender
from inbox.models import Author, Channel, DeliveryStatus, Message, Outbox
from tests.conftest import Api
from tests.fakes.telegram import FakeTelegram
from tests.triggers.test_delayed import _send_due
from tests.triggers.test_triggers import add_trigger, move
from triggers.flows import fire
from web.keys import EVENTS, FILES

DAY = 24 * 60


async def _deal_in_inbox(api: Api, channel: dict, inbox_stage: dict) -> dict[str, int]:
    """A deal with a Telegram dialog, still in the channel's first stage."""
    stages = {s.name: s.id for s in inbox_stage["stages"]}
    inbound = Inbound(
        sender=Sender(external_id="4242", name="Ann"), chat_id="4242", external_id="1", text="hi"
    )
    await receive(channel=await Channel.get(id=channel["id"]), message=inbound)
    await api.client.server.app[EVENTS].pump.drain()
    deal_id = (await Deal.get(pipeline_id=inbox_stage["pipeline_id"])).id
    return {"deal": deal_id, **stages}


async def book(api: Api, deal_id: int, starts_at: datetime, **extra: object) -> dict:
    status, body = await api.put(
        f"/api/v1/deals/{deal_id}/booking",
        {"status": "confirmed", "starts_at": starts_at.isoformat(), **extra},
    )
    assert status == 200, body
    await api.client.server.app[EVENTS].pump.drain()
    return body


async def test_booking_api_validates_and_logs(
    api: Api, telegram_channel: dict, inbox_stage: dict
) -> None:
    ids = await _deal_in_inbox(api, telegram_channel, inbox_stage)
    url = f"/api/v1/deals/{ids['deal']}/booking"
    assert (await api.get(url))[0] == 404
    status, body = await api.put(url, {"status": "confirmed", "starts_at": "2026-12-01T10:00:00"})
    assert status == 422 and body["error"]["field"] == "starts_at", body
    status, body = await api.put(
        url, {"status": "confirmed", "starts_at": "2026-12-01T10:00:00Z", "timezone": "Mars/Base"}
    )
    assert status == 422 and body["error"]["field"] == "timezone", body
    status, body = await api.put(url, {"status": "late", "starts_at": "2026-12-01T10:00:00Z"})
    assert status == 422 and body["error"]["field"] == "status", body
    assert (await api.put("/api/v1/deals/999/booking", {"status": "pending",
            "starts_at": "2026-12-01T10:00:00Z"}))[0] == 404  # fmt: skip

    status, body = await api.put(
        url,
        {
            "status": "confirmed",
            "starts_at": "2026-12-01T10:00:00+01:00",
            "timezone": "Europe/Berlin",
            "services": [{"title": "Haircut", "cost": "25.50"}, {"title": "Colouring"}],
            "staff": "Maria",
        },
    )
    assert status == 200, body
    assert body["starts_at"].startswith("2026-12-01T09:00:00")
    assert body["services"] == [{"title": "Haircut", "cost": "25.50"}, {"title": "Colouring"}]
    assert (await api.get(url))[1] == body
    # the same booking again changes nothing; a new time is one logged change
    await api.put(url, {**{k: body[k] for k in ("status", "starts_at", "timezone", "staff")},
                        "services": body["services"]})  # fmt: skip
    await api.put(url, {"status": "arrived", "starts_at": "2026-12-01T11:00:00+01:00",
                        "timezone": "Europe/Berlin", "services": body["services"],
                        "staff": "Maria"})  # fmt: skip
    logged = await Event.filter(kind="deal.booking_changed").order_by("id")
    assert len(logged) == 2
    assert set(logged[1].data["changes"]) == {"status", "starts_at"}
    assert logged[1].data["changes"]["status"] == {"from": "confirmed", "to": "arrived"}


async def test_templates_show_the_booking_in_its_zone(
    api: Api, telegram_channel: dict, inbox_stage: dict
) -> None:
    ids = await _deal_in_inbox(api, telegram_channel, inbox_stage)
    await book(
        api,
        ids["deal"],
        datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        timezone="Europe/Berlin",
        services=[{"title": "Haircut"}, {"title": "Colouring"}],
        staff="Maria",
    )
    template = (
        "See you on {{ booking.date }} at {{ booking.time }}: "
        "{{ booking.services | join(', ') }} with {{ booking.staff }} ({{ booking.status }})"
    )
    status, body = await api.post(
        "/api/v1/triggers/render", {"template": template, "deal_id": ids["deal"]}
    )
    assert status == 200, body
    assert body["text"] == (
        "See you on 2026-12-01 at 10:00: Haircut, Colouring with Maria (confirmed)"
    )
    status, body = await api.post(
        "/api/v1/triggers/evaluate",
        {
            "rule": {
                "when": {"field": "booking.services", "contains": "Colouring"},
                "then": [{"add_tags": ["Colour client"]}],
            },
            "deal_id": ids["deal"],
        },
    )
    assert status == 200 and body["matched"] is True, body


async def test_a_reminder_goes_a_day_before_the_booking(
    api: Api, telegram_channel: dict, inbox_stage: dict, fake_telegram: FakeTelegram
) -> None:
    ids = await _deal_in_inbox(api, telegram_channel, inbox_stage)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await book(api, ids["deal"], starts)
    await add_trigger(
        api,
        ids["Won"],
        "auto_message",
        {"template": "Tomorrow at {{ booking.time }}!", "before_booking_minutes": DAY},
    )
    await move(api, ids["deal"], ids["Won"])
    message = await Message.get(author=Author.BOT)
    assert message.text == f"Tomorrow at {starts:%H:%M}!"
    row = await Outbox.get(message_id=message.id)
    assert row.next_attempt_at == starts - timedelta(days=1)
    await _send_due(fake_telegram, api.client.server.app[FILES])
    assert fake_telegram.calls_to("sendMessage") == [], "not due for two days"
    await Outbox.filter(id=row.id).update(next_attempt_at=datetime.now(UTC))
    await _send_due(fake_telegram, api.client.server.app[FILES])
    assert [c.params["text"] for c in fake_telegram.calls_to("sendMessage")] == [message.text]


async def test_a_moved_booking_replans_the_reminder(
    api: Api, telegram_channel: dict, inbox_stage: dict, fake_telegram: FakeTelegram
) -> None:
    ids = await _deal_in_inbox(api, telegram_channel, inbox_stage)
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await book(api, ids["deal"], first)
    await add_trigger(
        api, ids["Won"], "auto_message", {"template": "See you!", "before_booking_minutes": 60}
    )
    await move(api, ids["deal"], ids["Won"])
    later = first + timedelta(days=2)
    await book(api, ids["deal"], later)  # rescheduled
    await book(api, ids["deal"], later, staff="Maria")  # not a new time: nothing new
    queued = await Outbox.all().order_by("id").prefetch_related("message")
    assert [row.next_attempt_at for row in queued] == [
        first - timedelta(hours=1),
        later - timedelta(hours=1),
    ]
    await Outbox.all().update(next_attempt_at=datetime.now(UTC))
    await _send_due(fake_telegram, api.client.server.app[FILES])
    assert [c.params["text"] for c in fake_telegram.calls_to("sendMessage")] == ["See you!"]
    old = await Message.get(id=queued[0].message.id)
    assert old.status == DeliveryStatus.FAILED and "booking moved" in (old.error or "")


async def test_a_reminder_needs_a_future_booking(
    api: Api, telegram_channel: dict, inbox_stage: dict
) -> None:
    ids = await _deal_in_inbox(api, telegram_channel, inbox_stage)
    trigger = await add_trigger(
        api, ids["Won"], "auto_message", {"template": "Hi", "before_booking_minutes": 60}
    )
    await move(api, ids["deal"], ids["Won"])
    await move(api, ids["deal"], ids["Lost"])
    await book(api, ids["deal"], datetime.now(UTC) - timedelta(hours=1))
    await move(api, ids["deal"], ids["Won"])
    errors = await Event.filter(kind="trigger.failed").order_by("id").values_list("data", flat=True)
    assert [e["error"] for e in errors if e["trigger_id"] == trigger["id"]] == [
        "the deal has no booking to count back from",
        "the booking has already started",
    ]
    assert await Message.filter(author=Author.BOT).count() == 0
    # a booked deal soon after: the reminder goes at once rather than never
    await move(api, ids["deal"], ids["Lost"])
    await book(api, ids["deal"], datetime.now(UTC) + timedelta(minutes=30))
    await move(api, ids["deal"], ids["Won"])
    row = await Outbox.get()
    assert row.next_attempt_at <= datetime.now(UTC)


async def test_delay_and_before_booking_do_not_mix(
    api: Api, telegram_channel: dict, inbox_stage: dict
) -> None:
    stages = {s.name: s.id for s in inbox_stage["stages"]}
    status, body = await api.post(
        f"/api/v1/stages/{stages['Won']}/triggers",
        {
            "kind": "auto_message",
            "config": {"template": "x", "delay_minutes": 5, "before_booking_minutes": 60},
        },
    )
    assert status == 422 and body["error"]["field"] == "config.before_booking_minutes", body


async def test_a_reminder_is_queued_once_per_booking_start(
    api: Api, telegram_channel: dict, inbox_stage: dict
) -> None:
    """Every event that plans the reminder for the same start (the move, the booking's
    own change, either redelivered) meets the unique key (trigger, deal, start)."""
    ids = await _deal_in_inbox(api, telegram_channel, inbox_stage)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await book(api, ids["deal"], starts)
    trigger = await add_trigger(
        api, ids["Won"], "auto_message", {"template": "See you!", "before_booking_minutes": 60}
    )
    await move(api, ids["deal"], ids["Won"])
    planning = await Event.filter(
        deal_id=ids["deal"], kind__in=["deal.stage_changed", "deal.booking_changed"]
    )
    for event in planning * 2:
        await fire(event)
    [row] = await Outbox.all()
    assert row.key == f"trigger:{trigger['id']}:deal:{ids['deal']}:booking:{starts.isoformat()}"
