"""Admins connect Altegio companies and remap statuses to stages over the API."""

from core.models import Event, User
from funnels import pipelines
from funnels.models import Pipeline, Stage
from tests.altegio_sync.conftest import stage_of, sync
from tests.asserts import assert_error
from tests.conftest import Api
from tests.fakes.altegio import FakeAltegio

CODES = {404: "not_found", 422: "validation_failed"}


def refused(answer: tuple, status: int, field: str) -> None:
    assert_error(*answer, status, CODES[status], field)


async def test_a_connection_brings_the_standard_funnel(api: Api, connection: dict) -> None:
    assert "partner_token" not in connection and "user_token" not in connection
    assert connection["webhook_path"].startswith(f"/webhooks/altegio/{connection['id']}?secret=")
    pipeline = await Pipeline.get(name="Altegio Records")
    stages = await Stage.filter(pipeline=pipeline).order_by("position", "id")
    assert [s.name for s in stages] == [
        "Pending", "Confirmed", "Arrived", "Did not come", "Won", "Lost"]  # fmt: skip
    status, mapping = await api.get(f"/api/v1/altegio/connections/{connection['id']}/mapping")
    by_id = {s.id: s.name for s in stages}
    assert status == 200
    assert {k: by_id[v] for k, v in mapping.items()} == {
        "pending": "Pending", "confirmed": "Confirmed", "arrived": "Arrived",
        "no_show": "Did not come", "cancelled": "Lost"}  # fmt: skip
    status, listed = await api.get("/api/v1/altegio/connections")
    assert [c["id"] for c in listed] == [connection["id"]]
    assert await Event.filter(kind="altegio.connection_created").count() == 1


async def test_bad_connections_are_refused(api: Api, connection: dict) -> None:
    good = {"company_id": 1, "name": "B", "partner_token": "p", "user_token": "u",
            "timezone": "Europe/Belgrade", "currency": "EUR"}  # fmt: skip
    refused(await api.post("/api/v1/altegio/connections", {**good, "timezone": "Mars/Base"}),
                 422, "timezone")  # fmt: skip
    refused(await api.post("/api/v1/altegio/connections", {**good, "currency": "XYZ"}),
                 422, "currency")  # fmt: skip
    refused(await api.post("/api/v1/altegio/connections",
                                 {**good, "company_id": connection["company_id"]}),
                 422, "company_id")  # fmt: skip
    refused(await api.post("/api/v1/altegio/connections", {**good, "owner_id": 999}),
                 404, "owner_id")  # fmt: skip
    assert await Pipeline.filter(name="Altegio Records").count() == 1, "nothing half made"


async def test_operators_cannot_manage_connections(
    api: Api, connection: dict, operator: User
) -> None:
    as_operator = await api.as_user(operator)
    assert (await as_operator.get("/api/v1/altegio/connections"))[0] == 403
    path = f"/api/v1/altegio/connections/{connection['id']}/mapping"
    assert (await as_operator.put(path, {"pending": 1}))[0] == 403
    assert (await api.as_token(None).get("/api/v1/altegio/connections"))[0] == 401


async def test_a_status_can_go_to_any_pipelines_stage(
    api: Api, connection: dict, fake_altegio: FakeAltegio, admin: User
) -> None:
    other = await pipelines.create_pipeline(actor=admin, name="VIP", initial_stage="Booked")
    booked = await Stage.get(pipeline=other, name="Booked")
    path = f"/api/v1/altegio/connections/{connection['id']}/mapping"
    status, mapping = await api.put(path, {"confirmed": booked.id})
    assert status == 200 and mapping["confirmed"] == booked.id, mapping
    refused(await api.put(path, {"pending": 99999}), 404, "mapping.pending")
    refused(await api.put(path, {"late": booked.id}), 422, "late")
    fake_altegio.put(fake_altegio.record(1, attendance=2))
    await sync(api, connection)
    assert await stage_of(1) == "Booked"
    assert await Event.filter(kind="altegio.mapping_changed").count() == 1


async def test_edit_pause_and_delete(api: Api, connection: dict, fake_altegio: FakeAltegio) -> None:
    path = f"/api/v1/altegio/connections/{connection['id']}"
    status, body = await api.patch(path, {"name": "Salon 2", "enabled": False})
    assert status == 200 and (body["name"], body["enabled"]) == ("Salon 2", False)
    refused(await api.patch(path, {"timezone": "Nowhere"}), 422, "timezone")
    refused(await api.patch(path, {"enabled": None}), 422, "enabled")
    fake_altegio.put(fake_altegio.record(1, attendance=2))
    await sync(api, connection)
    assert await stage_of(1) == "Confirmed", "a paused connection still pulls when asked"
    assert (await api.delete(path))[0] == 204
    assert (await api.get(path))[0] == 404
    assert await Stage.filter(name="Confirmed").count() == 1, "its deals and funnel stay"
