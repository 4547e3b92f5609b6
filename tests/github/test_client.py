import aiohttp
import pytest

from bot.clock import FakeClock
from bot.github.client import RetryPolicy, reading_post
from bot.github.errors import RateLimited, Unauthorized, Unavailable
from tests.github.scripted import reply, scripted

NOW = 1_800_000_000


def limit(remaining: int, reset: float) -> dict[str, str]:
    return {
        "x_ratelimit_limit": "5000",
        "x_ratelimit_remaining": str(remaining),
        "x_ratelimit_reset": str(int(reset)),
    }


class Tokens:
    """Hands out numbered tokens and records which ones were refused."""

    def __init__(self) -> None:
        self.issued = 0
        self.refused: list[str] = []

    async def __call__(self) -> str:
        if not self.issued or self.refused[-1:] == [f"ghs_{self.issued}"]:
            self.issued += 1
        return f"ghs_{self.issued}"

    def refuse(self, token: str) -> None:
        self.refused.append(token)


def auth_of(request) -> str:
    return request[2]["authorization"]


async def test_each_request_carries_the_installation_token():
    gh = scripted([reply(200, {"ok": 1})])
    assert await gh.getitem("/rate_limit") == {"ok": 1}
    assert auth_of(gh.requests[0]) == "token ghs_fixed"


async def test_unauthorized_token_is_refreshed_once_and_retried():
    tokens = Tokens()
    gh = scripted(
        [reply(401, {"message": "Bad credentials"}), reply(200, {"ok": 1})],
        token=tokens,
        on_unauthorized=tokens.refuse,
    )
    assert await gh.getitem("/repos/o/r") == {"ok": 1}
    assert tokens.refused == ["ghs_1"]
    assert [auth_of(r) for r in gh.requests] == ["token ghs_1", "token ghs_2"]


async def test_second_unauthorized_raises():
    tokens = Tokens()
    bad = reply(401, {"message": "Bad credentials"})
    gh = scripted([bad, bad], token=tokens, on_unauthorized=tokens.refuse)
    with pytest.raises(Unauthorized):
        await gh.getitem("/repos/o/r")
    assert len(gh.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_on_reads_are_retried(status):
    gh = scripted([reply(status, {"message": "oops"}), reply(200, {"ok": 1})])
    assert await gh.getitem("/repos/o/r") == {"ok": 1}
    assert len(gh.requests) == 2


async def test_server_errors_are_retried_a_bounded_number_of_times():
    gh = scripted([reply(502, {"message": "bad gateway"})] * 10)
    with pytest.raises(Unavailable):
        await gh.getitem("/repos/o/r")
    assert len(gh.requests) == RetryPolicy.for_tests().attempts


async def test_server_errors_on_post_are_not_retried():
    gh = scripted([reply(502, {"message": "bad gateway"}), reply(201, {"id": 1})])
    with pytest.raises(Unavailable):
        await gh.post("/repos/o/r/issues", data={"title": "t"})
    assert len(gh.requests) == 1


async def test_connection_reset_is_retried_for_get():
    gh = scripted([aiohttp.ServerDisconnectedError(), reply(200, {"ok": 1})])
    assert await gh.getitem("/repos/o/r") == {"ok": 1}
    assert len(gh.requests) == 2


async def test_timeouts_give_up_as_unavailable():
    gh = scripted([TimeoutError()] * 10)
    with pytest.raises(Unavailable):
        await gh.getitem("/repos/o/r")
    assert len(gh.requests) == RetryPolicy.for_tests().attempts


async def test_connection_reset_is_not_retried_for_post():
    gh = scripted([aiohttp.ServerDisconnectedError(), reply(201, {"id": 1})])
    with pytest.raises(Unavailable):
        await gh.post("/repos/o/r/issues", data={"title": "t"})
    assert len(gh.requests) == 1


async def test_secondary_limit_waits_retry_after_then_retries():
    clock = FakeClock(NOW)
    limited = reply(403, {"message": "You have exceeded a secondary rate limit"}, retry_after="7")
    gh = scripted([limited, reply(200, {"ok": 1})], clock)
    assert await gh.getitem("/repos/o/r") == {"ok": 1}
    assert clock.sleeps == [7.0]
    assert len(gh.requests) == 2


async def test_secondary_limit_without_retry_after_waits_at_least_a_minute():
    clock = FakeClock(NOW)
    limited = reply(403, {"message": "You have exceeded a secondary rate limit."})
    gh = scripted([limited, limited, reply(200, {"ok": 1})], clock)
    await gh.getitem("/repos/o/r")
    assert clock.sleeps == [60.0, 120.0]


async def test_too_long_a_secondary_wait_raises_rate_limited():
    clock = FakeClock(NOW)
    gh = scripted([reply(429, {"message": "slow down"}, retry_after="3600")], clock)
    with pytest.raises(RateLimited):
        await gh.getitem("/repos/o/r")
    assert clock.sleeps == []


async def test_exhausted_primary_limit_waits_until_reset_before_next_request():
    clock = FakeClock(NOW)
    first = reply(200, {"n": 1}, **limit(0, NOW + 100))
    gh = scripted([first, reply(200, {"n": 2}, **limit(4999, NOW + 3600))], clock)
    await gh.getitem("/a")
    assert await gh.getitem("/b") == {"n": 2}
    assert clock.sleeps == [101.0]


async def test_rest_never_waits_for_the_graphql_budget():
    clock = FakeClock(NOW)
    spent = reply(200, {"data": {}}, **limit(0, NOW + 600), x_ratelimit_resource="graphql")
    rest = reply(200, {"n": 1}, **limit(4000, NOW + 3600), x_ratelimit_resource="core")
    gh = scripted([spent, rest, reply(200, {"data": {}}, x_ratelimit_resource="graphql")], clock)
    await gh.post("https://api.test/graphql", data={"query": "{ viewer { login } }"})
    assert await gh.getitem("/repos/o/r") == {"n": 1}
    assert clock.sleeps == []  # REST went at once
    assert gh.limit_for("graphql").remaining == 0
    assert gh.limit_for("core").remaining == 4000
    await gh.post("https://api.test/graphql", data={"query": "{ viewer { login } }"})
    assert clock.sleeps == [601.0]  # the next GraphQL call waits for its own reset


async def test_primary_limit_403_waits_until_reset_and_retries():
    clock = FakeClock(NOW)
    refused = reply(403, {"message": "API rate limit exceeded"}, **limit(0, NOW + 30))
    gh = scripted([refused, reply(200, {"ok": 1})], clock)
    assert await gh.getitem("/repos/o/r") == {"ok": 1}
    assert clock.sleeps == [31.0]


async def test_primary_limit_beyond_max_wait_raises_with_reset():
    clock = FakeClock(NOW)
    refused = reply(403, {"message": "API rate limit exceeded"}, **limit(0, NOW + 3000))
    gh = scripted([refused], clock)
    with pytest.raises(RateLimited) as caught:
        await gh.getitem("/repos/o/r")
    assert caught.value.reset_at == NOW + 3000
    assert clock.sleeps == []


async def test_writes_are_spaced_by_the_write_interval():
    clock = FakeClock(NOW)
    gh = scripted([reply(201, {"id": 1}), reply(201, {"id": 2})], clock, write_interval=1.5)
    await gh.post("/repos/o/r/issues", data={"title": "a"})
    await gh.post("/repos/o/r/issues", data={"title": "b"})
    assert clock.sleeps == [1.5]


async def test_reads_are_not_spaced():
    clock = FakeClock(NOW)
    gh = scripted([reply(200, {}), reply(200, {})], clock, write_interval=1.5)
    await gh.getitem("/a")
    await gh.getitem("/b")
    assert clock.sleeps == []


async def test_reading_posts_skip_the_write_gate():
    clock = FakeClock(NOW)
    gh = scripted([reply(200, {"data": {}}), reply(200, {"data": {}})], clock, write_interval=1.5)
    with reading_post():  # GraphQL queries and token requests create nothing
        await gh.post("/graphql", data={"query": "{ viewer { login } }"})
        await gh.post("/graphql", data={"query": "{ viewer { login } }"})
    assert clock.sleeps == []


async def test_not_modified_is_served_from_the_etag_cache():
    cache: dict = {}
    gh = scripted(
        [reply(200, {"name": "r"}, etag='"abc"'), reply(304, None, etag='"abc"')], cache=cache
    )
    assert await gh.getitem("/repos/o/r") == {"name": "r"}
    assert await gh.getitem("/repos/o/r") == {"name": "r"}
    assert gh.requests[1][2]["if-none-match"] == '"abc"'


def test_backoff_is_bounded_by_max_delay():
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    assert all(0 <= policy.backoff(attempt) <= 4.0 for attempt in range(1, 20))
    assert RetryPolicy.for_tests().backoff(3) == 0.0
