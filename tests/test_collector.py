"""QuietCollector: full garbage collections wait while the user types, never for long."""

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


def test_start_takes_full_collections_over(collector: tuple[QuietCollector, Clock]) -> None:
    c, _ = collector
    assert gc.get_threshold()[2] >= 1_000_000
    assert gc.get_freeze_count() > 0


def test_a_due_collection_waits_for_a_quiet_second(
    collector: tuple[QuietCollector, Clock],
) -> None:
    c, clock = collector
    gc.collect()
    young_collections(c.DUE - 1)
    assert not c.tick()  # not due yet
    young_collections(1)
    c.touched()
    clock.now += c.QUIET_S / 2
    assert not c.tick()  # due, but the user typed half a second ago
    assert gc.get_count()[2] >= c.DUE
    clock.now += c.QUIET_S
    assert c.tick()  # quiet for a second: collected
    assert gc.get_count()[2] == 0 and c.collections == 1


def test_an_overdue_collection_runs_even_while_typing(
    collector: tuple[QuietCollector, Clock],
) -> None:
    c, clock = collector
    gc.collect()
    young_collections(c.OVERDUE)
    c.touched()
    assert c.tick()
    assert c.collections == 1


def test_stopped_it_never_collects(collector: tuple[QuietCollector, Clock]) -> None:
    c, clock = collector
    c.stop()
    young_collections(c.OVERDUE)
    clock.now += 10
    assert not c.tick()
