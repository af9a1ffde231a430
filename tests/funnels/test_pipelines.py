"""Pipelines and stages: every rule of the Deals guide, through the HTTP API."""

from core.models import Event
from funnels.models import StageKind
from tests.conftest import Api


async def make_pipeline(api: Api, name: str = "Sales", **extra) -> dict:
    status, body = await api.post("/api/v1/pipelines", {"name": name, **extra})
    assert status == 201, body
    return body


async def sales_setup(api: Api) -> dict:
    """The deal tests' world: pipeline Sales (New, Talks 40%, Won, Lost) and the contacts
    Ann Lee (with a phone) and Bob Stone; ids by name."""
    pipeline = await make_pipeline(api)
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    url = f"/api/v1/pipelines/{pipeline['id']}/stages"
    stages["Talks"] = (await api.post(url, {"name": "Talks", "probability": 40}))[1]["id"]
    ann = (await api.post("/api/v1/contacts", {"name": "Ann Lee", "phone": "+14155552671"}))[1]
    bob = (await api.post("/api/v1/contacts", {"name": "Bob Stone"}))[1]
    return {"pipeline": pipeline["id"], "stages": stages, "ann": ann["id"], "bob": bob["id"]}


async def test_new_pipeline_has_initial_won_and_lost_stages(api: Api) -> None:
    body = await make_pipeline(api, initial_stage="Pending", initial_probability=20)
    stages = [(s["name"], s["probability"], s["kind"]) for s in body["stages"]]
    assert stages == [("Pending", 20, "open"), ("Won", 100, "won"), ("Lost", 0, "lost")]
    assert body["color"].startswith("#")


async def test_at_most_ten_pipelines(api: Api) -> None:
    for i in range(10):
        await make_pipeline(api, f"P{i}")
    status, body = await api.post("/api/v1/pipelines", {"name": "Eleventh"})
    assert status == 409
    assert body["error"]["code"] == "limit_reached"
    assert "10" in body["error"]["message"]
    status, listed = await api.get("/api/v1/pipelines")
    assert len(listed) == 10


async def test_rename_recolour_and_validate(api: Api) -> None:
    pipeline = await make_pipeline(api)
    status, body = await api.patch(
        f"/api/v1/pipelines/{pipeline['id']}", {"name": "Bookings", "color": "#AABBCC"}
    )
    assert status == 200
    assert (body["name"], body["color"]) == ("Bookings", "#aabbcc")
    status, body = await api.patch(f"/api/v1/pipelines/{pipeline['id']}", {"color": "red"})
    assert status == 422 and body["error"]["field"] == "color"
    status, body = await api.patch(f"/api/v1/pipelines/{pipeline['id']}", {"name": "  "})
    assert status == 422 and body["error"]["field"] == "name"


async def test_reorder_pipelines_needs_every_id_once(api: Api) -> None:
    ids = [(await make_pipeline(api, n))["id"] for n in ("A", "B", "C")]
    status, body = await api.put("/api/v1/pipelines/order", {"ids": ids[::-1]})
    assert status == 200
    assert [p["name"] for p in body] == ["C", "B", "A"]
    status, body = await api.put("/api/v1/pipelines/order", {"ids": ids[:2]})
    assert status == 422 and body["error"]["field"] == "pipeline_ids"
    _, listed = await api.get("/api/v1/pipelines")
    assert [p["name"] for p in listed] == ["C", "B", "A"]


async def test_only_empty_pipeline_can_be_deleted(api: Api) -> None:
    pipeline = await make_pipeline(api)
    _, contact = await api.post("/api/v1/contacts", {"name": "Ann"})
    _, deal = await api.post(
        "/api/v1/deals", {"contact_ids": [contact["id"]], "pipeline_id": pipeline["id"]}
    )
    status, body = await api.delete(f"/api/v1/pipelines/{pipeline['id']}")
    assert status == 409 and body["error"]["field"] == "pipeline_id"
    assert (await api.delete(f"/api/v1/deals/{deal['id']}"))[0] == 204
    assert (await api.delete(f"/api/v1/pipelines/{pipeline['id']}"))[0] == 204
    assert (await api.get(f"/api/v1/pipelines/{pipeline['id']}"))[0] == 404


async def test_stage_probability_is_validated(api: Api) -> None:
    pipeline = await make_pipeline(api)
    url = f"/api/v1/pipelines/{pipeline['id']}/stages"
    for bad in (-1, 101, "high"):
        status, body = await api.post(url, {"name": "X", "probability": bad})
        assert status == 422 and body["error"]["field"] == "probability"
    status, body = await api.post(url, {"name": "Talks", "probability": 40})
    assert status == 201 and body["probability"] == 40


async def test_stages_are_inserted_before_won_and_reordered(api: Api) -> None:
    pipeline = await make_pipeline(api, initial_stage="First")
    url = f"/api/v1/pipelines/{pipeline['id']}/stages"
    second = (await api.post(url, {"name": "Second", "probability": 30}))[1]
    zeroth = (await api.post(url, {"name": "Zeroth", "probability": 5, "position": 0}))[1]
    _, body = await api.get(f"/api/v1/pipelines/{pipeline['id']}")
    assert [s["name"] for s in body["stages"]] == ["Zeroth", "First", "Second", "Won", "Lost"]
    assert [s["position"] for s in body["stages"]] == [0, 1, 2, 3, 4]
    first = pipeline["stages"][0]["id"]
    status, body = await api.put(f"{url}/order", {"ids": [second["id"], first, zeroth["id"]]})
    assert status == 200
    assert [s["name"] for s in body] == ["Second", "First", "Zeroth", "Won", "Lost"]
    won = pipeline["stages"][1]["id"]
    status, body = await api.put(f"{url}/order", {"ids": [won, first, zeroth["id"]]})
    assert status == 422 and body["error"]["field"] == "stage_ids"


async def test_won_and_lost_are_fixed(api: Api) -> None:
    pipeline = await make_pipeline(api)
    by_kind = {s["kind"]: s for s in pipeline["stages"]}
    for kind, fixed in ((StageKind.WON, 100), (StageKind.LOST, 0)):
        stage_id = by_kind[kind.value]["id"]
        status, body = await api.delete(f"/api/v1/stages/{stage_id}")
        assert status == 409 and body["error"]["field"] == "stage_id"
        status, body = await api.patch(f"/api/v1/stages/{stage_id}", {"probability": 50})
        assert status == 422 and body["error"]["field"] == "probability"
        status, body = await api.patch(f"/api/v1/stages/{stage_id}", {"name": "Closed"})
        assert status == 200 and body["probability"] == fixed


async def test_only_empty_stage_can_be_deleted_and_one_open_stage_stays(api: Api) -> None:
    pipeline = await make_pipeline(api)
    first = pipeline["stages"][0]["id"]
    status, body = await api.delete(f"/api/v1/stages/{first}")
    assert status == 409 and "at least one open stage" in body["error"]["message"]
    url = f"/api/v1/pipelines/{pipeline['id']}/stages"
    extra = (await api.post(url, {"name": "Extra", "probability": 50}))[1]
    _, contact = await api.post("/api/v1/contacts", {"name": "Bob"})
    _, deal = await api.post(
        "/api/v1/deals",
        {"contact_ids": [contact["id"]], "pipeline_id": pipeline["id"], "stage_id": extra["id"]},
    )
    status, body = await api.delete(f"/api/v1/stages/{extra['id']}")
    assert status == 409 and "without deals" in body["error"]["message"]
    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": first})
    assert (await api.delete(f"/api/v1/stages/{extra['id']}"))[0] == 204
    _, body = await api.get(f"/api/v1/pipelines/{pipeline['id']}")
    assert [s["position"] for s in body["stages"]] == [0, 1, 2]


async def test_pipeline_changes_are_events(api: Api) -> None:
    pipeline = await make_pipeline(api)
    await api.patch(f"/api/v1/pipelines/{pipeline['id']}", {"name": "Renamed"})
    kinds = [e.kind for e in await Event.all().order_by("id")]
    assert kinds[-2:] == ["pipeline.created", "pipeline.updated"]
    updated = await Event.filter(kind="pipeline.updated").first()
    assert updated.data["changes"] == {"name": {"from": "Sales", "to": "Renamed"}}
