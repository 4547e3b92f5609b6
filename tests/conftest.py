"""Shared fixtures: one fake clock, a running sandbox and Bulwark on it, one RSA test key.

Directories whose sandbox or Bulwark differ (tests/faults) override only what differs;
plain builders and helpers live in `tests/fixtures.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import settings

from bot.cli.embedded import Embedded, embedded
from bot.clock import FakeClock
from bot.sandbox import Sandbox
from tests.browser import chromium
from tests.fixtures import rsa_private_key_pem
from tests.manifest import APP_PERMISSIONS

__all__ = ["chromium"]  # a fixture for every test: a real headless browser
from tests.fixtures import report_policy_checks

PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank")


def pytest_configure(config: pytest.Config) -> None:
    """Property tests assert properties, not speed (benchmarks measure that).

    Hypothesis's per-example deadline would turn a loaded 2-core CI machine into
    flaky failures, so there is none.
    """
    settings.register_profile("bulwark", deadline=None)
    settings.load_profile("bulwark")


@pytest.fixture
def clock() -> FakeClock:
    """One clock that moves only when told to, so the sandbox's and Bulwark's tokens agree."""
    return FakeClock()


@pytest.fixture(scope="session")
def rsa_private_key() -> str:
    """An RSA private key in PEM, generated once per test session."""
    return rsa_private_key_pem()


@pytest.fixture
def people() -> tuple[str, ...]:
    """The logins the sandbox knows; `alice` owns the org."""
    return PEOPLE


@pytest.fixture
async def sandbox(clock: FakeClock, people: tuple[str, ...]) -> AsyncIterator[Sandbox]:
    """A started sandbox with an org `acme`, its `.github` repository and a few people."""
    box = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    report_policy_checks(box.state)
    box.state.add_org("acme")
    for login in people:
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
