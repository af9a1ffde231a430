"""Who sees which event on the live socket: the one rule, on its own, and the socket's queue."""

import pytest

from core.bus import GAP
from core.models import Role, User
from web.live.feed import Behind, Feed
from web.live.visibility import visible

OWNER, ADMIN = User(id=1, role=Role.OWNER), User(id=2, role=Role.ADMIN)
ANN, BOB = User(id=3, role=Role.OPERATOR), User(id=4, role=Role.OPERATOR)


def event(kind: str, **data: object) -> dict:
    return {"id": 1, "kind": kind, "deal_id": None, "data": data}


INBOX = ["dialog.assigned", "dialog.read", "message.received", "message.status",
         "message.edited", "contact.created", "contact.updated", "note.created"]  # fmt: skip
STAFF_ONLY = ["deal.created", "deal.stage_changed", "pipeline.created", "stage.updated",
              "automation.created", "conversions.configured", "channel.updated",
              "trigger.applied", "user.created", "tag.created", "unknown.kind"]  # fmt: skip


@pytest.mark.parametrize("kind", INBOX)
def test_everyone_sees_the_inbox(kind: str) -> None:
    assert all(visible(event(kind), user) for user in (OWNER, ADMIN, ANN, BOB))


@pytest.mark.parametrize("kind", STAFF_ONLY)
def test_operators_see_no_deals_pipelines_automations_conversions_or_settings(kind: str) -> None:
    assert visible(event(kind), OWNER) and visible(event(kind), ADMIN)
    assert not visible(event(kind), ANN) and not visible(event(kind), BOB)


@pytest.mark.parametrize("kind", ["task.created", "task.updated", "task.completed", "task.deleted"])
def test_a_task_reaches_its_assignee_and_the_staff(kind: str) -> None:
    annes = event(kind, task_id=9, assignee_id=ANN.id)
    assert [visible(annes, u) for u in (OWNER, ADMIN, ANN, BOB)] == [True, True, True, False]


def test_a_reassigned_task_reaches_both_assignees() -> None:
    moved = event("task.updated", assignee_id=BOB.id,
                  changes={"assignee_id": {"from": ANN.id, "to": BOB.id}})  # fmt: skip
    assert visible(moved, ANN) and visible(moved, BOB)
    unassigned = event("task.updated", task_id=9)
    assert not visible(unassigned, ANN) and visible(unassigned, ADMIN)


async def test_the_feed_keeps_what_its_user_may_see() -> None:
    feed = Feed(ANN)
    feed(event("deal.created"))
    feed(event("message.received"))
    assert [m["kind"] for m in await feed.take()] == ["message.received"]
    feed.close()
    assert await feed.take() == [] and feed.closed


async def test_a_gap_or_a_full_feed_asks_for_catch_up() -> None:
    gapped = Feed(ADMIN)
    gapped(GAP)
    with pytest.raises(Behind):
        await gapped.take()
    full = Feed(ADMIN, limit=2)
    for _ in range(3):
        full(event("message.received"))
    with pytest.raises(Behind):
        await full.take()
