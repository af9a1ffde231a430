"""Deals: the Deals guide's rules for fields, moves, contacts, clone and deletes."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.models import Event, User
from funnels.models import Deal, DealContact
from tests.conftest import Api
from tests.funnels.test_pipelines import make_pipeline, sales_setup


@pytest.fixture
async def setup(api: Api) -> dict:
    return await sales_setup(api)


async def create(api: Api, setup: dict, **fields) -> dict:
    payload = {"contact_ids": [setup["ann"]], "pipeline_id": setup["pipeline"], **fields}
    status, body = await api.post("/api/v1/deals", payload)
    assert status == 201, body
    return body


async def test_title_is_prefilled_from_first_contact_and_stage_defaults(
    api: Api, setup: dict, admin: User
) -> None:
    deal = await create(api, setup, contact_ids=[setup["bob"], setup["ann"]])
    assert deal["title"] == "Bob Stone"
    assert deal["stage"]["id"] == setup["stages"]["New"]
    assert deal["owner"]["id"] == admin.id
    assert [c["name"] for c in deal["contacts"]] == ["Bob Stone", "Ann Lee"]
    named = await create(api, setup, title="Wedding package")
    assert named["title"] == "Wedding package"


async def test_required_fields_and_references_are_checked(api: Api, setup: dict) -> None:
    cases = [
        ({"contact_ids": []}, 422, "contact_ids"),
        ({"contact_ids": [9999]}, 404, "contact_ids"),
        ({"pipeline_id": 9999}, 404, "pipeline_id"),
        ({"owner_id": 9999}, 404, "owner_id"),
        ({"title": "   "}, 422, "title"),
        ({"tag_ids": [777]}, 404, "tag_ids"),
    ]
    for fields, status, field in cases:
        payload = {"contact_ids": [setup["ann"]], "pipeline_id": setup["pipeline"], **fields}
        got, body = await api.post("/api/v1/deals", payload)
        assert (got, body["error"]["field"]) == (status, field), fields
    assert await Deal.all().count() == 0
    assert await Event.filter(kind__startswith="deal.").count() == 0


async def test_stage_must_belong_to_the_pipeline(api: Api, setup: dict) -> None:
    other = await make_pipeline(api, "Other")
    status, body = await api.post(
        "/api/v1/deals",
        {
            "contact_ids": [setup["ann"]],
            "pipeline_id": setup["pipeline"],
            "stage_id": other["stages"][0]["id"],
        },
    )
    assert status == 422 and body["error"]["field"] == "stage_id"


async def test_amount_is_exact_decimal_with_an_iso_currency(api: Api, setup: dict) -> None:
    deal = await create(api, setup, amount="0.10", currency="eur")
    assert (deal["amount"], deal["currency"]) == ("0.10", "EUR")
    stored = await Deal.get(id=deal["id"])
    assert stored.amount == Decimal("0.10")
    bad = [
        ({"amount": "1.005", "currency": "USD"}, "amount"),
        ({"amount": "-1", "currency": "USD"}, "amount"),
        ({"amount": "12"}, "currency"),
        ({"amount": "12", "currency": "ABC"}, "currency"),
        ({"amount": "12", "currency": "dollars"}, "currency"),
    ]
    for fields, field in bad:
        status, body = await api.post(
            "/api/v1/deals",
            {"contact_ids": [setup["ann"]], "pipeline_id": setup["pipeline"], **fields},
        )
        assert status == 422 and body["error"]["field"] == field, fields


async def test_update_logs_each_changed_field_with_who_from_and_to(
    api: Api, setup: dict, admin: User, owner: User
) -> None:
    deal = await create(api, setup, amount="100.00", currency="USD")
    status, body = await api.patch(
        f"/api/v1/deals/{deal['id']}",
        {"title": "Renamed", "amount": "150.50", "reference": "ALT-42", "owner_id": owner.id},
    )
    assert status == 200
    assert (body["title"], body["amount"], body["reference"]) == ("Renamed", "150.50", "ALT-42")
    assert body["owner"]["id"] == owner.id
    _, timeline = await api.get(f"/api/v1/deals/{deal['id']}/timeline")
    update = next(e for e in timeline if e["kind"] == "deal.updated")
    assert update["actor_id"] == admin.id
    assert update["data"]["changes"] == {
        "title": {"from": deal["title"], "to": "Renamed"},
        "amount": {"from": "100.00", "to": "150.50"},
        "reference": {"from": None, "to": "ALT-42"},
        "owner_id": {"from": admin.id, "to": owner.id},
    }
    status, body = await api.patch(f"/api/v1/deals/{deal['id']}", {"currency": None})
    assert status == 422 and body["error"]["field"] == "currency"


async def test_move_to_won_sets_close_date_once_and_logs_stage_change(
    api: Api, setup: dict
) -> None:
    deal = await create(api, setup)
    status, body = await api.post(
        f"/api/v1/deals/{deal['id']}/move", {"stage_id": setup["stages"]["Won"]}
    )
    assert status == 200
    assert body["close_date"] == datetime.now(UTC).date().isoformat()
    planned = await create(api, setup, close_date="2027-03-01")
    _, body = await api.post(
        f"/api/v1/deals/{planned['id']}/move", {"stage_id": setup["stages"]["Lost"]}
    )
    assert body["close_date"] == "2027-03-01"
    _, timeline = await api.get(f"/api/v1/deals/{deal['id']}/timeline")
    moved = next(e for e in timeline if e["kind"] == "deal.stage_changed")
    assert moved["data"]["from_stage"] == "New" and moved["data"]["to_stage"] == "Won"
    assert moved["data"]["from_stage_id"] == setup["stages"]["New"]
    assert moved["data"]["to_stage_id"] == setup["stages"]["Won"]


async def test_lost_reason_goes_with_lost_and_is_cleared_on_leaving(api: Api, setup: dict) -> None:
    _, reason = await api.post("/api/v1/lost-reasons", {"name": "Too expensive"})
    deal = await create(api, setup)
    url = f"/api/v1/deals/{deal['id']}/move"
    status, body = await api.post(
        url, {"stage_id": setup["stages"]["Won"], "lost_reason_id": reason["id"]}
    )
    assert status == 422 and body["error"]["field"] == "lost_reason_id"
    status, body = await api.post(
        url, {"stage_id": setup["stages"]["Lost"], "lost_reason_id": reason["id"]}
    )
    assert status == 200 and body["lost_reason_id"] == reason["id"]
    _, body = await api.post(url, {"stage_id": setup["stages"]["Talks"]})
    assert body["lost_reason_id"] is None


async def test_move_to_another_pipeline(api: Api, setup: dict) -> None:
    other = await make_pipeline(api, "Other")
    deal = await create(api, setup)
    target = other["stages"][0]["id"]
    status, body = await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": target})
    assert status == 200
    assert (body["pipeline_id"], body["stage"]["id"]) == (other["id"], target)


async def test_contacts_are_added_and_removed_but_one_stays(api: Api, setup: dict) -> None:
    deal = await create(api, setup)
    url = f"/api/v1/deals/{deal['id']}/contacts"
    status, body = await api.post(url, {"contact_id": setup["bob"]})
    assert [c["id"] for c in body["contacts"]] == [setup["ann"], setup["bob"]]
    await api.post(url, {"contact_id": setup["bob"]})
    assert await DealContact.filter(deal_id=deal["id"]).count() == 2
    status, body = await api.delete(f"{url}/{setup['ann']}")
    assert status == 200 and [c["id"] for c in body["contacts"]] == [setup["bob"]]
    status, body = await api.delete(f"{url}/{setup['bob']}")
    assert status == 409 and body["error"]["field"] == "contact_id"
    _, timeline = await api.get(f"/api/v1/deals/{deal['id']}/timeline")
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("deal.contact_added") == 2 and kinds.count("deal.contact_removed") == 1


async def test_custom_fields_and_tags_on_a_deal(api: Api, setup: dict) -> None:
    _, notes = await api.post("/api/v1/custom-fields", {"name": "Notes", "kind": "text"})
    _, visit = await api.post("/api/v1/custom-fields", {"name": "Visit", "kind": "date"})
    _, loyal = await api.post("/api/v1/tags", {"name": "Loyal"})
    deal = await create(api, setup, fields={notes["id"]: "VIP"}, tag_ids=[loyal["id"]])
    assert [(f["name"], f["value"]) for f in deal["fields"]] == [("Notes", "VIP")]
    assert [t["name"] for t in deal["tags"]] == ["Loyal"]
    url = f"/api/v1/deals/{deal['id']}"
    status, body = await api.patch(url, {"fields": {visit["id"]: "2027-01-31", notes["id"]: None}})
    assert status == 200
    assert [(f["name"], f["value"]) for f in body["fields"]] == [("Visit", "2027-01-31")]
    status, body = await api.patch(url, {"fields": {visit["id"]: "next week"}})
    assert status == 422 and body["error"]["field"] == f"fields.{visit['id']}"
    status, body = await api.patch(url, {"tag_ids": []})
    assert body["tags"] == []
    _, timeline = await api.get(f"{url}/timeline")
    updates = [e["data"] for e in timeline if e["kind"] == "deal.updated"]
    assert {"fields": {"Visit": {"from": None, "to": "2027-01-31"},
                       "Notes": {"from": "VIP", "to": None}}} in updates  # fmt: skip
    assert {"tags": {"from": ["Loyal"], "to": []}} in updates


async def test_clone_copies_everything_but_identity(api: Api, setup: dict) -> None:
    _, notes = await api.post("/api/v1/custom-fields", {"name": "Notes", "kind": "text"})
    _, tag = await api.post("/api/v1/tags", {"name": "Loyal"})
    deal = await create(
        api, setup, contact_ids=[setup["ann"], setup["bob"]], amount="99.99", currency="USD",
        reference="R-1", fields={notes["id"]: "x"}, tag_ids=[tag["id"]],
        stage_id=setup["stages"]["Talks"],
    )  # fmt: skip
    status, clone = await api.post(f"/api/v1/deals/{deal['id']}/clone")
    assert status == 201 and clone["id"] != deal["id"]
    for key in ("title", "amount", "currency", "reference", "stage", "contacts", "tags", "fields"):
        assert clone[key] == deal[key], key


async def test_delete_and_all_or_nothing_bulk_delete(api: Api, setup: dict) -> None:
    ids = [(await create(api, setup))["id"] for _ in range(3)]
    status, body = await api.post("/api/v1/deals/bulk-delete", {"ids": [ids[0], 424242]})
    assert status == 404 and body["error"]["field"] == "ids"
    assert await Deal.all().count() == 3
    assert (await api.post("/api/v1/deals/bulk-delete", {"ids": ids[:2]}))[0] == 204
    assert [d.id for d in await Deal.all()] == [ids[2]]
    assert (await api.delete(f"/api/v1/deals/{ids[2]}"))[0] == 204
    assert (await api.get(f"/api/v1/deals/{ids[2]}"))[0] == 404
    _, timeline = await api.get(f"/api/v1/deals/{ids[2]}/timeline")
    assert timeline[-1]["kind"] == "deal.deleted"
    assert await DealContact.all().count() == 0


async def test_contact_page_lists_open_and_closed_deals(api: Api, setup: dict) -> None:
    open_deal = await create(api, setup)
    won = await create(api, setup, title="Closed one")
    await api.post(f"/api/v1/deals/{won['id']}/move", {"stage_id": setup["stages"]["Won"]})
    status, body = await api.get(f"/api/v1/contacts/{setup['ann']}/deals")
    assert status == 200
    assert [d["id"] for d in body["open"]] == [open_deal["id"]]
    assert [d["id"] for d in body["closed"]] == [won["id"]]


async def test_operator_has_no_access_to_deals(anon: Api, setup: dict, operator: User) -> None:
    as_operator = await anon.as_user(operator)
    forbidden = [
        ("GET", "/api/v1/deals"),
        ("POST", "/api/v1/deals"),
        ("GET", "/api/v1/pipelines"),
        ("GET", "/api/v1/custom-fields"),
    ]
    for method, path in forbidden:
        status, body = await as_operator.call(method, path, json={})
        assert status == 403 and body["error"]["code"] == "forbidden", path
    status, body = await anon.get("/api/v1/deals")
    assert status == 401 and body["error"]["code"] == "unauthenticated"


async def test_close_date_is_a_plain_date(api: Api, setup: dict) -> None:
    deal = await create(api, setup, close_date="2027-02-28")
    assert (await Deal.get(id=deal["id"])).close_date == date(2027, 2, 28)
    status, body = await api.patch(f"/api/v1/deals/{deal['id']}", {"close_date": "28/02/2027"})
    assert status == 422 and body["error"]["field"] == "close_date"
