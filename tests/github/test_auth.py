import asyncio

import jwt as pyjwt
import pytest

from bot.clock import FakeClock
from bot.github.auth import AppAuth, TokenCache


@pytest.fixture
def pem(rsa_private_key: str) -> str:
    return rsa_private_key


def claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def test_jwt_claims_follow_the_injected_clock(pem):
    clock = FakeClock(start=1_900_000_000)
    token = AppAuth(123, pem, clock).jwt()
    assert claims(token) == {"iat": 1_900_000_000 - 60, "exp": 1_900_000_540, "iss": "123"}


def test_jwt_is_reused_then_refreshed_a_minute_before_expiry(pem):
    clock = FakeClock()
    auth = AppAuth(1, pem, clock)
    first = auth.jwt()
    clock.advance(479)
    assert auth.jwt() == first
    clock.advance(2)
    assert claims(auth.jwt())["iat"] == int(clock.time()) - 60


class Issuer:
    def __init__(self, clock: FakeClock, lifetime: float = 3600) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls: list[int] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, installation_id: int) -> tuple[str, float]:
        self.calls.append(installation_id)
        if self.gate is not None:
            await self.gate.wait()
        return f"ghs_{installation_id}_{len(self.calls)}", self.clock.time() + self.lifetime


def cache_with(clock: FakeClock, pem: str) -> tuple[TokenCache, Issuer]:
    issuer = Issuer(clock)
    return TokenCache(AppAuth(1, pem, clock), issuer, clock), issuer


async def test_token_is_reused_while_fresh(pem):
    cache, issuer = cache_with(FakeClock(), pem)
    assert await cache.token(7) == await cache.token(7) == "ghs_7_1"
    assert issuer.calls == [7]


async def test_token_is_refreshed_five_minutes_before_expiry(pem):
    clock = FakeClock()
    cache, _issuer = cache_with(clock, pem)
    await cache.token(7)
    clock.advance(3600 - 301)
    assert await cache.token(7) == "ghs_7_1"
    clock.advance(2)
    assert await cache.token(7) == "ghs_7_2"


async def test_concurrent_callers_share_one_request(pem):
    cache, issuer = cache_with(FakeClock(), pem)
    issuer.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.token(7)) for _ in range(5)]
    await asyncio.sleep(0)
    issuer.gate.set()
    assert set(await asyncio.gather(*waiting)) == {"ghs_7_1"}
    assert issuer.calls == [7]


async def test_installations_do_not_share_tokens(pem):
    cache, issuer = cache_with(FakeClock(), pem)
    assert await cache.token(1) != await cache.token(2)
    assert issuer.calls == [1, 2]


async def test_invalidate_drops_only_the_named_token(pem):
    cache, _issuer = cache_with(FakeClock(), pem)
    await cache.token(7)
    cache.invalidate(7, "ghs_other")
    assert await cache.token(7) == "ghs_7_1"
    cache.invalidate(7, "ghs_7_1")
    assert await cache.token(7) == "ghs_7_2"


async def test_a_failed_request_is_not_cached(pem):
    clock = FakeClock()
    calls = []

    async def flaky(installation_id: int) -> tuple[str, float]:
        calls.append(installation_id)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return "ghs_ok", clock.time() + 3600

    cache = TokenCache(AppAuth(1, pem, clock), flaky, clock)
    with pytest.raises(RuntimeError):
        await cache.token(3)
    assert await cache.token(3) == "ghs_ok"
