"""No delivery lost: ask GitHub to redeliver the App's failed webhook deliveries.

GitHub never redelivers by itself; an App may list its deliveries and ask for a
failed one again, within three days, and the redelivery keeps its GUID
(`X-GitHub-Delivery`), so the intake's delivery memory (or the fleet's Redis
queue) still runs each event once.
https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries
https://docs.github.com/en/webhooks/using-webhooks/automatically-redelivering-failed-deliveries-for-a-github-app-webhook

A pass lists the deliveries of the window (cursor pages, newest first), takes each
GUID that has no "OK" attempt, and asks once per GUID: GitHub's own log is the
record that survives a restart (a GUID redelivered since has an OK attempt), and a
claim per GUID (in process, or `SET NX` on Redis for a fleet) keeps two passes, or
two processes, from asking twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TTLCache

from bot.clock import Clock
from bot.github.errors import GitHubError
from bot.github.gateway import AppGateway

# Redelivery is possible within three days; stay an hour inside so a GUID is not
# asked for just as it ages out.
WINDOW = 3 * 24 * 3600.0 - 3600.0
INTERVAL = 300.0  # seconds between passes
MAX_PER_PASS = 50  # redeliveries asked per pass; the rest wait for the next
CLAIM_TTL = 3 * 24 * 3600.0
KEY = "bulwark:redelivered:"
PASS_KEY = "bulwark:redelivery-pass"  # noqa: S105 - a Redis key, not a secret

log = logging.getLogger(__name__)


class Claims(Protocol):
    """Which GUIDs a redelivery was asked for: the first to claim one asks."""

    async def claim(self, guid: str) -> bool:
        """Claim a GUID; False when it was claimed already."""
        ...


class LocalClaims:
    """Claims of one process, kept for the redelivery window."""

    def __init__(self, clock: Clock, *, maxsize: int = 100_000) -> None:
        self._guids: TTLCache[str, bool] = TTLCache(maxsize, CLAIM_TTL, timer=clock.monotonic)

    async def claim(self, guid: str) -> bool:
        """Claim a GUID in this process."""
        if guid in self._guids:
            return False
        self._guids[guid] = True
        return True


class RedisClaims:
    """Claims shared by a fleet: `SET NX EX` per GUID."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis

    async def claim(self, guid: str) -> bool:
        """Claim a GUID across the fleet."""
        return bool(await self._redis.set(KEY + guid, "1", nx=True, ex=int(CLAIM_TTL)))


@dataclass(frozen=True)
class PassResult:
    """What one pass saw and did."""

    listed: int
    failed: int
    asked: int
    refused: int = 0


def lost(deliveries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Return the newest attempt of each GUID that no attempt delivered, oldest first."""
    delivered = {d.get("guid") for d in deliveries if d.get("status") == "OK"}
    newest: dict[str, Mapping[str, Any]] = {}
    for delivery in deliveries:
        guid = str(delivery.get("guid") or "")
        if not guid or guid in delivered:
            continue
        if guid not in newest or int(delivery["id"]) > int(newest[guid]["id"]):
            newest[guid] = delivery
    return sorted(newest.values(), key=lambda d: int(d["id"]))


class Redeliverer:
    """Runs redelivery passes for the App."""

    def __init__(
        self,
        app: Callable[[], AppGateway],
        claims: Claims,
        clock: Clock,
        *,
        metrics: Any = None,
        max_per_pass: int = MAX_PER_PASS,
    ) -> None:
        self._app = app
        self.claims = claims
        self.clock = clock
        self.metrics = metrics
        self.max_per_pass = max_per_pass

    async def run_pass(self) -> PassResult:
        """List the window's deliveries and ask GitHub to redeliver the lost ones."""
        gh = self._app()
        deliveries = await gh.hook_deliveries(self.clock.time() - WINDOW)
        failed = lost(deliveries)
        asked = refused = 0
        for delivery in failed:
            if asked >= self.max_per_pass:
                break
            if not await self.claims.claim(str(delivery["guid"])):
                continue
            try:
                await gh.redeliver(int(delivery["id"]))
                asked += 1
            except GitHubError as exc:
                refused += 1
                log.warning("redelivery refused: %s", exc, extra={"delivery_id": delivery["guid"]})
        result = PassResult(len(deliveries), len(failed), asked, refused)
        self._report(result)
        return result

    def _report(self, result: PassResult) -> None:
        log.info(
            "redelivery pass: %d deliveries listed, %d lost, %d redeliveries asked, %d refused",
            result.listed, result.failed, result.asked, result.refused,
        )  # fmt: skip
        if self.metrics is not None:
            self.metrics.redelivery_pass(result.asked, result.refused, result.failed)

    async def forever(self, interval: float = INTERVAL) -> None:
        """Run a pass at start-up and then every `interval` seconds; a failed pass waits."""
        while True:
            await self.guarded_pass()
            await self.clock.sleep(interval)

    async def guarded_pass(self) -> PassResult | None:
        """Run one pass; log and swallow GitHub failures (the next pass tries again)."""
        try:
            return await self.run_pass()
        except GitHubError as exc:
            log.warning("redelivery pass failed: %s", exc)
            return None


async def gated(redis: Any, name: str, interval: float, run: Callable[[], Awaitable[Any]]) -> bool:
    """Run `run` when no fleet member has in this interval (`SET NX EX`); True if this one did."""
    if not await redis.set(PASS_KEY, name, nx=True, ex=max(1, int(interval))):
        return False
    await run()
    return True


__all__ = ["LocalClaims", "PassResult", "Redeliverer", "RedisClaims", "gated", "lost"]
