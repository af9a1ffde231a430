"""The collector of a serving process: start-up objects frozen, young collections rarer."""

import gc
from collections.abc import Iterator

import pytest

from core import heap


@pytest.fixture
def restored() -> Iterator[None]:
    """This test process's collector as it was."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def _tracked(thing: object) -> bool:
    return any(thing is other for other in gc.get_objects())


def test_what_exists_at_settle_is_left_out_of_collections(restored: None) -> None:
    before = Node()
    heap.settle()
    assert gc.get_freeze_count() > 0
    assert not _tracked(before), "frozen: no collection walks it"
    after = Node()
    assert _tracked(after)
    assert gc.get_threshold()[0] == heap.YOUNG


def test_cycles_made_after_settle_are_still_collected(restored: None) -> None:
    heap.settle()
    Node()  # garbage at once, freed only by a collection
    assert gc.collect() >= 1
