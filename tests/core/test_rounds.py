"""Shared inserts: concurrent callers' rows go in together, each caller as if alone."""

import asyncio
import logging

import pytest
from tortoise.exceptions import ValidationError

from core.models import User
from core.rounds import SharedInsert
from tests.conftest import Backend


def _user(email: str, name: str = "") -> User:
    return User(email=email, name=name, role="operator", password_hash="x")


def _without_email() -> User:
    """A row that cannot be stored (email is NOT NULL): the model lets it through when
    set after construction, the insert refuses it."""
    user = _user("placeholder@example.com")
    user.email = None  # type: ignore[assignment]
    return user


def _inserts(caplog: pytest.LogCaptureFixture) -> int:
    """INSERT statements the database client logged."""
    return sum(r.getMessage().startswith('INSERT INTO "user"') for r in caplog.records)


async def test_concurrent_callers_share_one_statement_and_return_with_their_rows_stored(
    db: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    shared = SharedInsert()

    async def caller(n: int) -> bool:
        await shared.insert_new([_user(f"u{n}@example.com"), _user(f"v{n}@example.com")])
        return await User.filter(email__in=[f"u{n}@example.com", f"v{n}@example.com"]).count() == 2

    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        stored = await asyncio.gather(*(caller(n) for n in range(30)))
    assert all(stored)
    assert _inserts(caplog) == 1
    ordered = [user.email for user in await User.all().order_by("id")]
    assert ordered == [f"{x}{n}@example.com" for n in range(30) for x in "uv"]


async def test_rows_already_stored_are_skipped_for_every_caller(db: Backend) -> None:
    await User.create(email="taken@example.com", name="First", role="operator", password_hash="x")
    shared = SharedInsert()
    await asyncio.gather(
        shared.insert_new([_user("taken@example.com", "Second")]),
        shared.insert_new([_user("new@example.com", "A"), _user("taken@example.com", "Third")]),
        shared.insert_new([_user("new@example.com", "B")]),
    )
    assert {u.email: u.name for u in await User.all()} == {
        "taken@example.com": "First",
        "new@example.com": "A",
    }


async def test_bad_rows_fail_only_the_caller_who_brought_them(db: Backend) -> None:
    shared = SharedInsert()
    results = await asyncio.gather(
        shared.insert_new([_user("a@example.com")]),
        shared.insert_new([_user("b@example.com"), _without_email()]),
        shared.insert_new([_user("c@example.com")]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValidationError)
    assert sorted(u.email for u in await User.all()) == ["a@example.com", "c@example.com"]


async def test_a_caller_that_goes_away_takes_no_one_elses_rows_with_it(db: Backend) -> None:
    shared = SharedInsert()
    leaving = asyncio.create_task(shared.insert_new([_user("gone@example.com")]))
    staying = asyncio.create_task(shared.insert_new([_user("here@example.com")]))
    await asyncio.sleep(0)  # both queued
    leaving.cancel()
    await staying
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await User.filter(email="here@example.com").exists()
    later = SharedInsert()
    await later.insert_new([_user("later@example.com")])  # rounds go on after it
    assert await User.filter(email="later@example.com").exists()


async def test_nothing_to_insert_runs_no_round(
    db: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        await SharedInsert().insert_new([])
    assert _inserts(caplog) == 0
