"""Deal automations over the HTTP API: CRUD, validation, every event and action, loops cut,
the run log, and exactly one effect per event."""

from decimal import Decimal

import pytest

from core.models import Event, User
from funnels.models import Deal, DealContact
from tests.conftest import Api
from tests.funnels.test_pipelines import make_pipeline, sales_setup
from triggers.automations.flows import MAX_DEPTH, automate
from triggers.automations.models import AutomationRun, RunOutcome
from web.keys import EVENTS


@pytest.fixture
async def setup(api: Api) -> dict:
    """Sales (New, Talks, Won, Lost) with Ann and Bob, and pipeline Delivery (Packing)."""
    world = await sales_setup(api)
    delivery = await make_pipeline(api, "Delivery", initial_stage="Packing")
    return {
        **world,
        "sales": world["pipeline"],
        "delivery": delivery["id"],
        "packing": delivery["stages"][0]["id"],
    }


async def add(api: Api, **automation: object) -> dict:
    status, body = await api.post("/api/v1/automations", {"name": "A", **automation})
    assert status == 201, body
    return body


async def dispatch(api: Api) -> None:
    await api.client.server.app[EVENTS].pump.drain()


async def new_deal(api: Api, setup: dict, **extra: object) -> dict:
    status, deal = await api.post(
        "/api/v1/deals",
        {"contact_ids": [setup["ann"]], "pipeline_id": setup["sales"], "title": "Sofa", **extra},
    )
    assert status == 201, deal
    await dispatch(api)
    return deal


async def tags_of(deal_id: int) -> list[str]:
    deal = await Deal.get(id=deal_id)
    return sorted(tag.name for tag in await deal.tags.all())


async def runs(api: Api, automation_id: int) -> list[dict]:
    status, body = await api.get(f"/api/v1/automations/{automation_id}/runs")
    assert status == 200, body
    return body


async def test_crud(api: Api, setup: dict) -> None:
    created = await add(
        api,
        event="deal.stage_changed",
        pipeline_id=setup["sales"],
        stage_id=setup["stages"]["Won"],
        condition={"field": "deal.amount", "gte": 100},
        action={"kind": "create_deal", "pipeline_id": setup["delivery"]},
    )
    assert created["action"] == {
        "kind": "create_deal",
        "pipeline_id": setup["delivery"],
        "stage_id": None,
        "title": "{{ deal.title }}",
        "amount": None,
        "currency": None,
        "owner": "deal_owner",
        "tags": [],
        "link_dialog": True,
    }
    path = f"/api/v1/automations/{created['id']}"
    status, body = await api.patch(path, {"is_active": False, "name": "Hand over"})
    assert status == 200 and (body["is_active"], body["name"]) == (False, "Hand over"), body
    status, body = await api.patch(path, {"condition": None})
    assert status == 200 and body["condition"] is None
    assert (await api.get(path))[1]["name"] == "Hand over"
    assert [a["id"] for a in (await api.get("/api/v1/automations"))[1]] == [created["id"]]
    assert (await api.delete(path))[0] == 204
    assert (await api.get(path))[0] == 404
    kinds = await Event.filter(kind__startswith="automation.").values_list("kind", flat=True)
    assert kinds == ["automation.created", "automation.updated", "automation.updated",
                     "automation.deleted"]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"condition": {"field": "deals.amount", "gt": 1}}, "condition.field", "unknown field"),
        ({"condition": {"any": []}}, "condition.any", "at least one"),
        ({"action": {"kind": "delete_deal"}}, "action", "does not match"),
        ({"action": {"kind": "update_deal", "title": "{% if %}"}}, "action.title", "line 1"),
        ({"action": {"kind": "update_deal", "colour": "red"}}, "action.colour", "not permitted"),
        ({"action": {"kind": "update_deal", "fields": {"Nope": "x"}}}, "action.fields.Nope",
         "no custom field"),
        ({"action": {"kind": "update_deal", "owner_id": 999}}, "action.owner_id", "does not exist"),
        ({"action": {"kind": "create_deal", "pipeline_id": 999}}, "pipeline_id", "does not exist"),
        ({"stage_id": 999}, "stage_id", "does not exist"),
        ({"event": "deal.updated", "stage_id": "WON"}, "stage_id", "only 'deal.created'"),
        ({"pipeline_id": "DELIVERY", "stage_id": "WON"}, "stage_id", "not a stage of pipeline"),
        ({"action": {"kind": "create_deal", "pipeline_id": "DELIVERY", "stage_id": "WON"}},
         "action.stage_id", "not a stage of pipeline"),
    ],
)  # fmt: skip
async def test_validation_names_the_field(
    api: Api, setup: dict, change: dict, field: str, words: str
) -> None:
    names = {"WON": setup["stages"]["Won"], "DELIVERY": setup["delivery"]}

    def resolve(value: object) -> object:
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return names.get(value, value) if isinstance(value, str) else value

    body = {
        "name": "Bad",
        "event": "deal.stage_changed",
        "action": {"kind": "update_deal", "add_tags": ["X"]},
    } | resolve(change)
    status, answer = await api.post("/api/v1/automations", body)
    assert status in (400, 404, 422), answer
    assert answer["error"]["field"] == field, answer
    assert words in answer["error"]["message"], answer
    assert await AutomationRun.all().count() == 0
    assert (await api.get("/api/v1/automations"))[1] == []


async def test_deal_created_updates_the_new_deal(api: Api, setup: dict) -> None:
    automation = await add(
        api,
        event="deal.created",
        pipeline_id=setup["sales"],
        action={"kind": "update_deal", "add_tags": ["New lead"], "title": "{{ deal.title }}!"},
    )
    deal = await new_deal(api, setup)
    assert await tags_of(deal["id"]) == ["New lead"]
    assert (await Deal.get(id=deal["id"])).title == "Sofa!"
    [run] = await runs(api, automation["id"])
    assert (run["outcome"], run["deal_id"], run["depth"]) == ("applied", deal["id"], 0)
    # the changes say who made them, and the automation did not react to its own edit
    updated = await Event.filter(kind="deal.updated", deal_id=deal["id"]).first()
    assert updated is not None
    assert updated.data["cause"] == {"automation_id": automation["id"], "depth": 1}


async def test_deal_in_another_pipeline_is_not_touched(api: Api, setup: dict) -> None:
    await add(
        api,
        event="deal.created",
        pipeline_id=setup["delivery"],
        action={"kind": "update_deal", "add_tags": ["Delivery"]},
    )
    deal = await new_deal(api, setup)
    assert await tags_of(deal["id"]) == []
    assert await AutomationRun.all().count() == 0


async def test_deal_updated_with_a_condition_on_what_changed(api: Api, setup: dict) -> None:
    automation = await add(
        api,
        event="deal.updated",
        condition={"field": "event.changes.amount.to", "gte": 1000},
        action={"kind": "update_deal", "add_tags": ["Big"]},
    )
    deal = await new_deal(api, setup)
    await api.patch(f"/api/v1/deals/{deal['id']}", {"amount": "50.00", "currency": "USD"})
    await dispatch(api)
    assert await tags_of(deal["id"]) == []
    await api.patch(f"/api/v1/deals/{deal['id']}", {"amount": "1500.00"})
    await dispatch(api)
    assert await tags_of(deal["id"]) == ["Big"]
    outcomes = [r["outcome"] for r in reversed(await runs(api, automation["id"]))]
    # small amount: condition false; big amount: applied; its own tag change: not re-fired
    assert outcomes == ["condition_false", "applied", "own_change"]


async def test_one_edit_of_fields_custom_fields_and_tags_is_one_update(
    api: Api, setup: dict
) -> None:
    """A PATCH changing plain fields, a custom field and the tags is one ``deal.updated``
    event carrying all three, so an automation on "deal updated" runs once for it."""
    automation = await add(api, event="deal.updated", action={"kind": "update_deal"})
    _, notes = await api.post("/api/v1/custom-fields", {"name": "Notes", "kind": "text"})
    _, vip = await api.post("/api/v1/tags", {"name": "VIP"})
    deal = await new_deal(api, setup)
    status, body = await api.patch(
        f"/api/v1/deals/{deal['id']}",
        {"title": "Big sofa", "fields": {notes["id"]: "corner"}, "tag_ids": [vip["id"]]},
    )
    assert status == 200, body
    await dispatch(api)
    assert len(await runs(api, automation["id"])) == 1
    [update] = await Event.filter(kind="deal.updated", deal_id=deal["id"])
    assert {key: update.data[key] for key in ("changes", "fields", "tags")} == {
        "changes": {"title": {"from": "Sofa", "to": "Big sofa"}},
        "fields": {"Notes": {"from": None, "to": "corner"}},
        "tags": {"from": [], "to": ["VIP"]},
    }


async def test_a_deal_created_with_fields_and_tags_is_not_an_update(api: Api, setup: dict) -> None:
    automation = await add(api, event="deal.updated", action={"kind": "update_deal"})
    _, notes = await api.post("/api/v1/custom-fields", {"name": "Notes", "kind": "text"})
    _, vip = await api.post("/api/v1/tags", {"name": "VIP"})
    deal = await new_deal(api, setup, fields={notes["id"]: "corner"}, tag_ids=[vip["id"]])
    assert await runs(api, automation["id"]) == []
    created = await Event.get(kind="deal.created", deal_id=deal["id"])
    assert (created.data["fields"], created.data["tags"]) == ({"Notes": "corner"}, ["VIP"])


async def test_stage_changed_into_won_creates_a_delivery_deal(api: Api, setup: dict) -> None:
    automation = await add(
        api,
        event="deal.stage_changed",
        stage_id=setup["stages"]["Won"],
        action={
            "kind": "create_deal",
            "pipeline_id": setup["delivery"],
            "title": "Deliver {{ deal.title }} to {{ contact.name }}",
            "amount": "{{ deal.amount }}",
            "currency": "{{ deal.currency }}",
            "tags": ["From sales"],
        },
    )
    deal = await new_deal(api, setup, amount="1200.50", currency="EUR")
    await api.post(f"/api/v1/deals/{deal['id']}/contacts", {"contact_id": setup["bob"]})
    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": setup["stages"]["Talks"]})
    await dispatch(api)
    assert await Deal.filter(pipeline_id=setup["delivery"]).count() == 0
    await api.post(f"/api/v1/deals/{deal['id']}/move", {"stage_id": setup["stages"]["Won"]})
    await dispatch(api)
    [made] = await Deal.filter(pipeline_id=setup["delivery"])
    assert made.title == "Deliver Sofa to Ann Lee"
    assert (made.amount, made.currency) == (Decimal("1200.50"), "EUR")
    assert made.stage_id == setup["packing"]
    contacts = (
        await DealContact.filter(deal=made)
        .order_by("position")
        .values_list("contact_id", flat=True)
    )
    assert contacts == [setup["ann"], setup["bob"]]
    assert await tags_of(made.id) == ["From sales"]
    [run] = await runs(api, automation["id"])
    assert (run["outcome"], run["result_deal_id"]) == ("applied", made.id)


async def test_contact_added_and_removed(api: Api, setup: dict) -> None:
    added = await add(
        api,
        event="deal.contact_added",
        condition={"field": "event.contact", "equals": "Bob Stone"},
        action={"kind": "update_deal", "add_tags": ["Bob in"]},
    )
    removed = await add(
        api,
        event="deal.contact_removed",
        action={"kind": "update_deal", "remove_tags": ["Bob in"], "add_tags": ["Bob out"]},
    )
    deal = await new_deal(api, setup)  # Ann added: the condition is false
    await api.post(f"/api/v1/deals/{deal['id']}/contacts", {"contact_id": setup["bob"]})
    await dispatch(api)
    assert await tags_of(deal["id"]) == ["Bob in"]
    await api.delete(f"/api/v1/deals/{deal['id']}/contacts/{setup['bob']}")
    await dispatch(api)
    assert await tags_of(deal["id"]) == ["Bob out"]
    assert [r["outcome"] for r in reversed(await runs(api, added["id"]))] == [
        "condition_false",
        "applied",
    ]
    assert [r["outcome"] for r in await runs(api, removed["id"])] == ["applied"]


async def test_update_moves_sets_fields_and_owner(api: Api, setup: dict, operator: User) -> None:
    field = (await api.post("/api/v1/custom-fields", {"name": "Source", "kind": "text"}))[1]
    await add(
        api,
        event="deal.created",
        action={
            "kind": "update_deal",
            "stage_id": setup["stages"]["Talks"],
            "owner_id": operator.id,
            "fields": {"Source": "{{ pipeline.name }} automation"},
        },
    )
    deal = await new_deal(api, setup)
    stored = await Deal.get(id=deal["id"])
    assert stored.stage_id == setup["stages"]["Talks"]
    assert stored.owner_id == operator.id
    _, detail = await api.get(f"/api/v1/deals/{deal['id']}")
    assert {f["field_id"]: f["value"] for f in detail["fields"]} == {
        field["id"]: "Sales automation"
    }


async def test_a_failing_action_is_logged_and_the_others_still_run(api: Api, setup: dict) -> None:
    failing = await add(
        api,
        event="deal.created",
        action={"kind": "update_deal", "amount": "{{ deal.title }}", "add_tags": ["Never"]},
    )
    fine = await add(api, event="deal.created", action={"kind": "update_deal", "add_tags": ["Ok"]})
    deal = await new_deal(api, setup)
    assert await tags_of(deal["id"]) == ["Ok"]  # the failing one changed nothing
    [run] = await runs(api, failing["id"])
    assert run["outcome"] == "failed"
    assert "action.amount" in run["detail"] and "'Sofa'" in run["detail"]
    assert [r["outcome"] for r in await runs(api, fine["id"])] == ["applied"]


async def test_ping_pong_stops_at_the_depth_limit(api: Api, setup: dict) -> None:
    """Two automations that undo each other's tag would loop forever without the limit."""
    first = await add(
        api,
        event="deal.updated",
        condition={"field": "deal.tags", "contains": "Ping"},
        action={"kind": "update_deal", "remove_tags": ["Ping"], "add_tags": ["Pong"]},
    )
    second = await add(
        api,
        event="deal.updated",
        condition={"field": "deal.tags", "contains": "Pong"},
        action={"kind": "update_deal", "remove_tags": ["Pong"], "add_tags": ["Ping"]},
    )
    deal = await new_deal(api, setup)
    ping = (await api.post("/api/v1/tags", {"name": "Ping"}))[1]
    await api.patch(f"/api/v1/deals/{deal['id']}", {"tag_ids": [ping["id"]]})
    await dispatch(api)
    log = await AutomationRun.filter(deal_id=deal["id"]).order_by("id")
    applied = [r for r in log if r.outcome == RunOutcome.APPLIED]
    # the person's edit (depth 0) meets both; each later change is one level deeper
    assert sorted({r.depth for r in applied}) == list(range(MAX_DEPTH))
    assert {r.automation_id for r in applied} == {first["id"], second["id"]}
    cut = [r for r in log if r.outcome == RunOutcome.DEPTH_LIMIT]
    assert cut and all(r.depth == MAX_DEPTH for r in cut)
    assert await Event.filter(next_attempt_at__isnull=False).count() == 0


async def test_an_automation_ignores_the_deal_it_created(api: Api, setup: dict) -> None:
    """ "When a deal is created, create a deal" would otherwise never end."""
    automation = await add(
        api,
        event="deal.created",
        action={"kind": "create_deal", "pipeline_id": setup["sales"], "title": "Copy"},
    )
    await new_deal(api, setup)
    assert await Deal.all().count() == 2
    outcomes = [r["outcome"] for r in reversed(await runs(api, automation["id"]))]
    assert outcomes == ["applied", "own_change"]


async def test_disabled_automation_does_nothing(api: Api, setup: dict) -> None:
    await add(
        api,
        event="deal.created",
        is_active=False,
        action={"kind": "update_deal", "add_tags": ["X"]},
    )
    deal = await new_deal(api, setup)
    assert await tags_of(deal["id"]) == []
    assert await AutomationRun.all().count() == 0


async def test_an_event_dispatched_twice_acts_once(api: Api, setup: dict) -> None:
    await add(
        api,
        event="deal.created",
        action={"kind": "create_deal", "pipeline_id": setup["delivery"]},
    )
    deal = await new_deal(api, setup)
    created = await Event.get(kind="deal.created", deal_id=deal["id"])
    await automate(created)  # a redelivery after a crash, say
    assert await Deal.filter(pipeline_id=setup["delivery"]).count() == 1
    assert await AutomationRun.filter(event_id=created.id).count() == 1


async def test_runs_filter_by_deal_and_operators_are_refused(
    api: Api, setup: dict, operator: User
) -> None:
    automation = await add(
        api, event="deal.created", action={"kind": "update_deal", "add_tags": ["X"]}
    )
    one = await new_deal(api, setup)
    await new_deal(api, setup)
    status, body = await api.get(
        f"/api/v1/automations/{automation['id']}/runs", params={"deal_id": one["id"]}
    )
    assert status == 200 and [r["deal_id"] for r in body] == [one["id"]]
    assert (await api.get("/api/v1/automations/999/runs"))[0] == 404
    assert (await (await api.as_user(operator)).get("/api/v1/automations"))[0] == 403
