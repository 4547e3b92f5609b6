"""Injected failures: 5xx, dropped connections, hangs, secondary and primary rate limits."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from bot.clock import Clock

KINDS = ("502", "503", "reset", "timeout", "secondary", "secondary429")
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
    server simulates a hang, so clients in tests use a shorter read timeout.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.rate = 0.0
        self.kinds: tuple[str, ...] = KINDS
        self.timeout_delay = 2.0
        self.primary_reset_at: float | None = None
        self.injected: list[str] = []
        self._exempt: set[str] = set()
        self._rng = random.Random(0)

    def configure(self, rate: float, kinds: Iterable[str] = KINDS, seed: int = 0) -> None:
        """Fail this fraction of requests with faults drawn from `kinds`."""
        chosen = tuple(kinds)
        unknown = set(chosen) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.rate, self.kinds, self._rng = rate, chosen, random.Random(seed)

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

    def pick(self, template: str) -> Fault | None:
        """Return the fault for the next request, if any."""
        if self.rate <= 0 or template in self._exempt or not self.kinds:
            return None
        if self._rng.random() >= self.rate:
            return None
        kind = self._rng.choice(self.kinds)
        self.injected.append(kind)
        return Fault(kind)
