"""A bounded number of slash commands answered per pull request per minute."""

from __future__ import annotations

from collections import deque
from enum import Enum

from cachetools import LRUCache

from bot.clock import Clock

COMMANDS_PER_MINUTE = 5
WINDOW = 60.0


class Allowance(Enum):
    """What to do with one more command on a thread."""

    ANSWER = "answer"
    NOTICE = "notice"  # the first one over the limit: say so once
    DROP = "drop"


class CommandLimiter:
    """Sliding one-minute window per thread (`owner/repo#number`), bounded memory."""

    def __init__(self, clock: Clock, per_minute: int = COMMANDS_PER_MINUTE) -> None:
        self.clock = clock
        self.per_minute = per_minute
        self._seen: LRUCache[str, deque[float]] = LRUCache(maxsize=10_000)
        self._noticed: LRUCache[str, float] = LRUCache(maxsize=10_000)

    def take(self, thread: str) -> Allowance:
        """Count one command on `thread` and say whether to answer it."""
        now = self.clock.monotonic()
        times = self._seen.setdefault(thread, deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if len(times) < self.per_minute:
            times.append(now)
            return Allowance.ANSWER
        noticed = self._noticed.get(thread)
        if noticed is not None and noticed > now - WINDOW:
            return Allowance.DROP
        self._noticed[thread] = now
        return Allowance.NOTICE
