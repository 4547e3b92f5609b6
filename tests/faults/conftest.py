"""What the fault tests change in the shared sandbox and Bulwark, and their helpers."""

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

# The client gives up on a hung request well before the sandbox's injected hang ends.
RETRY = RetryPolicy(base_delay=0.0, max_delay=0.0, timeout=0.4)
HANG = 0.6
PEOPLE = ("alice", "bob", "carol")


@pytest.fixture
def people() -> tuple[str, ...]:
    """Only the people the fault tests act as."""
    return PEOPLE


@pytest.fixture
def sandbox(sandbox: Sandbox) -> Sandbox:
    """The shared sandbox, whose injected hangs outlast the client's timeout."""
    sandbox.faults.timeout_delay = HANG
    return sandbox


@pytest.fixture
async def bulwark(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Embedded]:
    """Bulwark running against the sandbox, retrying with no back-off."""
    async with embedded(sandbox, clock=clock, retry=RETRY) as running:
        yield running


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
