"""A sandbox that misbehaves on purpose, and Bulwark running against it on one fake clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable

import pytest

from bot.cli.embedded import Embedded, embedded
from bot.clock import Clock, FakeClock
from bot.github.client import RetryPolicy
from bot.sandbox import Sandbox
from bot.sandbox.app import RequestRecord
from bot.sandbox.faults import Fault, Faults
from tests.manifest import APP_PERMISSIONS

# The client gives up on a hung request well before the sandbox's injected hang ends.
RETRY = RetryPolicy(base_delay=0.0, max_delay=0.0, timeout=0.4)
HANG = 0.6
PEOPLE = ("alice", "bob", "carol")


@pytest.fixture
def clock() -> FakeClock:
    """One clock for the sandbox and Bulwark, so tokens, JWTs and rate limits agree."""
    return FakeClock()


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[Sandbox]:
    """A started sandbox with an org `acme`, its `.github` repository and a few people."""
    box = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    box.state.add_org("acme")
    for login in PEOPLE:
        box.state.add_user(login)
    box.state.add_org_owner("acme", "alice")
    box.state.add_repo("acme", ".github")
    box.faults.timeout_delay = HANG
    await box.start()
    yield box
    await box.stop()
    assert box.state.violations == []  # nothing GitHub's description refuses


@pytest.fixture
async def bulwark(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Embedded]:
    """Bulwark running against the sandbox, retrying with no back-off."""
    async with embedded(sandbox, clock=clock, retry=RETRY) as running:
        yield running


async def install(bulwark: Embedded, org: str = "acme") -> int:
    """Install the App on `org` through a signed `installation.created` delivery and settle."""
    installation_id = bulwark.sandbox.state.install(org)
    bulwark.installation_id = installation_id
    payload = bulwark.sandbox.payloads.installation_created(installation_id)
    assert await bulwark.deliver("installation", payload) == 202
    await bulwark.settle()
    return installation_id


async def resync(bulwark: Embedded, delivery_id: str) -> None:
    """Run one full resync of the installation and wait for it and its report."""
    await bulwark.runtime.enqueue_resync(bulwark.installation_id, delivery_id=delivery_id)
    await bulwark.settle()


def meets_policy(protection: dict | None) -> bool:
    """Tell whether a stored protection meets the default policy."""
    if protection is None:
        return False
    reviews = protection.get("required_pull_request_reviews") or {}
    checks = {
        c["context"] for c in (protection.get("required_status_checks") or {}).get("checks", [])
    }
    return (
        reviews.get("required_approving_review_count", 0) >= 1
        and {"CodeQL", "test"} <= checks
        and protection["enforce_admins"]["enabled"] is True
        and protection["allow_force_pushes"]["enabled"] is False
        and protection["allow_deletions"]["enabled"] is False
    )


def protection_puts(requests: Iterable[RequestRecord]) -> Counter[str]:
    """Count answered protection PUTs per repository (`owner/name`, lower case)."""
    return Counter(
        "/".join(r.path.split("/")[2:4]).lower()
        for r in requests
        if r.method == "PUT" and r.path.endswith("/protection") and r.status == 200
    )


class Midway(Faults):
    """Runs `action` when the n-th protection PUT arrives: something happens mid-scan."""

    def __init__(self, clock: Clock, after: int, action: Callable[[], None]) -> None:
        super().__init__(clock)
        self.after, self.action, self.puts = after, action, 0

    def pick(self, template: str, method: str = "GET") -> Fault | None:
        """Count protection PUTs; at the n-th, run the action (before answering it)."""
        if method == "PUT" and template.endswith("/protection"):
            self.puts += 1
            if self.puts == self.after:
                self.action()
        return super().pick(template, method)
