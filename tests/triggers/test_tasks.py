"""Tasks by hand over the API: create, read, edit, complete, delete, and who may."""

from datetime import UTC, datetime, timedelta

from core.models import Event, User
from tests.conftest import Api
from triggers.models import Task


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def test_task_lifecycle(api: Api, admin: User, operator: User) -> None:
    contact = (await api.post("/api/v1/contacts", {"name": "Ann"}))[1]
    pipeline = (await api.post("/api/v1/pipelines", {"name": "Sales"}))[1]
    deal = (
        await api.post(
            "/api/v1/deals", {"contact_ids": [contact["id"]], "pipeline_id": pipeline["id"]}
        )
    )[1]
    status, task = await api.post(
        "/api/v1/tasks",
        {"title": " Call Ann ", "due_at": at(-1), "deal_id": deal["id"],
         "assignee_id": operator.id},
    )  # fmt: skip
    assert status == 201, task
    assert (task["title"], task["assignee_id"], task["deal_id"]) == (
        "Call Ann", operator.id, deal["id"]
    )  # fmt: skip
    assert task["overdue"] is True and task["trigger_id"] is None

    status, task = await api.patch(
        f"/api/v1/tasks/{task['id']}", {"due_at": at(24), "description": "about the sofa"}
    )
    assert status == 200 and task["overdue"] is False and task["description"] == "about the sofa"
    as_operator = await api.as_user(operator)
    assert (await as_operator.get(f"/api/v1/tasks/{task['id']}"))[0] == 200
    status, done = await as_operator.post(f"/api/v1/tasks/{task['id']}/complete")
    assert status == 200 and done["done_at"] is not None
    assert (await as_operator.delete(f"/api/v1/tasks/{task['id']}"))[0] == 204
    assert (await api.get(f"/api/v1/tasks/{task['id']}"))[0] == 404
    kinds = (
        await Event.filter(kind__startswith="task.").order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["task.created", "task.updated", "task.completed", "task.deleted"]
    timeline = (await api.get(f"/api/v1/deals/{deal['id']}/timeline"))[1]
    assert {"task.created", "task.updated"} <= {e["kind"] for e in timeline}


async def test_operators_keep_to_their_own_tasks(api: Api, admin: User, operator: User) -> None:
    as_operator = await api.as_user(operator)
    status, own = await as_operator.post("/api/v1/tasks", {"title": "Mine", "due_at": at(1)})
    assert status == 201 and own["assignee_id"] == operator.id
    status, body = await as_operator.post(
        "/api/v1/tasks", {"title": "Boss's", "due_at": at(1), "assignee_id": admin.id}
    )
    assert status == 403 and body["error"]["field"] == "assignee_id"
    theirs = (await api.post("/api/v1/tasks", {"title": "Admin's", "due_at": at(1)}))[1]
    for call in (
        as_operator.get(f"/api/v1/tasks/{theirs['id']}"),
        as_operator.patch(f"/api/v1/tasks/{theirs['id']}", {"title": "x"}),
        as_operator.delete(f"/api/v1/tasks/{theirs['id']}"),
    ):
        assert (await call)[0] == 403
    status, body = await as_operator.patch(f"/api/v1/tasks/{own['id']}", {"assignee_id": admin.id})
    assert status == 403
    assert await Task.all().count() == 2


async def test_bad_task_input_names_the_field(api: Api, admin: User) -> None:
    cases = [
        ({"title": "", "due_at": at(1)}, "title"),
        ({"title": "x", "due_at": "2026-12-01T10:00:00"}, "due_at"),
        ({"title": "x", "due_at": at(1), "deal_id": 999}, "deal_id"),
        ({"title": "x", "due_at": at(1), "assignee_id": 999}, "assignee_id"),
        ({"title": "x"}, "due_at"),
    ]
    for body, field in cases:
        status, answer = await api.post("/api/v1/tasks", body)
        assert status in (404, 422), (body, answer)
        assert answer["error"]["field"] == field, (body, answer)
    assert await Task.all().count() == 0


async def test_tasks_of_a_contacts_deals(api: Api, admin: User, operator: User) -> None:
    """What the inbox's side panel lists: the open tasks of the contact's deals, once each
    even when the deal has more contacts, and an operator's own only."""
    ann, bob = [(await api.post("/api/v1/contacts", {"name": n}))[1] for n in ("Ann", "Bob")]
    pipeline = (await api.post("/api/v1/pipelines", {"name": "Sales"}))[1]
    both = {"contact_ids": [ann["id"], bob["id"]], "pipeline_id": pipeline["id"]}
    deal = (await api.post("/api/v1/deals", both))[1]
    only_bob = {"contact_ids": [bob["id"]], "pipeline_id": pipeline["id"]}
    other = (await api.post("/api/v1/deals", only_bob))[1]
    made = {}
    for title, deal_id, assignee in (
        ("Call", deal["id"], operator.id), ("Quote", deal["id"], admin.id),
        ("Bob only", other["id"], operator.id), ("Done", deal["id"], operator.id),
    ):  # fmt: skip
        body = {"title": title, "due_at": at(1), "deal_id": deal_id, "assignee_id": assignee}
        made[title] = (await api.post("/api/v1/tasks", body))[1]
    await api.post(f"/api/v1/tasks/{made['Done']['id']}/complete")

    status, found = await api.get(f"/api/v1/tasks?contact_id={ann['id']}&open=true")
    assert status == 200 and sorted(t["title"] for t in found) == ["Call", "Quote"]
    as_operator = await api.as_user(operator)
    _, found = await as_operator.get(f"/api/v1/tasks?contact_id={ann['id']}&open=true")
    assert [t["title"] for t in found] == ["Call"]
