"""GitHub's secondary rate limits, as the sandbox enforces them.

https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
- at most 100 concurrent requests (REST and GraphQL together);
- at most 900 points a minute for a REST endpoint, 2,000 for GraphQL: GET, HEAD and
  OPTIONS cost 1 point, POST, PATCH, PUT and DELETE 5; a GraphQL query 1, a mutation 5;
- at most 80 content-generating requests a minute and 500 an hour.
Each is counted per caller (installation, user). A request over a limit is refused with
403 (or 429) and `retry-after`; it costs nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from bot.clock import Clock

MAX_CONCURRENT = 100
REST_POINTS_PER_MINUTE = 900
GRAPHQL_POINTS_PER_MINUTE = 2000
CONTENT_PER_MINUTE = 80
CONTENT_PER_HOUR = 500
WRITE_POINTS = 5
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Requests that create content others see (issues, comments, reactions, check runs,
# labels, commit comments): GitHub's "content-generating requests".
CONTENT_SUFFIXES = ("/issues", "/comments", "/reactions", "/check-runs", "/labels")


@dataclass
class _Window:
    """Points spent in a sliding window."""

    span: float
    limit: int
    spent: deque[tuple[float, int]] = field(default_factory=deque)

    def used(self, now: float) -> int:
        while self.spent and self.spent[0][0] <= now - self.span:
            self.spent.popleft()
        return sum(points for _, points in self.spent)

    def wait(self, now: float, points: int) -> float:
        """Return how long until `points` more fit (0: they fit now)."""
        used = self.used(now)
        if used + points <= self.limit:
            return 0.0
        for at, spent in self.spent:
            used -= spent
            if used + points <= self.limit:
                return at + self.span - now
        return self.span


def points(method: str, template: str, body: object) -> int:
    """Return a request's secondary-limit cost."""
    if template == "/graphql":
        query = body.get("query", "") if isinstance(body, dict) else ""
        return WRITE_POINTS if str(query).lstrip().startswith("mutation") else 1
    return 1 if method in READ_METHODS else WRITE_POINTS


def creates_content(method: str, template: str) -> bool:
    """Return whether a request generates content (counted against 80/min, 500/h)."""
    return (
        method == "POST" and template.startswith("/repos/") and template.endswith(CONTENT_SUFFIXES)
    )


class SecondaryLimits:
    """Counts each caller's concurrent requests and points; says how long to back off."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.enabled = True
        self._in_flight: dict[str, int] = {}
        self._windows: dict[tuple[str, str], _Window] = {}
        self.refused: list[tuple[str, str]] = []  # (caller, which limit)

    def _window(self, key: str, name: str, span: float, limit: int) -> _Window:
        return self._windows.setdefault((key, name), _Window(span, limit))

    def _windows_for(self, key: str, method: str, template: str) -> list[_Window]:
        if template == "/graphql":
            found = [self._window(key, "graphql", 60, GRAPHQL_POINTS_PER_MINUTE)]
        else:
            endpoint = f"{method} {template}"
            found = [self._window(key, endpoint, 60, REST_POINTS_PER_MINUTE)]
        return found

    def _content_windows(self, key: str) -> list[_Window]:
        return [
            self._window(key, "content/min", 60, CONTENT_PER_MINUTE),
            self._window(key, "content/hour", 3600, CONTENT_PER_HOUR),
        ]

    def enter(self, key: str, method: str, template: str, body: object) -> float | None:
        """Admit a request (return None) or return the seconds to wait before retrying."""
        if not self.enabled:
            return None
        now = self._clock.time()
        if self._in_flight.get(key, 0) >= MAX_CONCURRENT:
            self.refused.append((key, "concurrent"))
            return 1.0
        cost = points(method, template, body)
        charges = [(w, cost) for w in self._windows_for(key, method, template)]
        if creates_content(method, template):
            charges += [(w, 1) for w in self._content_windows(key)]
        wait = max((w.wait(now, n) for w, n in charges), default=0.0)
        if wait > 0:
            self.refused.append((key, f"{method} {template}"))
            return wait
        for window, n in charges:
            window.spent.append((now, n))
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return None

    def leave(self, key: str) -> None:
        """End an admitted request."""
        self._in_flight[key] -= 1
