"""The primary rate limit runs out mid-scan: Bulwark waits for the reset and carries on."""

from __future__ import annotations

import logging

import pytest

from bot.cli.embedded import Embedded
from bot.clock import FakeClock
from bot.core.render import REPORT_DELAYED, REPORT_MARKER_PREFIX
from bot.sandbox import Sandbox
from bot.sandbox.faults import Faults
from tests.faults.conftest import meets_policy, protection_puts, resync
from tests.fixtures import install

REPOS = 30
RESET_IN = 600.0  # within RetryPolicy.max_wait: worth waiting for
BAD_POLICY = "pull_request_reviews:\n  required_approving_review_count: lots\n"


class ExhaustAfterPuts(Faults):
    """Uses up the primary limit when the n-th protection PUT arrives."""

    def __init__(self, clock: FakeClock, after: int) -> None:
        super().__init__(clock)
        self.after = after
        self.puts = 0
        self.reset_in = RESET_IN

    def pick(self, template: str, method: str = "GET") -> None:  # type: ignore[override]
        if method == "PUT" and template.endswith("/protection"):
            self.puts += 1
            if self.puts == self.after:
                self.exhaust_primary(self.reset_in)
        return None


def _reports(sandbox: Sandbox) -> list[dict]:
    issues = sandbox.state.issues("acme", ".github")
    return [i for i in issues if REPORT_MARKER_PREFIX in str(i.get("body") or "")]


@pytest.fixture
def org(sandbox: Sandbox, clock: FakeClock) -> list[str]:
    """Thirty unprotected repositories, one with a broken policy file (so a report exists)."""
    names = [f"svc-{n:02d}" for n in range(REPOS)]
    for name in names:
        sandbox.state.add_repo("acme", name)
    sandbox.state.add_file("acme", names[0], ".github/repo-protection.yml", BAD_POLICY)
    sandbox.faults = ExhaustAfterPuts(clock, after=REPOS // 2)
    return names


async def test_scan_waits_for_the_reset_and_resumes(
    bulwark: Embedded, org: list[str], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    started = clock.time()

    await install(bulwark)

    state = bulwark.sandbox.state
    assert all(meets_policy(state.protection("acme", n, "main")) for n in org)
    assert max(clock.sleeps) >= RESET_IN - 1  # it waited out the reset on the clock
    assert clock.time() - started >= RESET_IN
    refused = [r for r in bulwark.sandbox.requests if r.status == 403]
    assert refused, "the limit never ran out"
    # Resumed, not restarted: each repository was written once.
    puts = protection_puts(bulwark.sandbox.requests)
    assert set(puts) == {f"acme/{n}" for n in [*org, ".github"]} and set(puts.values()) == {1}
    assert [r.getMessage() for r in caplog.records] == []


async def test_report_says_delayed_then_drops_it(bulwark: Embedded, org: list[str]) -> None:
    await install(bulwark)

    [report] = _reports(bulwark.sandbox)
    assert REPORT_DELAYED in report["body"]
    assert "failed" not in report["body"].lower()
    assert bulwark.runtime.statuses.org("acme").delayed is True

    await resync(bulwark, "calm")  # no wait this time

    [report] = _reports(bulwark.sandbox)
    assert REPORT_DELAYED not in report["body"]


@pytest.fixture
def long_limit(sandbox: Sandbox, clock: FakeClock) -> list[str]:
    """The same org, but the limit resets an hour later: longer than Bulwark waits."""
    names = [f"svc-{n:02d}" for n in range(REPOS)]
    for name in names:
        sandbox.state.add_repo("acme", name)
    sandbox.state.add_file("acme", names[0], ".github/repo-protection.yml", BAD_POLICY)
    faults = ExhaustAfterPuts(clock, after=REPOS // 2)
    faults.reset_in = 3600.0
    sandbox.faults = faults
    return names


async def test_a_reset_too_far_away_marks_the_scan_delayed_not_failed(
    bulwark: Embedded, long_limit: list[str], clock: FakeClock
) -> None:
    await install(bulwark)

    state = bulwark.runtime.statuses.org("acme")
    assert state.delayed is True
    assert not [s for s in state.statuses.values() if s.outcome.value == "error"]
    assert max(clock.sleeps, default=0) < 3600  # it did not sit out the hour

    clock.advance(3600)
    bulwark.sandbox.faults.clear()
    await resync(bulwark, "after-the-reset")
    assert all(
        meets_policy(bulwark.sandbox.state.protection("acme", n, "main")) for n in long_limit
    )
    assert bulwark.runtime.statuses.org("acme").delayed is False
