"""RedisStatusStore: every repository's latest status, shared by the fleet.

Writes go to this process's memory at once (the store's methods are plain
calls inside the reconciler) and through to Redis in order, in the background:
one hash per org (`bulwark:status:{org}`, repo -> RepoStatus as JSON) and one
capped list of direct pushes (`bulwark:pushes:{org}`). `refresh(org)`, called
before each report render, flushes this process's pending writes and loads the
org from Redis, so a report rendered on any worker sees the whole org.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from bot.core.models import DirectPush, Finding, FindingKind, Outcome, RepoStatus
from bot.core.policy import Mode
from bot.store.statuses import DIRECT_PUSH_MEMORY, StatusMap, StatusStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

Op = Callable[[Any], object]

log = logging.getLogger(__name__)

REFRESH_SLICE = 500  # statuses decoded per event-loop step


def status_key(org: str) -> str:
    """Return the Redis hash of an org's repository statuses."""
    return f"bulwark:status:{org.lower()}"


def pushes_key(org: str) -> str:
    """Return the Redis list of an org's recent direct pushes."""
    return f"bulwark:pushes:{org.lower()}"


def delayed_key(org: str) -> str:
    """Return the Redis key saying the org's last scan was delayed by a rate limit."""
    return f"bulwark:delayed:{org.lower()}"


def encode_status(status: RepoStatus) -> str:
    """Serialize a RepoStatus to JSON."""
    return json.dumps(dataclasses.asdict(status), sort_keys=True)


def decode_status(raw: str | bytes) -> RepoStatus:
    """Rebuild a RepoStatus from `encode_status` output."""
    data = json.loads(raw)
    findings = tuple(
        Finding(**{**f, "kind": FindingKind(f["kind"])}) for f in data.get("findings", ())
    )
    return RepoStatus(
        repo=data["repo"],
        outcome=Outcome(data["outcome"]),
        findings=findings,
        mode=Mode(data.get("mode", Mode.ENFORCE)),
        fixed_at=data.get("fixed_at"),
        reason=data.get("reason"),
        branches=tuple(data.get("branches", ())),
        private=data.get("private") is not False,
        codeql=data.get("codeql"),
    )


def encode_push(push: DirectPush) -> str:
    """Serialize a DirectPush to JSON."""
    return json.dumps(dataclasses.asdict(push), sort_keys=True)


def decode_push(raw: str | bytes) -> DirectPush:
    """Rebuild a DirectPush from `encode_push` output."""
    return DirectPush(**json.loads(raw))


class RedisStatusStore(StatusStore):
    """A StatusStore written through to Redis and reloaded per org before reports."""

    def __init__(self, redis: Redis, *, max_orgs: int = 10_000) -> None:
        super().__init__(max_orgs)
        self._redis = redis
        self._pending: list[Op] = []
        self._flush_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        # Per refresh under way: its org, and the repositories written here meanwhile.
        self._loading: list[tuple[str, set[str]]] = []

    def record(self, status: RepoStatus) -> RepoStatus:
        """Remember the latest status of a repository, here and in Redis."""
        status = super().record(status)
        org = status.repo.split("/", 1)[0]
        self._written(org, status.repo)
        body = encode_status(status)
        self._write(lambda p: p.hset(status_key(org), status.repo.lower(), body))
        return status

    def forget(self, repo: str) -> None:
        """Drop a repository, here and in Redis."""
        super().forget(repo)
        org = repo.split("/", 1)[0]
        self._written(org, repo)
        self._write(lambda p: p.hdel(status_key(org), repo.lower()))

    def forget_org(self, org: str) -> None:
        """Drop everything known of an org, here and in Redis."""
        super().forget_org(org)
        self._write(lambda p: p.delete(status_key(org), pushes_key(org)))

    def add_direct_push(self, org: str, push: DirectPush) -> None:
        """Remember a direct push for the org report, here and in Redis."""
        super().add_direct_push(org, push)
        body = encode_push(push)
        self._write(lambda p: p.lpush(pushes_key(org), body))
        self._write(lambda p: p.ltrim(pushes_key(org), 0, DIRECT_PUSH_MEMORY - 1))

    def set_delayed(self, org: str, delayed: bool) -> None:
        """Record the org's last scan as delayed or not, here and in Redis."""
        super().set_delayed(org, delayed)
        value = b"1" if delayed else b"0"
        self._write(lambda p: p.set(delayed_key(org), value))

    async def refresh(self, org: str) -> None:
        """Flush pending writes, then load the org's statuses, pushes and delay from Redis.

        What this process records or forgets while the load is under way stays as it
        wrote it: the loaded hash may predate it.
        """
        await self.flush()
        written: set[str] = set()
        self._loading.append((org.lower(), written))
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(status_key(org))
                pipe.lrange(pushes_key(org), 0, DIRECT_PUSH_MEMORY - 1)
                pipe.get(delayed_key(org))
                statuses, pushes, delayed = await pipe.execute()
            # Decoded a slice at a time: 10,000 statuses take some 120 ms, too long for one
            # step of a worker's loop, which runs other jobs meanwhile.
            loaded = StatusMap()
            for n, (key, raw) in enumerate(statuses.items(), 1):
                loaded[key.decode() if isinstance(key, bytes) else key] = decode_status(raw)
                if n % REFRESH_SLICE == 0:
                    await asyncio.sleep(0)
        finally:
            self._loading = [entry for entry in self._loading if entry[1] is not written]
        state = self.org(org)
        for repo in written:
            if repo in state.statuses:
                loaded[repo] = state.statuses[repo]
            elif repo in loaded:
                del loaded[repo]
        state.delayed = delayed in (b"1", "1")
        state.statuses = loaded
        state.direct_pushes = deque((decode_push(p) for p in pushes), maxlen=DIRECT_PUSH_MEMORY)

    async def keep_only(self, org: str, repos: Iterable[str]) -> None:
        """Forget, here and in Redis, the org's repositories a full scan no longer saw.

        Asks Redis for the names only: every worker's statuses are there, and none needs
        decoding to be forgotten.
        """
        await self.flush()
        keep = {r.lower() for r in repos}
        # redis-py types its commands for both clients: this one's answer is awaited.
        stored = await cast(Awaitable[list[Any]], self._redis.hkeys(status_key(org)))
        names = {k.decode() if isinstance(k, bytes) else str(k) for k in stored}
        for repo in sorted((names | set(self.org(org).statuses)) - keep):
            self.forget(repo)

    async def flush(self) -> None:
        """Send pending writes to Redis in order; a failure drops them (the resync repairs)."""
        async with self._flush_lock:
            while self._pending:
                ops, self._pending = self._pending, []
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for op in ops:
                            op(pipe)
                        await pipe.execute()
                except Exception as exc:
                    log.warning("%d status writes lost (Redis: %s); resync repairs", len(ops), exc)

    async def close(self) -> None:
        """Flush what is pending and stop the background writer."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.flush()

    def _written(self, org: str, repo: str) -> None:
        """Note a repository written here for each refresh of its org under way."""
        for loading, written in self._loading:
            if loading == org.lower():
                written.add(repo.lower())

    def _write(self, op: Op) -> None:
        self._pending.append(op)
        if self._flusher is None or self._flusher.done():
            try:
                self._flusher = asyncio.get_running_loop().create_task(self.flush())
            except RuntimeError:  # no loop: the next refresh or close sends it
                self._flusher = None
