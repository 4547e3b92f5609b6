"""A running sandbox and a running Bulwark wired to it, sharing one fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.cli.embedded import Embedded, embedded
from bot.clock import FakeClock
from bot.sandbox import Sandbox
from tests.manifest import APP_PERMISSIONS

STRONG = {
    "required_status_checks": {
        "strict": True,
        "checks": [
            {"context": "CodeQL", "app_id": 57789},
            {"context": "test"},
            {"context": "lint"},
        ],
    },
    "enforce_admins": True,
    "required_pull_request_reviews": {
        "required_approving_review_count": 2,
        "dismiss_stale_reviews": True,
        "require_code_owner_reviews": True,
    },
    "restrictions": {"users": ["alice"], "teams": [], "apps": []},
    "required_linear_history": True,
    "allow_force_pushes": False,
    "allow_deletions": False,
    "required_conversation_resolution": True,
}

WEAK = {
    "required_status_checks": None,
    "enforce_admins": False,
    "required_pull_request_reviews": None,
    "restrictions": None,
    "allow_force_pushes": True,
}


@pytest.fixture
def clock() -> FakeClock:
    """One clock for the sandbox and Bulwark, so tokens and JWTs agree."""
    return FakeClock()


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[Sandbox]:
    """A started sandbox with an org `acme` and a few people."""
    box = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    box.state.add_org("acme")
    for login in ("alice", "bob", "carol", "dave", "erin", "frank"):
        box.state.add_user(login)
    box.state.add_org_owner("acme", "alice")
    box.state.add_repo("acme", ".github")
    await box.start()
    yield box
    await box.stop()
    # Any request GitHub's description or GraphQL schema would refuse fails the test.
    assert box.state.violations == []


@pytest.fixture
async def bulwark(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Embedded]:
    """Bulwark running against the sandbox."""
    async with embedded(sandbox, clock=clock) as running:
        yield running


async def install(bulwark: Embedded, org: str = "acme") -> int:
    """Install the App on `org` through a signed `installation.created` delivery and settle."""
    installation_id = bulwark.sandbox.state.install(org)
    payload = bulwark.sandbox.payloads.installation_created(installation_id)
    assert await bulwark.deliver("installation", payload) == 202
    await bulwark.settle()
    return installation_id
