"""Stage triggers over the HTTP API: CRUD, validation, the sandbox, and firing on moves."""

from datetime import time, timedelta

import pytest
from tortoise.exceptions import IntegrityError

from bot.inbound import receive
from core.events import change
from core.models import Event, Role, User
from funnels.models import Deal
from inbox.dialogs import Inbound, Sender, queue
from inbox.models import Author, Channel, Dialog, Message, Outbox
from tests.conftest import Api
from tests.funnels.test_pipelines import sales_setup
from triggers.flows import fire
from triggers.models import Task, Trigger
from web.keys import EVENTS


@pytest.fixture
async def setup(api: Api) -> dict:
    """Sales (New, Talks, Won, Lost), Ann, and a deal "Sofa" in New for her."""
    world = await sales_setup(api)
    status, deal = await api.post(
        "/api/v1/deals",
        {"contact_ids": [world["ann"]], "pipeline_id": world["pipeline"], "title": "Sofa"},
    )
    assert status == 201, deal
    return {**world, "deal": deal["id"]}


async def add_trigger(api: Api, stage_id: int, kind: str, config: dict) -> dict:
    status, body = await api.post(
        f"/api/v1/stages/{stage_id}/triggers", {"kind": kind, "config": config}
    )
    assert status == 201, body
    return body


async def move(api: Api, deal_id: int, stage_id: int) -> None:
    """Move through the API, then let the event dispatcher feed the triggers."""
    status, body = await api.post(f"/api/v1/deals/{deal_id}/move", {"stage_id": stage_id})
    await api.client.server.app[EVENTS].pump.drain()
    assert status == 200, body


async def test_trigger_crud(api: Api, setup: dict) -> None:
    talks = setup["stages"]["Talks"]
    task = await add_trigger(
        api, talks, "auto_task", {"title": "Call {{ contact.name }}", "due_in_minutes": 30}
    )
    assert task["config"] == {
        "title": "Call {{ contact.name }}",
        "description": "",
        "due_in_minutes": 30,
        "assignee": "deal_owner",
        "notify_assignee": False,
    }
    message = await add_trigger(api, talks, "auto_message", {"template": "Hi {{ contact.name }}"})
    assert message["config"]["delay_minutes"] == 0
    assert (task["position"], message["position"]) == (0, 1)

    status, body = await api.patch(
        f"/api/v1/triggers/{message['id']}", {"is_active": False, "position": 0}
    )
    assert status == 200 and body["is_active"] is False, body
    status, listed = await api.get(f"/api/v1/stages/{talks}/triggers")
    assert status == 200
    assert [t["id"] for t in listed] == [message["id"], task["id"]]

    status, _ = await api.delete(f"/api/v1/triggers/{task['id']}")
    assert status == 204
    status, listed = await api.get(f"/api/v1/stages/{talks}/triggers")
    assert [t["id"] for t in listed] == [message["id"]]
    assert (await api.delete(f"/api/v1/triggers/{task['id']}"))[0] == 404
    assert (await api.get("/api/v1/stages/9999/triggers"))[0] == 404
    kinds = await Event.filter(kind__startswith="trigger.").values_list("kind", flat=True)
    assert sorted(kinds) == ["trigger.created"] * 2 + ["trigger.deleted", "trigger.updated"]


async def test_operators_cannot_manage_triggers(api: Api, setup: dict, operator: User) -> None:
    as_operator = await api.as_user(operator)
    url = f"/api/v1/stages/{setup['stages']['Talks']}/triggers"
    status, _ = await as_operator.post(url, {"kind": "auto_message", "config": {"template": "x"}})
    assert status == 403


@pytest.mark.parametrize(
    ("kind", "config", "status", "field", "text"),
    [
        ("auto_message", {"template": "Hi\n{% if %}"}, 422, "config.template", "line 2"),
        ("auto_message", {"template": "{{ deal.title"}, 422, "config.template", "line 1"),
        ("auto_message", {"template": "x", "delay_minutes": -1}, 422, "config.delay_minutes", ""),
        ("auto_message", {"template": "x", "extra": 1}, 422, "config.extra", ""),
        ("auto_task", {"title": "Call", "description": "{% for %}"},
         422, "config.description", "line 1"),
        ("auto_task", {"title": "Call", "assignee": 9999}, 404, "config.assignee", ""),
        ("auto_task", {"title": "Call", "assignee": "someone"}, 422, "config.assignee", ""),
        ("deal_source", {"rule": {"when": {"any": [{"field": "deal.amount", "equal": 1}]},
                                  "then": [{"add_tags": ["VIP"]}]}},
         422, "config.rule.when.any[0]", "equals"),
        ("deal_source", {}, 422, "config.rule", ""),
        ("webhook", {}, 422, "kind", ""),
    ],
)  # fmt: skip
async def test_config_is_validated_per_kind(
    api: Api, setup: dict, kind: str, config: dict, status: int, field: str, text: str
) -> None:
    url = f"/api/v1/stages/{setup['stages']['Talks']}/triggers"
    got, body = await api.post(url, {"kind": kind, "config": config})
    assert (got, body["error"]["field"]) == (status, field), body
    assert text in body["error"]["message"]
    assert (await api.get(url))[1] == []


async def test_render_dry_run_and_sandbox(api: Api, setup: dict) -> None:
    status, body = await api.patch(
        f"/api/v1/deals/{setup['deal']}", {"amount": "150.00", "currency": "USD"}
    )
    assert status == 200, body
    template = (
        "{{ contact.name }}: {{ deal.title }} for {{ deal.amount }} {{ deal.currency }}, "
        "{{ stage.name }} in {{ pipeline.name }} ({{ owner.email }})"
    )
    status, body = await api.post(
        "/api/v1/triggers/render", {"template": template, "deal_id": setup["deal"]}
    )
    assert status == 200, body
    assert body["text"] == "Ann Lee: Sofa for 150.00 USD, New in Sales (admin@example.com)"
    escapes = [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ deal.__class__ }}",
        "{{ 'x' * 100000000 }}",
        "{{ no_such_name }}",
    ]
    for escape in escapes:
        status, body = await api.post(
            "/api/v1/triggers/render", {"template": escape, "deal_id": setup["deal"]}
        )
        assert status == 422 and body["error"]["field"] == "template", (escape, body)
        assert "class" not in body["error"]["message"] or "unsafe" in body["error"]["message"]
    status, body = await api.post("/api/v1/triggers/render", {"template": "x", "deal_id": 9999})
    assert status == 404


async def test_evaluate_dry_run(api: Api, setup: dict) -> None:
    rule = {"when": {"field": "contact.name", "regex": "^Ann"}, "then": [{"add_tags": ["VIP"]}]}
    status, body = await api.post(
        "/api/v1/triggers/evaluate", {"rule": rule, "deal_id": setup["deal"]}
    )
    assert status == 200, body
    assert body == {"matched": True, "add_tags": ["VIP"], "remove_tags": [], "set_fields": {}}
    status, body = await api.post(
        "/api/v1/triggers/evaluate",
        {"rule": {"when": {"fild": "deal.id", "equals": 1}, "then": []}, "deal_id": setup["deal"]},
    )
    assert status == 422 and body["error"]["field"].startswith("rule.when"), body


async def test_moving_a_deal_fires_an_auto_task_once(
    api: Api, setup: dict, admin: User, operator: User
) -> None:
    talks = setup["stages"]["Talks"]
    await add_trigger(
        api,
        talks,
        "auto_task",
        {
            "title": "Call {{ contact.name }}",
            "description": "Call {{ contact.phone }}",
            "due_in_minutes": 90,
        },
    )
    await move(api, setup["deal"], talks)
    status, tasks = await api.get(f"/api/v1/tasks?deal_id={setup['deal']}&open=true")
    assert status == 200 and len(tasks) == 1, tasks
    task = tasks[0]
    assert (task["title"], task["description"]) == ("Call Ann Lee", "Call +14155552671")
    assert task["assignee_id"] == admin.id and task["overdue"] is False
    moved = await Event.get(kind="deal.stage_changed", deal_id=setup["deal"])
    stored = await Task.get(id=task["id"])
    assert stored.due_at == moved.created_at + timedelta(minutes=90)
    assert stored.source_event_id == moved.id

    # redelivery of the same event, and an event of another kind, make nothing new
    await fire(moved)
    await fire(moved)
    await fire(await Event.filter(kind="task.created").first())
    assert await Task.all().count() == 1
    assert await Event.filter(kind="task.created").count() == 1

    # the operator sees none of it; the admin completes it
    as_operator = await api.as_user(operator)
    assert (await as_operator.get("/api/v1/tasks"))[1] == []
    assert (await as_operator.get(f"/api/v1/tasks?assignee_id={admin.id}"))[0] == 403
    assert (await as_operator.post(f"/api/v1/tasks/{task['id']}/complete"))[0] == 403
    status, done = await api.post(f"/api/v1/tasks/{task['id']}/complete")
    assert status == 200 and done["done_at"] is not None and done["overdue"] is False
    assert (await api.get(f"/api/v1/tasks?deal_id={setup['deal']}&open=true"))[1] == []
    assert len((await api.get(f"/api/v1/tasks?assignee_id={admin.id}"))[1]) == 1


async def test_auto_task_for_a_named_user_and_overdue(
    api: Api, setup: dict, operator: User
) -> None:
    await add_trigger(
        api, setup["stages"]["Talks"], "auto_task", {"title": "Quote", "assignee": operator.id}
    )
    await move(api, setup["deal"], setup["stages"]["Talks"])
    as_operator = await api.as_user(operator)
    status, tasks = await as_operator.get("/api/v1/tasks")
    assert status == 200 and [t["title"] for t in tasks] == ["Quote"]
    assert tasks[0]["overdue"] is True  # due at once
    status, done = await as_operator.post(f"/api/v1/tasks/{tasks[0]['id']}/complete")
    assert status == 200 and done["overdue"] is False


async def test_round_robin_hands_tasks_to_operators_in_turn(
    api: Api, setup: dict, operator: User
) -> None:
    from tests.conftest import make_user

    second = await make_user(Role.OPERATOR, "second-operator@example.com")
    talks, new = setup["stages"]["Talks"], setup["stages"]["New"]
    await add_trigger(api, talks, "auto_task", {"title": "Call", "assignee": "round_robin"})
    for _ in range(3):
        await move(api, setup["deal"], talks)
        await move(api, setup["deal"], new)
    assignees = [t.assignee_id for t in await Task.all().order_by("id")]
    assert assignees == [operator.id, second.id, operator.id]


async def test_pipeline_switch_suppresses_auto_tasks(api: Api, setup: dict) -> None:
    await add_trigger(api, setup["stages"]["Talks"], "auto_task", {"title": "Call"})
    status, pipeline = await api.patch(
        f"/api/v1/pipelines/{setup['pipeline']}", {"auto_tasks_enabled": False}
    )
    assert status == 200 and pipeline["auto_tasks_enabled"] is False, pipeline
    assert pipeline["auto_messages_enabled"] is True
    await move(api, setup["deal"], setup["stages"]["Talks"])
    assert await Task.all().count() == 0
    await api.patch(f"/api/v1/pipelines/{setup['pipeline']}", {"auto_tasks_enabled": True})
    await move(api, setup["deal"], setup["stages"]["New"])
    await move(api, setup["deal"], setup["stages"]["Talks"])
    assert await Task.all().count() == 1


async def test_inactive_trigger_does_not_fire(api: Api, setup: dict) -> None:
    trigger = await add_trigger(api, setup["stages"]["Talks"], "auto_task", {"title": "Call"})
    await api.patch(f"/api/v1/triggers/{trigger['id']}", {"is_active": False})
    await move(api, setup["deal"], setup["stages"]["Talks"])
    assert await Task.all().count() == 0


async def test_deal_source_rule_tags_the_deal(api: Api, setup: dict) -> None:
    status, vip = await api.post("/api/v1/tags", {"name": "Cold"})
    assert status == 201
    await api.patch(f"/api/v1/deals/{setup['deal']}", {"tag_ids": [vip["id"]]})
    rule = {
        "when": {"all": [{"field": "contact.phone", "regex": "^\\+1"},
                         {"field": "stage.name", "equals": "Talks"}]},
        "then": [{"add_tags": ["US", "Warm"]}, {"remove_tags": ["Cold"]}],
    }  # fmt: skip
    await add_trigger(api, setup["stages"]["Talks"], "deal_source", {"rule": rule})
    await move(api, setup["deal"], setup["stages"]["Talks"])
    status, deal = await api.get(f"/api/v1/deals/{setup['deal']}")
    assert sorted(t["name"] for t in deal["tags"]) == ["US", "Warm"], deal
    # firing again changes nothing
    before = await Event.all().count()
    await fire(await Event.get(kind="deal.stage_changed", deal_id=setup["deal"]))
    assert await Event.all().count() == before


async def test_bad_template_data_skips_only_that_trigger(api: Api, setup: dict) -> None:
    talks = setup["stages"]["Talks"]
    await add_trigger(api, talks, "auto_task", {"title": "A", "description": "{{ nope.x }}"})
    await add_trigger(api, talks, "auto_task", {"title": "B"})
    await move(api, setup["deal"], talks)
    assert await Task.all().values_list("title", flat=True) == ["B"]
    assert await Event.filter(kind="trigger.failed").count() == 1


async def test_auto_message_is_queued_into_the_deal_dialog(
    api: Api,
    admin: User,
    telegram_channel: dict,
    inbox_stage: dict,
) -> None:
    stages = {s.name: s.id for s in inbox_stage["stages"]}
    await add_trigger(
        api,
        stages["Won"],
        "auto_message",
        {"template": "Thank you, {{ contact.name }}! Your {{ pipeline.name }} deal is done."},
    )
    channel = await Channel.get(id=telegram_channel["id"])
    inbound = Inbound(
        sender=Sender(external_id="777", name="Ann"), chat_id="777", external_id="1", text="hi"
    )
    await receive(channel=channel, message=inbound)
    deal = await Deal.get(pipeline_id=inbox_stage["pipeline_id"])
    assert deal.dialog_id is not None
    deal_id = deal.id
    await move(api, deal_id, stages["Won"])

    bot_messages = await Message.filter(author=Author.BOT).order_by("id")
    thanks = [m for m in bot_messages if "trigger_id" in m.payload]
    assert [m.text for m in thanks] == ["Thank you, Ann! Your Messenger deal is done."]
    moved = await Event.get(kind="deal.stage_changed", deal_id=deal_id)
    assert thanks[0].payload == {
        "trigger_id": thanks[0].payload["trigger_id"],
        "event_id": moved.id,
        "deal_id": deal_id,
        "only_in_stage": stages["Won"],
    }
    assert await Outbox.filter(message_id=thanks[0].id).exists()

    await fire(moved)
    count = await Message.filter(author=Author.BOT).count()
    assert count == len(bot_messages)

    # the switch off: nothing more is queued
    await api.patch(
        f"/api/v1/pipelines/{inbox_stage['pipeline_id']}", {"auto_messages_enabled": False}
    )
    await move(api, deal_id, stages["New chat"])
    await move(api, deal_id, stages["Won"])
    assert await Message.filter(author=Author.BOT).count() == count


async def test_auto_message_skips_a_deal_without_dialog(api: Api, setup: dict) -> None:
    await add_trigger(api, setup["stages"]["Talks"], "auto_message", {"template": "Hi"})
    await move(api, setup["deal"], setup["stages"]["Talks"])
    assert await Message.all().count() == 0
    assert await Event.filter(kind="trigger.failed").count() == 0


async def _dialog_deal(api: Api, channel: dict, inbox_stage: dict) -> dict:
    """A deal with a Telegram dialog, and the pipeline's stages by name."""
    inbound = Inbound(
        sender=Sender(external_id="777", name="Ann"), chat_id="777", external_id="1", text="hi"
    )
    await receive(channel=await Channel.get(id=channel["id"]), message=inbound)
    deal = await Deal.get(pipeline_id=inbox_stage["pipeline_id"])
    stages = {s.name: s.id for s in inbox_stage["stages"]}
    return {"deal": deal.id, "dialog": deal.dialog_id, **stages}


async def test_a_redelivered_event_queues_an_auto_message_once(
    api: Api, telegram_channel: dict, inbox_stage: dict
) -> None:
    """The send is unique on (trigger, source event), and the database holds it to that."""
    ids = await _dialog_deal(api, telegram_channel, inbox_stage)
    trigger = await add_trigger(api, ids["Won"], "auto_message", {"template": "Thanks!"})
    await move(api, ids["deal"], ids["Won"])
    moved = await Event.get(kind="deal.stage_changed", deal_id=ids["deal"])
    await fire(moved)  # redelivered, e.g. after a crash mid-dispatch
    [row] = await Outbox.filter(message__text="Thanks!")
    assert row.key == f"trigger:{trigger['id']}:event:{moved.id}"
    dialog = await Dialog.get(id=ids["dialog"])
    with pytest.raises(IntegrityError):
        async with change(None) as batch:
            await queue(batch, dialog=dialog, author=Author.BOT, text="Thanks!", key=row.key)
    assert await Message.filter(text="Thanks!").count() == 1


async def test_stored_configs_are_read_through_their_models(
    api: Api, telegram_channel: dict, inbox_stage: dict
) -> None:
    """A config stored before a setting had its default (here the business hours'
    opening and closing times) gets the model's default rather than failing."""
    ids = await _dialog_deal(api, telegram_channel, inbox_stage)
    trigger = await add_trigger(api, ids["Won"], "auto_message", {"template": "Welcome"})
    stored = {"template": "Welcome", "business_hours": {"timezone": "UTC"}}
    await Trigger.filter(id=trigger["id"]).update(config=stored)
    await move(api, ids["deal"], ids["Won"])
    message = await Message.get(text="Welcome")
    due = (await Outbox.get(message_id=message.id)).next_attempt_at
    assert time(9) <= due.time() <= time(21), "the model's default hours, 09:00-21:00"
    assert await Event.filter(kind="trigger.failed").count() == 0
