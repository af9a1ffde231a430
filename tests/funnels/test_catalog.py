"""Deal settings over the API: custom fields, tags and lost reasons."""

from datetime import date

import pytest

from core.models import Event, User
from funnels import catalog, deals, pipelines
from funnels.models import CustomField, Deal, DealFieldValue, LostReason, StageKind, Tag
from inbox import service as contacts
from tests.asserts import assert_error
from tests.conftest import Api

FIELDS = "/api/v1/custom-fields"
TAGS = "/api/v1/tags"
REASONS = "/api/v1/lost-reasons"


async def post(api: Api, path: str, **payload: object) -> dict:
    status, body = await api.post(path, json=payload)
    assert status == 201, body
    return body


async def make_deal(actor: User, **extra: object) -> Deal:
    contact = await contacts.create_contact(actor=actor, name="Ann", phone="+14155552671")
    pipeline = await pipelines.create_pipeline(actor=actor, name="Sales")
    return await deals.create_deal(
        actor=actor, contact_ids=[contact.id], pipeline_id=pipeline.id, **extra
    )


# --- custom fields --------------------------------------------------------------------


async def test_custom_field_crud(api: Api, admin: User) -> None:
    status, listed = await api.get(FIELDS)
    assert (status, listed) == (200, [])

    text = await post(api, FIELDS, name="  Source ", kind="text")
    assert text == {"id": text["id"], "name": "Source", "kind": "text", "position": 0}
    when = await post(api, FIELDS, name="Visit date", kind="date")
    assert (when["kind"], when["position"]) == ("date", 1)

    status, listed = await api.get(FIELDS)
    assert (status, listed) == (200, [text, when])

    status, renamed = await api.patch(f"{FIELDS}/{text['id']}", json={"name": "Lead source"})
    assert status == 200
    assert renamed == text | {"name": "Lead source"}
    stored = await CustomField.get(id=text["id"])
    assert (stored.name, stored.kind.value) == ("Lead source", "text")

    status, body = await api.delete(f"{FIELDS}/{text['id']}")
    assert (status, body) == (204, "")
    status, listed = await api.get(FIELDS)
    assert (status, listed) == (200, [when])

    kinds = await Event.filter(kind__startswith="custom_field.").order_by("id")
    assert [e.kind for e in kinds] == [
        "custom_field.created",
        "custom_field.created",
        "custom_field.updated",
        "custom_field.deleted",
    ]
    assert kinds[0].data == {"id": text["id"], "name": "Source", "kind": "text", "position": 0}
    assert kinds[2].data == {
        "id": text["id"],
        "changes": {"name": {"from": "Source", "to": "Lead source"}},
    }
    assert kinds[3].data == {"id": text["id"], "name": "Lead source"}
    assert all(e.actor_id == admin.id for e in kinds)


async def test_custom_field_duplicate_name_gives_409(api: Api) -> None:
    first = await post(api, FIELDS, name="Source", kind="text")
    other = await post(api, FIELDS, name="Visit", kind="date")
    status, body = await api.post(FIELDS, json={"name": "Source", "kind": "date"})
    assert_error(status, body, 409, "conflict", "name")
    status, body = await api.post(FIELDS, json={"name": " Source  ", "kind": "text"})
    assert_error(status, body, 409, "conflict", "name")
    status, body = await api.patch(f"{FIELDS}/{other['id']}", json={"name": "Source"})
    assert_error(status, body, 409, "conflict", "name")
    assert await CustomField.all().count() == 2
    assert (await CustomField.get(id=other["id"])).name == "Visit"
    # keeping one's own name is not a conflict
    status, same = await api.patch(f"{FIELDS}/{first['id']}", json={"name": "Source"})
    assert (status, same) == (200, first)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Budget", "kind": "number"}, "kind"),
        ({"name": "Budget", "kind": "TEXT"}, "kind"),
        ({"name": "Budget", "kind": None}, "kind"),
        ({"name": "Budget"}, "kind"),
        ({"kind": "text"}, "name"),
        ({"name": "", "kind": "text"}, "name"),
        ({"name": "   ", "kind": "text"}, "name"),
        ({"name": "x" * 101, "kind": "text"}, "name"),
        ({"name": "Budget", "kind": "text", "required": True}, "required"),
    ],
)
async def test_custom_field_validation(api: Api, payload: dict, field: str) -> None:
    status, body = await api.post(FIELDS, json=payload)
    assert_error(status, body, 422, "validation_failed", field)
    assert await CustomField.all().count() == 0


async def test_custom_field_kind_cannot_be_changed(api: Api) -> None:
    created = await post(api, FIELDS, name="Source", kind="text")
    status, body = await api.patch(
        f"{FIELDS}/{created['id']}", json={"name": "Source", "kind": "date"}
    )
    assert_error(status, body, 422, "validation_failed", "kind")
    status, body = await api.patch(f"{FIELDS}/{created['id']}", json={})
    assert_error(status, body, 422, "validation_failed", "name")
    assert (await CustomField.get(id=created["id"])).kind.value == "text"


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_unknown_custom_field_gives_404(api: Api, method: str) -> None:
    status, body = await api.call(method, f"{FIELDS}/4242", json={"name": "X"})
    assert_error(status, body, 404, "not_found", "custom_field_id")


async def test_deleting_custom_field_removes_its_values(api: Api, admin: User) -> None:
    source = await post(api, FIELDS, name="Source", kind="text")
    visit = await post(api, FIELDS, name="Visit", kind="date")
    deal = await make_deal(admin, fields={source["id"]: "Instagram", visit["id"]: "2026-03-01"})
    status, detail = await api.get(f"/api/v1/deals/{deal.id}")
    assert status == 200
    by_name = {f["name"]: f for f in detail["fields"]}
    assert by_name["Source"]["value"] == "Instagram"
    assert by_name["Visit"] == {
        "field_id": visit["id"],
        "name": "Visit",
        "kind": "date",
        "value": "2026-03-01",
    }
    assert await DealFieldValue.filter(field_id=source["id"]).count() == 1

    status, _ = await api.delete(f"{FIELDS}/{source['id']}")
    assert status == 204

    assert await DealFieldValue.filter(field_id=source["id"]).count() == 0
    status, detail = await api.get(f"/api/v1/deals/{deal.id}")
    assert status == 200
    assert [f["name"] for f in detail["fields"]] == ["Visit"]
    remaining = await DealFieldValue.get(deal_id=deal.id)
    assert remaining.value_date == date(2026, 3, 1)
    # the deal itself is untouched
    assert await Deal.filter(id=deal.id).exists()
    # and the field name is free again; a new field starts without values
    again = await post(api, FIELDS, name="Source", kind="text")
    status, detail = await api.get(f"/api/v1/deals/{deal.id}")
    assert again["id"] not in [f["field_id"] for f in detail["fields"]]


# --- tags -----------------------------------------------------------------------------


async def test_tag_crud(api: Api) -> None:
    loyal = await post(api, TAGS, name="Loyal", color="#1A2B3C")
    assert loyal == {"id": loyal["id"], "name": "Loyal", "color": "#1a2b3c"}
    plain = await post(api, TAGS, name="  Cold ")
    assert plain == {"id": plain["id"], "name": "Cold", "color": "#888888"}

    status, listed = await api.get(TAGS)
    assert (status, listed) == (200, [plain, loyal])  # by name

    status, edited = await api.patch(f"{TAGS}/{loyal['id']}", json={"color": "#FFAA00"})
    assert (status, edited) == (200, loyal | {"color": "#ffaa00"})
    status, edited = await api.patch(f"{TAGS}/{loyal['id']}", json={"name": "VIP"})
    assert (status, edited) == (200, {"id": loyal["id"], "name": "VIP", "color": "#ffaa00"})
    status, edited = await api.patch(
        f"{TAGS}/{plain['id']}", json={"name": "Warm", "color": "#00ff00"}
    )
    assert (status, edited) == (200, {"id": plain["id"], "name": "Warm", "color": "#00ff00"})
    stored = await Tag.get(id=loyal["id"])
    assert (stored.name, stored.color) == ("VIP", "#ffaa00")

    status, _ = await api.delete(f"{TAGS}/{loyal['id']}")
    assert status == 204
    status, listed = await api.get(TAGS)
    assert (status, [t["name"] for t in listed]) == (200, ["Warm"])
    kinds = [e.kind for e in await Event.filter(kind__startswith="tag.").order_by("id")]
    assert kinds == [
        "tag.created",
        "tag.created",
        "tag.updated",
        "tag.updated",
        "tag.updated",
        "tag.deleted",
    ]


@pytest.mark.parametrize(
    "color",
    ["red", "#abc", "#gggggg", "aabbcc", "#aabbcc ", "#aabbccdd", "#aabbc", "", "##abcde", 123],
)
async def test_bad_tag_colour_gives_422(api: Api, color: object) -> None:
    status, body = await api.post(TAGS, json={"name": "Loyal", "color": color})
    assert_error(status, body, 422, "validation_failed", "color")
    assert await Tag.all().count() == 0
    existing = await post(api, TAGS, name="Cold", color="#000000")
    status, body = await api.patch(f"{TAGS}/{existing['id']}", json={"color": color})
    assert_error(status, body, 422, "validation_failed", "color")
    assert (await Tag.get(id=existing["id"])).color == "#000000"


@pytest.mark.parametrize("color", ["#000000", "#FFFFFF", "#a1B2c3"])
def test_check_color_accepts_and_lowercases(color: str) -> None:
    assert catalog.check_color(color) == color.lower()


@pytest.mark.parametrize("color", ["#aabbcc\n", " #aabbcc", "#aabbc", "aabbcc", "#ééééé1"])
def test_check_color_rejects(color: str) -> None:
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        catalog.check_color(color)
    assert caught.value.field == "color"


async def test_tag_duplicate_name_gives_409(api: Api) -> None:
    await post(api, TAGS, name="Loyal")
    other = await post(api, TAGS, name="Cold")
    status, body = await api.post(TAGS, json={"name": " Loyal "})
    assert_error(status, body, 409, "conflict", "name")
    status, body = await api.patch(f"{TAGS}/{other['id']}", json={"name": "Loyal"})
    assert_error(status, body, 409, "conflict", "name")
    assert sorted(t.name for t in await Tag.all()) == ["Cold", "Loyal"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({}, "name"),
        ({"name": "A", "colour": "#000000"}, "colour"),
    ],
)
async def test_tag_validation(api: Api, payload: dict, field: str) -> None:
    status, body = await api.post(TAGS, json=payload)
    assert_error(status, body, 422, "validation_failed", field)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_unknown_tag_gives_404(api: Api, method: str) -> None:
    status, body = await api.call(method, f"{TAGS}/4242", json={"color": "#000000"})
    assert_error(status, body, 404, "not_found", "tag_id")


async def test_deleting_tag_removes_it_from_deals(api: Api, admin: User) -> None:
    loyal = await post(api, TAGS, name="Loyal")
    cold = await post(api, TAGS, name="Cold")
    deal = await make_deal(admin)
    status, detail = await api.patch(
        f"/api/v1/deals/{deal.id}", json={"tag_ids": [loyal["id"], cold["id"]]}
    )
    assert status == 200
    assert sorted(t["name"] for t in detail["tags"]) == ["Cold", "Loyal"]
    other = await deals.create_deal(
        actor=admin,
        contact_ids=[(await contacts.create_contact(actor=admin, name="Bob")).id],
        pipeline_id=deal.pipeline_id,
        tag_ids=[loyal["id"]],
    )

    status, _ = await api.delete(f"{TAGS}/{loyal['id']}")
    assert status == 204

    status, detail = await api.get(f"/api/v1/deals/{deal.id}")
    assert status == 200
    assert detail["tags"] == [cold]
    status, detail = await api.get(f"/api/v1/deals/{other.id}")
    assert (status, detail["tags"]) == (200, [])
    assert [t.id for t in await (await Deal.get(id=deal.id)).tags.all()] == [cold["id"]]

    status, _ = await api.delete(f"{TAGS}/{cold['id']}")
    assert status == 204
    status, detail = await api.get(f"/api/v1/deals/{deal.id}")
    assert (status, detail["tags"]) == (200, [])
    # the deals survive their tags
    assert await Deal.all().count() == 2


# --- lost reasons ---------------------------------------------------------------------


async def test_lost_reason_crud(api: Api) -> None:
    price = await post(api, REASONS, name=" Too expensive ")
    assert price == {"id": price["id"], "name": "Too expensive", "position": 0}
    silent = await post(api, REASONS, name="No answer")
    assert silent["position"] == 1
    status, listed = await api.get(REASONS)
    assert (status, listed) == (200, [price, silent])

    status, renamed = await api.patch(f"{REASONS}/{price['id']}", json={"name": "Price"})
    assert (status, renamed) == (200, price | {"name": "Price"})

    status, _ = await api.delete(f"{REASONS}/{silent['id']}")
    assert status == 204
    status, listed = await api.get(REASONS)
    assert (status, listed) == (200, [renamed])
    events = await Event.filter(kind__startswith="lost_reason.").order_by("id")
    assert [e.kind for e in events] == [
        "lost_reason.created",
        "lost_reason.created",
        "lost_reason.updated",
        "lost_reason.deleted",
    ]
    assert events[-1].data == {"id": silent["id"], "name": "No answer"}


async def test_lost_reason_duplicate_and_validation(api: Api) -> None:
    first = await post(api, REASONS, name="Price")
    second = await post(api, REASONS, name="Timing")
    status, body = await api.post(REASONS, json={"name": "Price"})
    assert_error(status, body, 409, "conflict", "name")
    status, body = await api.patch(f"{REASONS}/{second['id']}", json={"name": "Price"})
    assert_error(status, body, 409, "conflict", "name")
    status, body = await api.post(REASONS, json={"name": "  "})
    assert_error(status, body, 422, "validation_failed", "name")
    status, body = await api.post(REASONS, json={"name": "x" * 201})
    assert_error(status, body, 422, "validation_failed", "name")
    status, body = await api.patch(f"{REASONS}/{first['id']}", json={})
    assert_error(status, body, 422, "validation_failed", "name")
    assert [r.name for r in await LostReason.all()] == ["Price", "Timing"]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_unknown_lost_reason_gives_404(api: Api, method: str) -> None:
    status, body = await api.call(method, f"{REASONS}/4242", json={"name": "X"})
    assert_error(status, body, 404, "not_found", "lost_reason_id")


async def test_deleting_lost_reason_clears_it_on_deals(api: Api, admin: User) -> None:
    reason = await post(api, REASONS, name="Price")
    deal = await make_deal(admin)
    lost = next(
        s
        for s in await pipelines.list_stages(pipeline_id=deal.pipeline_id)
        if s.kind == StageKind.LOST
    )
    status, detail = await api.post(
        f"/api/v1/deals/{deal.id}/move",
        json={"stage_id": lost.id, "lost_reason_id": reason["id"]},
    )
    assert status == 200
    assert detail["lost_reason_id"] == reason["id"]

    status, _ = await api.delete(f"{REASONS}/{reason['id']}")
    assert status == 204

    status, detail = await api.get(f"/api/v1/deals/{deal.id}")
    assert status == 200
    assert detail["lost_reason_id"] is None
    assert detail["stage"] == {"id": lost.id, "name": "Lost"}


# --- positions, unknown keys ------------------------------------------------------------


@pytest.mark.parametrize(("path", "extra"), [(FIELDS, {"kind": "text"}), (REASONS, {})])
async def test_new_entries_go_last_after_a_delete(api: Api, path: str, extra: dict) -> None:
    a = await post(api, path, name="A", **extra)
    b = await post(api, path, name="B", **extra)
    c = await post(api, path, name="C", **extra)
    assert [a["position"], b["position"], c["position"]] == [0, 1, 2]
    status, _ = await api.delete(f"{path}/{a['id']}")
    assert status == 204
    d = await post(api, path, name="D", **extra)
    status, listed = await api.get(path)
    assert [x["name"] for x in listed] == ["B", "C", "D"]
    positions = [x["position"] for x in listed]
    assert positions == sorted(set(positions)), positions
    assert d["position"] > c["position"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "key"),
    [
        ("POST", FIELDS, {"name": "Source", "kind": "text", "type": "text"}, "type"),
        ("PATCH", f"{FIELDS}/{{id}}", {"name": "Source", "label": "x"}, "label"),
        ("POST", TAGS, {"name": "Loyal", "colour": "#000000"}, "colour"),
        ("PATCH", f"{TAGS}/{{id}}", {"colour": "#000000"}, "colour"),
        ("POST", REASONS, {"name": "Price", "position": 3}, "position"),
        ("PATCH", f"{REASONS}/{{id}}", {"name": "Price", "title": "x"}, "title"),
    ],
)
async def test_unknown_keys_give_422_naming_the_key(
    api: Api, method: str, path: str, payload: dict, key: str
) -> None:
    if "{id}" in path:
        base = path.split("/{id}")[0]
        target = await post(
            api, base, name="Existing", **({"kind": "text"} if base == FIELDS else {})
        )
        path = path.replace("{id}", str(target["id"]))
    before = await Event.all().count()
    status, body = await api.call(method, path, json=payload)
    assert_error(status, body, 422, "validation_failed", key)
    assert key in body["error"]["message"]
    assert await Event.all().count() == before


@pytest.mark.parametrize("path", [FIELDS, TAGS, REASONS])
async def test_body_must_be_a_json_object(api: Api, path: str) -> None:
    status, body = await api.post(path, json=["Loyal"])
    assert_error(status, body, 422, "validation_failed", "body")
    status, body = await api.post(path, data="{", headers={"Content-Type": "application/json"})
    assert_error(status, body, 400, "malformed_json", "body")
    status, body = await api.post(path)
    assert_error(status, body, 400, "malformed_json", "body")


@pytest.mark.parametrize("path", [FIELDS, TAGS, REASONS])
async def test_operator_cannot_touch_settings(anon: Api, operator: User, path: str) -> None:
    client = await anon.as_user(operator)
    status, body = await client.get(path)
    assert_error(status, body, 403, "forbidden", None)
    status, body = await client.post(path, json={"name": "X", "kind": "text"})
    assert_error(status, body, 403, "forbidden", None)
    assert await Event.filter(kind__endswith=".created").count() == 1  # the operator's user
