"""Which deliveries this process has taken: GitHub redelivers with the same id."""

from __future__ import annotations

from collections import deque

from bot.clock import Clock


class DeliveryMemory:
    """The delivery ids seen recently, so a redelivery is acknowledged but not run twice.

    GitHub keeps a delivery's `X-GitHub-Delivery` when it is redelivered (within 3
    days). Duplicates that matter arrive within minutes (a timed-out delivery sent
    again), so ids are kept 24 hours, at most 100,000 of them; a deliberate
    redelivery a day later is processed again, which is safe because handlers are
    idempotent.

    Kept as plain strings and numbers (a dict of ids, a queue of (deadline, add, id)):
    CPython's cyclic garbage collector lets go of the dict and of each entry once a
    pass has seen them, and walks only the queue's one reference per entry. A busy
    endpoint remembers tens of thousands of ids, and every object the collector walks
    lengthens the pause it imposes on the event loop.
    """

    def __init__(self, clock: Clock, *, ttl: float = 24 * 3600, maxsize: int = 100_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._maxsize = maxsize
        self._added = 0  # which add an id's entry in the queue is: older ones are stale
        self._ids: dict[str, int] = {}
        self._order: deque[tuple[float, int, str]] = deque()  # (deadline, add, id), oldest first

    def __contains__(self, delivery_id: object) -> bool:
        self._expire()
        return delivery_id in self._ids

    def __len__(self) -> int:
        self._expire()
        return len(self._ids)

    def add(self, delivery_id: str) -> None:
        """Remember a delivery id."""
        self._added += 1
        self._ids.pop(delivery_id, None)  # kept in the order it was last added
        self._ids[delivery_id] = self._added
        self._order.append((self._clock.monotonic() + self._ttl, self._added, delivery_id))
        self._expire()
        while len(self._ids) > self._maxsize:
            self._drop_oldest()

    def forget(self, delivery_id: str) -> None:
        """Forget a delivery whose job failed, so a redelivery from GitHub runs it again."""
        self._ids.pop(delivery_id, None)

    def _expire(self) -> None:
        now = self._clock.monotonic()
        while self._order and self._order[0][0] <= now:
            self._drop_oldest()
        if len(self._order) > 2 * self._maxsize:  # forgotten and re-added ids: compact
            self._order = deque(e for e in self._order if self._ids.get(e[2]) == e[1])

    def _drop_oldest(self) -> None:
        _, added, delivery_id = self._order.popleft()
        if self._ids.get(delivery_id) == added:  # not forgotten nor added again since
            del self._ids[delivery_id]


class SharedDeliveryMemory(DeliveryMemory):
    """A web tier in front of a shared queue remembers nothing: Redis dedupes deliveries."""

    def __contains__(self, delivery_id: object) -> bool:
        return False

    def add(self, delivery_id: str) -> None:
        """Remember nothing here."""

    def forget(self, delivery_id: str) -> None:
        """Forget nothing here."""
