"""What the sandbox's routes share with its application: state, rate limits, faults."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.clock import Clock
from bot.sandbox.faults import Faults
from bot.sandbox.state import State

RATE_LIMIT_DOC = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
CORE_LIMIT = 5000
GRAPHQL_LIMIT = 5000
INSTALLATION_CAP = 12500
PER_REPOSITORY = 50


class RateLimits:
    """Hourly budgets per credential and resource, counted by the clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], list[float]] = {}
        self.scaled: dict[str, int] = {}  # credential -> its hourly limit, where not the base

    def _bucket(self, resource: str, key: str) -> list[float]:
        now = self._clock.time()
        bucket = self._buckets.get((resource, key))
        if bucket is None or now >= bucket[0]:
            bucket = self._buckets[(resource, key)] = [float(int(now) + 3600), 0.0]
        return bucket

    def limit(self, resource: str, key: str = "") -> int:
        """Return a credential's hourly limit of a resource."""
        return self.scaled.get(key, GRAPHQL_LIMIT if resource == "graphql" else CORE_LIMIT)

    def status(self, resource: str, key: str) -> tuple[int, int, int]:
        """Return (used, remaining, reset epoch) for a credential."""
        reset, used = self._bucket(resource, key)
        return int(used), max(0, self.limit(resource, key) - int(used)), int(reset)

    def scale(self, key: str, repositories: int) -> None:
        """Grow an installation's limits with its repositories, as GitHub does.

        5,000 an hour, plus 50 for each repository above 20, at most 12,500; the same for
        GraphQL points. https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#primary-rate-limit-for-github-app-installations
        """
        grown = CORE_LIMIT + PER_REPOSITORY * max(0, repositories - 20)
        self.scaled.setdefault(key, min(INSTALLATION_CAP, grown))

    def charge(self, resource: str, key: str, cost: int) -> None:
        """Spend points of a credential's budget."""
        self._bucket(resource, key)[1] += cost


@dataclass(frozen=True)
class SandboxContext:
    """The parts of a running sandbox its routes read and change."""

    state: State
    rate_limits: RateLimits
    faults: Faults


SANDBOX = web.AppKey("sandbox", SandboxContext)


def context_of(request: web.Request) -> SandboxContext:
    """Return the sandbox serving a request."""
    return request.app[SANDBOX]
