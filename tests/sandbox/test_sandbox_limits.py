"""The sandbox's secondary rate limits: per endpoint, GraphQL, content creation, concurrency."""

from __future__ import annotations

from bot.clock import FakeClock
from bot.sandbox.limits import MAX_CONCURRENT, SecondaryLimits

PUT = ("PUT", "/repos/{owner}/{repo}/branches/{branch}/protection")
GET = ("GET", "/repos/{owner}/{repo}")
COMMENT = ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")


def admit(limits: SecondaryLimits, method: str, template: str, n: int, body: object = None) -> int:
    admitted = 0
    for _ in range(n):
        if limits.enter("inst:1", method, template, body) is None:
            limits.leave("inst:1")
            admitted += 1
    return admitted


def test_a_rest_endpoint_gets_900_points_a_minute() -> None:
    clock = FakeClock()
    limits = SecondaryLimits(clock)
    assert admit(limits, *PUT, 200) == 180  # writes cost 5
    assert admit(limits, *GET, 1000) == 900  # another endpoint, its own 900; reads cost 1
    wait = limits.enter("inst:1", *PUT, None)
    assert wait is not None and 0 < wait <= 60
    clock.advance(wait)
    assert admit(limits, *PUT, 1) == 1
    assert admit(limits, *PUT, 1) == 1 and limits.enter("inst:2", *PUT, None) is None


def test_graphql_gets_2000_points_a_minute_mutations_cost_5() -> None:
    limits = SecondaryLimits(FakeClock())
    assert admit(limits, "POST", "/graphql", 2100, {"query": "query { viewer { login } }"}) == 2000
    other = SecondaryLimits(FakeClock())
    assert admit(other, "POST", "/graphql", 500, {"query": "mutation { x }"}) == 400


def test_content_creation_is_80_a_minute_and_500_an_hour() -> None:
    clock = FakeClock()
    limits = SecondaryLimits(clock)
    assert admit(limits, *COMMENT, 100) == 80
    total = 80
    for _ in range(10):
        clock.advance(61)
        total += admit(limits, *COMMENT, 100)
    assert total == 500


def test_at_most_100_requests_at_once() -> None:
    limits = SecondaryLimits(FakeClock())
    for _ in range(MAX_CONCURRENT):
        assert limits.enter("inst:1", *GET, None) is None
    assert limits.enter("inst:1", *GET, None) is not None
    limits.leave("inst:1")
    assert limits.enter("inst:1", *GET, None) is None
