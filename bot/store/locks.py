"""Per-repository locks in one process; `redis_locks` holds them across a fleet."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any
from weakref import WeakValueDictionary


class RepoLocks:
    """One asyncio lock per repository: no two reconciliations of a repo overlap.

    A fleet of workers sharing Redis passes a lock registry with the same
    `lock(repo)` method returning an async context manager held across processes.
    """

    def __init__(self) -> None:
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    def lock(self, repo: str) -> AbstractAsyncContextManager[Any]:
        """Return the lock of `owner/name` (case-insensitive)."""
        key = repo.lower()
        found = self._locks.get(key)
        if found is None:
            found = asyncio.Lock()
            self._locks[key] = found
        return found
