"""A bounded number of slash commands answered per person per thread per minute."""

from __future__ import annotations

from collections import deque
from enum import Enum

from cachetools import LRUCache

from bot.clock import Clock

COMMANDS_PER_MINUTE = 5
WINDOW = 60.0


class Allowance(Enum):
    """What to do with one more command from one person on a thread."""

    ANSWER = "answer"
    NOTICE = "notice"  # the person's first one over the limit: say so once
    DROP = "drop"


class CommandLimiter:
    """Sliding one-minute window per person per thread (`owner/repo#number`), bounded memory.

    Per person, so one commenter's flood never silences anyone else on the thread.
    """

    def __init__(self, clock: Clock, per_minute: int = COMMANDS_PER_MINUTE) -> None:
        self.clock = clock
        self.per_minute = per_minute
        self._seen: LRUCache[str, deque[float]] = LRUCache(maxsize=10_000)
        self._noticed: LRUCache[str, float] = LRUCache(maxsize=10_000)

    def take(self, thread: str, author: str) -> Allowance:
        """Count one command by `author` on `thread` and say whether to answer it."""
        key = f"{thread}@{author.lower()}"
        now = self.clock.monotonic()
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if len(times) < self.per_minute:
            times.append(now)
            return Allowance.ANSWER
        noticed = self._noticed.get(key)
        if noticed is not None and noticed > now - WINDOW:
            return Allowance.DROP
        self._noticed[key] = now
        return Allowance.NOTICE

    def forgive(self, thread: str, author: str) -> None:
        """Forget `author`'s notice: their next command past the limit is weighed again."""
        self._noticed.pop(f"{thread}@{author.lower()}", None)
