"""What one worker learns of an org, every worker's report sees (a real redis-server)."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.core.models import Finding, FindingKind, Outcome, RepoStatus
from bot.store.redis_statuses import RedisStatusStore
from tests.redis.conftest import RedisServer


async def test_statuses_fixes_and_delays_are_shared(redis_server: RedisServer) -> None:
    a, b = Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)
    one, two = RedisStatusStore(a), RedisStatusStore(b)
    finding = Finding(FindingKind.UNPROTECTED, "main has no branch protection.")
    one.record(RepoStatus("acme/api", Outcome.FIXED, (finding,), fixed_at="2026-11-29T20:00:00Z"))
    one.record(RepoStatus("acme/api", Outcome.COMPLIANT))  # still "fixed at T"
    one.set_delayed("acme", True)
    await one.flush()

    await two.refresh("acme")

    shared = two.get("acme/api")
    assert shared is not None and shared.outcome is Outcome.FIXED
    assert shared.fixed_at == "2026-11-29T20:00:00Z"
    assert two.org("acme").delayed is True
    await one.close()
    await two.close()


async def test_visibility_is_shared_and_unknown_counts_as_private(
    redis_server: RedisServer,
) -> None:
    a, b = Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)
    one, two = RedisStatusStore(a), RedisStatusStore(b)
    one.record(RepoStatus("acme/web", Outcome.COMPLIANT, private=False))
    one.record(RepoStatus("acme/payroll", Outcome.COMPLIANT, private=True))
    await one.flush()
    older = '{"repo": "acme/old", "outcome": "compliant"}'  # written before visibility was kept
    await a.hset("bulwark:status:acme", "acme/old", older)

    await two.refresh("acme")

    seen = {s.repo: s.private for s in two.org("acme").statuses.values()}
    assert seen == {"acme/web": False, "acme/payroll": True, "acme/old": True}
    await one.close()
    await two.close()
