"""The delivery ids `serve` remembers: a day, 100,000 at most, nothing for the collector."""

from __future__ import annotations

import gc

from bot.clock import FakeClock
from bot.store.deliveries import DeliveryMemory


def test_an_id_is_remembered_for_its_ttl_then_forgotten(clock: FakeClock) -> None:
    seen = DeliveryMemory(clock, ttl=60)
    seen.add("d1")
    clock.advance(59)
    assert "d1" in seen
    clock.advance(1)
    assert "d1" not in seen
    assert len(seen) == 0


def test_beyond_maxsize_the_oldest_ids_go_first(clock: FakeClock) -> None:
    seen = DeliveryMemory(clock, ttl=60, maxsize=3)
    for n in range(5):
        seen.add(f"d{n}")
        clock.advance(1)
    assert [f"d{n}" in seen for n in range(5)] == [False, False, True, True, True]
    assert len(seen) == 3


def test_a_forgotten_id_added_again_lives_its_full_ttl(clock: FakeClock) -> None:
    seen = DeliveryMemory(clock, ttl=60)
    seen.add("d1")
    seen.forget("d1")
    assert "d1" not in seen
    clock.advance(30)
    seen.add("d1")  # GitHub redelivered it after its job failed
    clock.advance(45)  # past the first deadline, within the second
    assert "d1" in seen
    clock.advance(15)
    assert "d1" not in seen


def test_an_id_added_again_is_not_evicted_by_its_older_entry(clock: FakeClock) -> None:
    seen = DeliveryMemory(clock, ttl=60, maxsize=2)
    seen.add("a")
    seen.add("b")
    seen.add("a")  # seen again: now the newest
    seen.add("c")  # over the size: "b" is the oldest left
    assert ("a" in seen, "b" in seen, "c" in seen) == (True, False, True)


def test_many_ids_give_the_garbage_collector_nothing_to_walk(clock: FakeClock) -> None:
    seen = DeliveryMemory(clock)
    gc.collect()
    before = len(gc.get_objects())
    for n in range(10_000):
        seen.add(f"delivery-{n}")
    gc.collect()
    assert len(seen) == 10_000
    assert len(gc.get_objects()) - before < 100
