"""Which deliveries this process has taken: GitHub redelivers with the same id."""

from __future__ import annotations

from cachetools import TTLCache

from bot.clock import Clock


class DeliveryMemory:
    """The delivery ids seen recently, so a redelivery is acknowledged but not run twice.

    GitHub keeps a delivery's `X-GitHub-Delivery` when it is redelivered (within 3
    days). Duplicates that matter arrive within minutes (a timed-out delivery sent
    again), so ids are kept 24 hours, at most 100,000 of them; a deliberate
    redelivery a day later is processed again, which is safe because handlers are
    idempotent.
    """

    def __init__(self, clock: Clock, *, ttl: float = 24 * 3600, maxsize: int = 100_000) -> None:
        self._ids: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl, timer=clock.monotonic)

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._ids

    def add(self, delivery_id: str) -> None:
        """Remember a delivery id."""
        self._ids[delivery_id] = True

    def forget(self, delivery_id: str) -> None:
        """Forget a delivery whose job failed, so a redelivery from GitHub runs it again."""
        self._ids.pop(delivery_id, None)


class SharedDeliveryMemory(DeliveryMemory):
    """A web tier in front of a shared queue remembers nothing: Redis dedupes deliveries."""

    def __contains__(self, delivery_id: object) -> bool:
        return False

    def add(self, delivery_id: str) -> None:
        """Remember nothing here."""

    def forget(self, delivery_id: str) -> None:
        """Forget nothing here."""
