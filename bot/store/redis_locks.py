"""RedisRepoLocks: one lock per repository across every worker of the fleet.

Each lock is a redis-py `Lock` (SET NX PX with a random token; release and
renewal are Lua scripts that check the token). Its TTL outlives the longest job
(`job_timeout` plus a margin: arq cancels a job at `job_timeout`), and a renewal
task resets the TTL every third of it while the lock is held, so a crashed
worker's lock frees itself within one TTL and a live one never loses it.

GitHub accepts no fencing token, so a worker that stalls past its TTL cannot be
fenced off at GitHub itself. Instead: when a renewal finds the lock no longer
ours, the task holding it is cancelled before its next write (arq then retries
the job), and every write is idempotent (a fresh read, a plan, a write only when
the plan is non-empty), so a late writer at worst writes the same floor again.

Locks are re-entrant within one task (and the tasks it starts): a job holds its
repository's lock, and the reconciler it calls asks for the same lock again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

DEFAULT_TIMEOUT = 305.0
RELEASE_RETRY = 0.5

_HELD: ContextVar[frozenset[str]] = ContextVar("bulwark_repo_locks_held", default=frozenset())

log = logging.getLogger(__name__)


class LockBusy(TimeoutError):
    """Another worker held the lock for longer than this one would wait."""


class RedisRepoLocks:
    """`lock(repo)` returns an async context manager held across processes."""

    def __init__(
        self,
        redis: Redis,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        wait: float | None = None,
        poll: float = 0.05,
    ) -> None:
        self._redis = redis
        self.timeout = timeout
        self.wait = timeout if wait is None else wait
        self.poll = poll
        self._releasing: set[asyncio.Task[None]] = set()

    @staticmethod
    def key(repo: str) -> str:
        """Return the Redis key of a repository's lock."""
        return f"bulwark:lock:{repo.lower()}"

    def lock(self, repo: str) -> AbstractAsyncContextManager[Any]:
        """Return the lock of `owner/name` (case-insensitive)."""
        return self._hold(repo.lower())

    @contextlib.asynccontextmanager
    async def _hold(self, repo: str) -> AsyncIterator[None]:
        held = _HELD.get()
        if repo in held:
            yield
            return
        lock = self._redis.lock(
            self.key(repo),
            timeout=self.timeout,
            sleep=self.poll,
            blocking_timeout=self.wait,
            thread_local=False,
        )
        if not await lock.acquire():
            raise LockBusy(f"lock of {repo} still held after {self.wait:.1f}s")
        token: bytes = lock.local.token
        owner = asyncio.current_task()
        renewal = asyncio.create_task(self._renew(lock, repo, owner))
        reset = _HELD.set(held | {repo})
        try:
            yield
        finally:
            _HELD.reset(reset)
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
            await _release(lock, token, repo, self.timeout, self._releasing)

    async def _renew(self, lock: Any, repo: str, owner: asyncio.Task[Any] | None) -> None:
        while True:
            await asyncio.sleep(self.timeout / 3)
            try:
                await lock.reacquire()
            except Exception as exc:
                from redis.exceptions import LockNotOwnedError

                if not isinstance(exc, LockNotOwnedError):
                    log.warning("lock renewal of %s failed: %s; trying again", repo, exc)
                    continue
                log.error("lock of %s lost while held: cancelling the job", repo)
                if owner is not None:
                    owner.cancel()
                return


async def _release(
    lock: Any, token: bytes, repo: str, ttl: float, tasks: set[asyncio.Task[None]]
) -> None:
    """Release now, or keep trying in the background while Redis is away (until the TTL)."""
    if await _try_release(lock, token, repo):
        return
    task = asyncio.create_task(_release_later(lock, token, repo, ttl))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _try_release(lock: Any, token: bytes, repo: str) -> bool:
    from redis.exceptions import LockError

    # Not `lock.release()`: it forgets the token before asking Redis, so after a failed
    # try every later one would find "an unlocked lock" and the key would stay until its TTL.
    try:
        await lock.do_release(token)
    except LockError:  # expired or taken over: nothing of ours to release
        log.warning("lock of %s had expired before its release", repo)
    except Exception as exc:
        log.warning("lock of %s not released yet (%s)", repo, exc)
        return False
    return True


async def _release_later(lock: Any, token: bytes, repo: str, ttl: float) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + ttl
    while loop.time() < end:
        await asyncio.sleep(RELEASE_RETRY)
        if await _try_release(lock, token, repo):
            return
