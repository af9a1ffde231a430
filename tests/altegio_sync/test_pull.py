"""The pull sync against the fake Altegio API: first full sync, incremental sync, every
attendance value, deletions, a hand-closed deal, and failures that lose nothing."""

from datetime import UTC, date, datetime
from decimal import Decimal

from altegio_sync.models import AltegioConnection
from core.models import Event
from funnels.models import Booking, BookingStatus, Deal, DealContact, Stage
from inbox.models import Contact
from tests.altegio_sync.conftest import client, stage_of, sync
from tests.conftest import Api
from tests.fakes.altegio import FakeAltegio


async def test_a_first_full_sync_pages_through_every_record(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(*(fake_altegio.record(i, client=client(i, f"Client {i}",
                     f"+381 64 123456{i}"), attendance=2) for i in range(1, 6)))  # fmt: skip
    summary = await sync(api, connection, page_size=2)
    assert summary.report()["created"] == 5 and summary.error is None, summary
    calls = fake_altegio.calls_to("/api/v1/records/")
    assert [c.query["page"] for c in calls] == ["1", "2", "3"]
    assert all(c.query["with_deleted"] == "1" and "changed_after" not in c.query for c in calls)
    deal = await Deal.get(booking__external_id="4564:1")
    assert deal.title == "Client 1: Haircut"
    assert (deal.amount, deal.currency, deal.close_date) == (Decimal("25.00"), "EUR",
                                                             date(2026, 12, 3))  # fmt: skip
    booking = await Booking.get(deal_id=deal.id)
    # 10:00 in Belgrade (CET) is 09:00 UTC; the record's datetime claims +00:00 and is ignored
    assert booking.starts_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert (booking.timezone, booking.staff, booking.status) == (
        "Europe/Belgrade", "Maria", BookingStatus.CONFIRMED)  # fmt: skip
    assert booking.services == [{"title": "Haircut", "cost": "25.00"}]
    assert await stage_of(1) == "Confirmed"
    stored = await AltegioConnection.get(id=connection["id"])
    assert stored.watermark == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert stored.last_sync["created"] == 5


async def test_every_attendance_value_has_its_stage(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    for record_id, attendance in [(1, 0), (2, 2), (3, 1), (4, -1)]:
        fake_altegio.put(fake_altegio.record(record_id, attendance=attendance,
                                             client=client(record_id, phone="")))  # fmt: skip
    fake_altegio.put(fake_altegio.record(5, deleted=True, client=client(5, phone="")))
    summary = await sync(api, connection)
    assert summary.report()["created"] == 4 and summary.report()["skipped"] == 1
    assert [await stage_of(i) for i in (1, 2, 3, 4)] == [
        "Pending", "Confirmed", "Arrived", "Did not come"]  # fmt: skip
    assert not await Booking.filter(external_id="4564:5").exists(), "deleted before seen: no deal"
    fake_altegio.put(fake_altegio.record(2, deleted=True, changed="2026-11-21 09:00:00",
                                         client=client(2, phone="")))  # fmt: skip
    summary = await sync(api, connection)
    assert summary.report()["moved"] == 1
    assert await stage_of(2) == "Lost"
    assert (await Booking.get(external_id="4564:2")).status == BookingStatus.CANCELLED


async def test_an_incremental_sync_starts_at_the_watermark(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(fake_altegio.record(1, client=client(1)), fake_altegio.record(2))
    await sync(api, connection)
    moved_on = fake_altegio.record(
        1, attendance=2, date="2026-12-04 11:30:00", changed="2026-11-22 15:00:00", client=client(1)
    )
    fake_altegio.put(moved_on)
    summary = await sync(api, connection)
    last = fake_altegio.calls_to("/api/v1/records/")[-1]
    # the watermark (09:00 Belgrade) minus the 10-minute overlap, as naive local time
    assert last.query["changed_after"] == "2026-11-20 08:50:00"
    assert summary.report()["moved"] == 1 and summary.report()["unchanged"] == 1, summary
    assert await stage_of(1) == "Confirmed"
    booking = await Booking.get(external_id="4564:1")
    assert booking.starts_at == datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
    moved = await Event.filter(kind="deal.stage_changed").order_by("-id").first()
    assert moved is not None and moved.actor_id is None and moved.data["to_stage"] == "Confirmed"
    await sync(api, connection)
    assert fake_altegio.calls_to("/api/v1/records/")[-1].query["changed_after"] == (
        "2026-11-22 14:50:00")  # fmt: skip


async def test_a_deal_closed_by_hand_is_not_dragged_back(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(fake_altegio.record(1, attendance=2, client=client(1)))
    await sync(api, connection)
    deal = await Deal.get(booking__external_id="4564:1")
    won = await Stage.get(pipeline_id=deal.pipeline_id, name="Won")
    status, body = await api.post(f"/api/v1/deals/{deal.id}/move", {"stage_id": won.id})
    assert status == 200, body
    fake_altegio.put(fake_altegio.record(1, attendance=1, changed="2026-11-21 10:00:00",
                                         client=client(1)))  # fmt: skip
    summary = await sync(api, connection)
    assert summary.report()["updated"] == 1
    assert await stage_of(1) == "Won"
    assert (await Booking.get(external_id="4564:1")).status == BookingStatus.ARRIVED


async def test_contacts_match_by_client_id_then_phone(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    status, known = await api.post(
        "/api/v1/contacts", {"name": "Ann (Telegram)", "phone": "+381 64 1234567"}
    )
    assert status == 201, known
    fake_altegio.put(
        fake_altegio.record(1, client=client(77, phone="381641234567")),  # digits, no plus
        fake_altegio.record(2, client=client(77, phone="")),  # same client, phone left out
        fake_altegio.record(3, client=client(78, "Bo", "not a phone")),
        fake_altegio.record(4, client=None),
    )
    summary = await sync(api, connection)
    assert summary.report()["created"] == 4, summary
    contacts = {}
    for record_id in (1, 2, 3, 4):
        deal = await Deal.get(booking__external_id=f"4564:{record_id}")
        contacts[record_id] = (await DealContact.get(deal=deal).select_related("contact")).contact
    assert contacts[1].id == contacts[2].id == known["id"]
    assert contacts[3].name == "Bo" and contacts[3].phone is None
    assert contacts[4].name == "Altegio client (record 4)"
    assert await Contact.all().count() == 3


async def test_429_is_backed_off_not_fatal(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(fake_altegio.record(1))
    fake_altegio.fail_next(429, times=2)
    summary = await sync(api, connection)
    assert summary.error is None and summary.report()["created"] == 1
    assert len(fake_altegio.calls_to("/api/v1/records/")) == 3


async def test_a_refused_token_is_reported_and_changes_nothing(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(fake_altegio.record(1))
    status, body = await api.patch(
        f"/api/v1/altegio/connections/{connection['id']}", {"user_token": "wrong"}
    )
    assert status == 200, body
    summary = await sync(api, connection)
    assert summary.error is not None and "401" in summary.error
    assert "Authentication required" in summary.error
    assert len(fake_altegio.calls_to("/api/v1/records/")) == 1, "a 401 is not retried"
    assert await Deal.all().count() == 0
    status, shown = await api.get(f"/api/v1/altegio/connections/{connection['id']}")
    assert shown["last_sync"]["error"] == summary.error and shown["watermark"] is None
    assert await Event.filter(kind="altegio.sync_failed").count() == 1


async def test_malformed_bodies_are_failures_not_empty_pages(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(fake_altegio.record(1))
    await sync(api, connection)
    before = (await AltegioConnection.get(id=connection["id"])).watermark
    for body in ("garbage", {"success": True, "data": {"id": 1}, "meta": []},
                 {"data": [], "meta": {"total_count": 0}}):  # fmt: skip
        fake_altegio.fail_next(200, body=body)
        summary = await sync(api, connection)
        assert summary.error is not None and "malformed" in summary.error, body
        assert (await AltegioConnection.get(id=connection["id"])).watermark == before


async def test_an_outage_loses_nothing_and_is_reported(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(fake_altegio.record(1, client=client(1)))
    await sync(api, connection)
    fake_altegio.put(
        fake_altegio.record(1, attendance=2, changed="2026-11-21 09:00:00", client=client(1)),
        fake_altegio.record(2, changed="2026-11-21 09:30:00"),
    )
    fake_altegio.fail_next(503, times=6)
    summary = await sync(api, connection)
    assert summary.error is not None and "503" in summary.error
    assert len(fake_altegio.calls_to("/api/v1/records/")) == 1 + 6
    assert (await AltegioConnection.get(id=connection["id"])).watermark == datetime(
        2026, 11, 20, 8, 0, tzinfo=UTC)  # fmt: skip
    summary = await sync(api, connection)
    assert summary.error is None
    assert (summary.report()["moved"], summary.report()["created"]) == (1, 1)
    assert await stage_of(1) == "Confirmed" and await stage_of(2) == "Pending"


async def test_an_unreadable_record_is_counted_and_holds_the_watermark(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    fake_altegio.put(fake_altegio.record(1, changed="2026-11-21 09:00:00"))
    bad = fake_altegio.record(2, changed="2026-11-20 12:00:00")
    bad["attendance"] = 7
    fake_altegio.put(bad)
    summary = await sync(api, connection)
    assert summary.report()["created"] == 1 and summary.report()["errors"] == 1
    assert "unknown attendance 7" in summary.report()["problems"][0]
    watermark = (await AltegioConnection.get(id=connection["id"])).watermark
    assert watermark is not None and watermark < datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
