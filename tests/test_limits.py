"""The slash-command limiter: per person per thread, one notice, a sliding minute."""

from __future__ import annotations

from bot.clock import FakeClock
from bot.engine.limits import Allowance, CommandLimiter

THREAD = "acme/api#7"


def test_each_person_has_their_own_allowance_on_a_thread(clock: FakeClock) -> None:
    limiter = CommandLimiter(clock, per_minute=2)
    flood = [limiter.take(THREAD, "Mallory") for _ in range(4)]
    assert flood == [Allowance.ANSWER, Allowance.ANSWER, Allowance.NOTICE, Allowance.DROP]
    assert limiter.take(THREAD, "mallory") is Allowance.DROP  # logins are case-insensitive
    assert limiter.take(THREAD, "adam") is Allowance.ANSWER
    assert limiter.take("acme/api#8", "mallory") is Allowance.ANSWER

    clock.advance(60)
    assert limiter.take(THREAD, "mallory") is Allowance.ANSWER


def test_a_forgiven_person_is_weighed_again_past_the_limit(clock: FakeClock) -> None:
    limiter = CommandLimiter(clock, per_minute=1)
    assert limiter.take(THREAD, "adam") is Allowance.ANSWER
    assert limiter.take(THREAD, "adam") is Allowance.NOTICE
    limiter.forgive(THREAD, "adam")
    assert limiter.take(THREAD, "adam") is Allowance.NOTICE
