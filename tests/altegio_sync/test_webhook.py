"""Altegio's record webhook: verified by the URL's secret, stored, answered, applied by the
intake; redeliveries are dropped and an older change never moves a deal back."""

from bot.models import InboundDelivery
from funnels.models import Booking, BookingStatus, Deal
from tests.altegio_sync.conftest import client, drain, stage_of
from tests.conftest import Api
from tests.fakes.altegio import FakeAltegio


def event(record: dict, status: str = "update", **extra: object) -> dict:
    return {"company_id": record["company_id"], "resource": "record",
            "resource_id": record["id"], "status": status, "data": record, **extra}  # fmt: skip


async def post(anon: Api, connection: dict, body: object, secret: str | None = None) -> tuple:
    path = connection["webhook_path"]
    if secret is not None:
        path = path.split("?secret=")[0] + f"?secret={secret}"
    return await anon.as_token(None).post(path, body)


async def test_a_wrong_secret_is_refused_and_stores_nothing(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    body = event(fake_altegio.record(1))
    status, answer = await post(api, connection, body, secret="guess")
    assert status == 401 and answer["error"]["field"] == "secret", answer
    other = {**connection, "webhook_path": connection["webhook_path"].replace("/1?", "/99?")}
    assert (await post(api, other, body))[0] == 401
    assert (await api.as_token(None).post(connection["webhook_path"].split("?")[0], body))[0] == 422
    assert await InboundDelivery.all().count() == 0


async def test_a_redelivered_event_is_applied_once(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    body = event(fake_altegio.record(1, attendance=2, client=client(1)), status="create")
    for _ in range(2):
        status, answer = await post(api, connection, body)
        assert (status, answer) == (200, {"success": True})
    assert await InboundDelivery.all().count() == 1
    await drain(api)
    assert await Deal.all().count() == 1
    assert await stage_of(1) == "Confirmed"


async def test_an_older_change_arriving_late_does_not_move_the_deal_back(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    created = fake_altegio.record(1, attendance=0, client=client(1), changed="2026-11-20 09:00:00")
    arrived = fake_altegio.record(1, attendance=1, client=client(1), changed="2026-11-20 11:00:00")
    await post(api, connection, event(arrived))
    await post(api, connection, event(created, status="create"))
    await drain(api)
    assert await stage_of(1) == "Arrived"
    rows = await InboundDelivery.all().order_by("id")
    assert [row.processed_at is not None for row in rows] == [True, True]
    assert (await Booking.get(external_id="4564:1")).status == BookingStatus.ARRIVED


async def test_a_delete_event_cancels_and_a_list_of_events_is_taken(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    record = fake_altegio.record(1, attendance=2, client=client(1))
    gone = fake_altegio.record(1, attendance=2, client=client(1), changed="2026-11-21 09:00:00")
    other = {"company_id": 4564, "resource": "client", "resource_id": 5, "status": "update",
             "data": {"id": 5}}  # fmt: skip
    status, _ = await post(api, connection, [event(record, "create"), other, event(gone, "delete")])
    assert status == 200
    assert await InboundDelivery.all().count() == 2, "the client event is not a record's"
    await drain(api)
    assert await stage_of(1) == "Lost"


async def test_bad_events_are_refused_or_parked(
    api: Api, connection: dict, fake_altegio: FakeAltegio
) -> None:
    record = fake_altegio.record(1)
    status, answer = await post(api, connection, {**event(record), "company_id": 1})
    assert status == 422 and answer["error"]["field"] == "company_id", answer
    status, answer = await post(api, connection, ["not an event"])
    assert status == 422, answer
    broken = {**record, "date": "next tuesday"}
    assert (await post(api, connection, event(broken)))[0] == 200
    await drain(api)
    row = await InboundDelivery.get()
    assert row.next_attempt_at is None and "date 'next tuesday'" in (row.last_error or "")
    assert await Deal.all().count() == 0
