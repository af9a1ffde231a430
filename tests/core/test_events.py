"""Domain events are written with the change and announced only after it commits."""

import pytest

from core.events import UNSET, NestedChangeError, Unset, change, subscribe
from core.models import Event, User
from inbox.models import Contact
from inbox.service import create_contact


@pytest.fixture
def heard():
    received: list[Event] = []

    async def listener(event: Event) -> None:
        received.append(event)

    unsubscribe = subscribe(listener)
    yield received
    unsubscribe()


async def test_subscribers_hear_committed_events_in_order(admin: User, heard) -> None:
    contact = await create_contact(actor=admin, name="Ann")
    assert [(e.kind, e.data["contact_id"]) for e in heard] == [("contact.created", contact.id)]
    assert heard[0].actor_id == admin.id
    assert await Event.filter(kind="contact.created").count() == 1


async def test_rolled_back_change_leaves_no_event_and_no_row(admin: User, heard) -> None:
    with pytest.raises(RuntimeError):
        async with change(admin) as batch:
            await Contact.create(name="Ghost")
            await batch.record("contact.created", name="Ghost")
            raise RuntimeError("crash before commit")
    assert heard == []
    assert await Event.filter(kind="contact.created").count() == 0
    assert await Contact.filter(name="Ghost").count() == 0


async def test_nested_changes_publish_once_after_the_outer_commit(admin: User, heard) -> None:
    async with change(admin) as outer:
        await create_contact(actor=admin, name="Inner")
        assert heard == [], "nothing is announced before the outer change commits"
        await outer.record("test.outer")
    assert [e.kind for e in heard] == ["contact.created", "test.outer"]


async def test_a_failing_subscriber_does_not_hide_events_from_others(
    admin: User, heard, caplog
) -> None:
    async def broken(event: Event) -> None:
        raise ValueError("subscriber bug")

    unsubscribe = subscribe(broken)
    try:
        await create_contact(actor=admin, name="Ann")
    finally:
        unsubscribe()
    assert [e.kind for e in heard] == ["contact.created"]
    assert "subscriber failed" in caplog.text


async def test_a_nested_change_for_another_actor_is_an_error(admin: User, owner: User) -> None:
    with pytest.raises(NestedChangeError, match="cannot nest one by user"):
        async with change(admin):
            await create_contact(actor=owner, name="Inner")
    assert await Contact.filter(name="Inner").count() == 0


async def test_a_nested_change_with_another_cause_is_an_error(admin: User) -> None:
    async with change(None, cause={"automation_id": 1}):
        async with change(None):  # no cause of its own: joins the outer one
            pass
        with pytest.raises(NestedChangeError, match=r"caused by .* cannot nest"):
            async with change(None, cause={"automation_id": 2}):
                pass


def test_unset_is_one_falsy_member_apart_from_none() -> None:
    """The marker of an argument not given: falsy like before, never equal to None, and
    a type of its own, so ``str | Unset | None`` parameters are checkable."""
    assert isinstance(UNSET, Unset) and list(Unset) == [UNSET]
    assert not UNSET and UNSET is not None and repr(UNSET) == "UNSET"
