"""QuietCollector: full garbage collections are held back while the user types, never for long."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tui.collector import QuietCollector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def collector() -> Iterator[tuple[QuietCollector, Clock]]:
    clock = Clock()
    c = QuietCollector(clock)
    before = gc.get_threshold()
    c.start()
    try:
        yield c, clock
    finally:
        c.stop()
        gc.unfreeze()
        assert gc.get_threshold() == before


def young_collections(n: int) -> None:
    for _ in range(n):
        gc.collect(1)  # each one counts towards the next full collection


def test_typing_holds_full_collections_back_until_a_quiet_second(
    collector: tuple[QuietCollector, Clock],
) -> None:
    c, clock = collector
    default = gc.get_threshold()
    assert gc.get_freeze_count() > 0  # startup's objects are never walked again
    assert not c.holding
    c.touched()
    assert c.holding and gc.get_threshold()[2] > 100_000  # CPython will not start one
    assert gc.get_threshold()[:2] == default[:2]  # young collections as before
    clock.now += c.QUIET_S / 2
    assert not c.tick() and c.holding  # typed half a second ago
    clock.now += c.QUIET_S
    assert not c.tick()
    assert not c.holding and gc.get_threshold() == default  # CPython's pacing is back


def test_an_overdue_collection_runs_even_while_typing(
    collector: tuple[QuietCollector, Clock],
) -> None:
    c, clock = collector
    c.touched()
    gc.collect()
    young_collections(c.OVERDUE - 1)
    assert not c.tick()
    young_collections(1)
    assert c.tick() and c.collections == 1
    assert gc.get_count()[2] == 0 and c.holding


def test_stopped_it_holds_nothing_back(collector: tuple[QuietCollector, Clock]) -> None:
    c, _ = collector
    default = gc.get_threshold()
    c.touched()
    c.stop()
    assert gc.get_threshold() == default
    c.touched()  # after the app exited: no effect
    assert not c.holding and gc.get_threshold() == default
