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
