"""Injected failures: 5xx, dropped connections, hangs, secondary and primary rate limits."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from bot.clock import Clock

KINDS = ("502", "503", "reset", "timeout", "secondary", "secondary429")
# Opt-in: GitHub does the work but the answer never arrives (the connection drops after).
LOST = "lost"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID."
)


# GitHub's answer when a GraphQL query runs past its time limit: HTTP 200 (or 502) with
# `data: null`. https://github.com/backstage/backstage/issues/15982 (200, a first: 100
# page of repositories), https://github.com/turbot/steampipe-plugin-github/issues/351 and
# https://github.com/cli/cli/issues/12715 (the same body with 502), and
# https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#timeouts
GRAPHQL_TIMEOUT_MESSAGE = (
    "Something went wrong while executing your query. This may be the result of a timeout, "
    "or it could be a GitHub bug. Please include `{request_id}` when reporting this issue."
)
# A field the installation may not read: the field's error carries type FORBIDDEN and its
# path; a non-null field takes its parent node with it.
# https://github.com/fpicalausa/remove-stale-branches/issues/49
GRAPHQL_FORBIDDEN_MESSAGE = "Resource not accessible by integration"
GRAPHQL_SHAPES = ("timeout", "502")


class GraphQLFaults:
    """GitHub's GraphQL failure shapes, on demand, each tied to what a query reads.

    `forbid(repo)`: reading that repository's protection rules is refused (FORBIDDEN,
    the node comes back null with the error's path). `slow(repo, shape)`: any query that
    reads its protection fails whole, as a timeout ("timeout": 200 with `data: null`) or
    a 502. `limit(n, shape)`: a query reading the protection of more than `n`
    repositories fails whole, as large pages do on GitHub.
    """

    def __init__(self) -> None:
        self.forbidden: set[str] = set()
        self.slow_repos: dict[str, str] = {}
        self.page_limit: tuple[int, str] | None = None
        self.injected: list[str] = []

    def forbid(self, full_name: str) -> None:
        """Refuse the protection rules of `owner/name` in GraphQL."""
        self.forbidden.add(full_name.lower())

    def slow(self, full_name: str, shape: str = "timeout") -> None:
        """Fail every query that reads the protection of `owner/name`."""
        self.slow_repos[full_name.lower()] = _shape(shape)

    def limit(self, most: int, shape: str = "timeout") -> None:
        """Fail every query that reads the protection of more than `most` repositories."""
        self.page_limit = (most, _shape(shape))

    def clear(self) -> None:
        """Answer every GraphQL query again."""
        self.forbidden.clear()
        self.slow_repos.clear()
        self.page_limit = None

    def failure(self, read: list[str]) -> str | None:
        """Return the shape a query that read these repositories' protection fails with."""
        for full in read:
            if full.lower() in self.slow_repos:
                return self._injected(self.slow_repos[full.lower()])
        if self.page_limit is not None and len(read) > self.page_limit[0]:
            return self._injected(self.page_limit[1])
        return None

    def _injected(self, shape: str) -> str:
        self.injected.append(shape)
        return shape


def _shape(shape: str) -> str:
    if shape not in GRAPHQL_SHAPES:
        raise ValueError(f"unknown GraphQL failure shape {shape!r}; one of {GRAPHQL_SHAPES}")
    return shape


@dataclass(frozen=True)
class Fault:
    """One fault to inject into a response."""

    kind: str


class Faults:
    """Decides, per request, whether GitHub misbehaves.

    "timeout" holds the request for `timeout_delay` real seconds (default 2s): the
    server simulates a hang, so clients in tests use a shorter read timeout. "lost"
    (never drawn unless named) lets the request take effect, then drops the connection.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.rate = 0.0
        self.kinds: tuple[str, ...] = KINDS
        self.timeout_delay = 2.0
        self.primary_reset_at: float | None = None
        self.injected: list[str] = []
        self._exempt: set[str] = set()
        self._methods: frozenset[str] | None = None
        self._left: int | None = None
        self._rng = random.Random(0)
        self.graphql = GraphQLFaults()
        # Repositories the installation may not read through REST either (a permission
        # awaiting the owner's approval, an IP allow list): 403 on every /repos/{o}/{r} route.
        self.refused_repos: set[str] = set()

    def refuse_repo(self, full_name: str) -> None:
        """Answer 403 "Resource not accessible by integration" for this repository's routes."""
        self.refused_repos.add(full_name.lower())

    def configure(
        self,
        rate: float,
        kinds: Iterable[str] = KINDS,
        seed: int = 0,
        *,
        methods: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> None:
        """Fail this fraction of requests with faults drawn from `kinds`.

        `methods` limits faults to requests with those methods; `limit` stops
        injecting after that many faults.
        """
        chosen = tuple(kinds)
        unknown = set(chosen) - {*KINDS, LOST}
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.rate, self.kinds, self._rng = rate, chosen, random.Random(seed)
        self._methods = frozenset(m.upper() for m in methods) if methods is not None else None
        self._left = limit

    def clear(self) -> None:
        """Stop injecting faults and end any primary-limit exhaustion."""
        self.rate = 0.0
        self.primary_reset_at = None

    def exempt(self, templates: Iterable[str]) -> None:
        """Never inject faults into requests for these path templates."""
        self._exempt.update(templates)

    def exhaust_primary(self, reset_in: float) -> None:
        """Answer 403 with remaining 0 until the clock passes now + reset_in."""
        self.primary_reset_at = self._clock.time() + reset_in

    def primary_exhausted(self) -> float | None:
        """Return the reset time while the primary limit is exhausted, else None."""
        reset = self.primary_reset_at
        if reset is not None and self._clock.time() >= reset:
            self.primary_reset_at = reset = None
        return reset

    def pick(self, template: str, method: str = "GET") -> Fault | None:
        """Return the fault for the next request, if any."""
        if self.rate <= 0 or template in self._exempt or not self.kinds or self._left == 0:
            return None
        if self._methods is not None and method.upper() not in self._methods:
            return None
        if self._rng.random() >= self.rate:
            return None
        if self._left is not None:
            self._left -= 1
        kind = self._rng.choice(self.kinds)
        self.injected.append(kind)
        return Fault(kind)
