"""Repositories and installations change under a running scan: each change has one outcome."""

from __future__ import annotations

import logging

import pytest

from bot.cli.embedded import Embedded
from bot.clock import FakeClock
from bot.core.models import Outcome
from bot.github.errors import GitHubError
from bot.sandbox import Sandbox
from tests.faults.conftest import Midway, meets_policy, protection_puts, resync
from tests.fixtures import install

REPOS = 12


@pytest.fixture
def org(sandbox: Sandbox) -> list[str]:
    """A dozen unprotected repositories (the scan writes each of them)."""
    names = [f"svc-{n:02d}" for n in range(REPOS)]
    for name in names:
        sandbox.state.add_repo("acme", name)
    return names


def midway(sandbox: Sandbox, clock: FakeClock, action: object) -> None:
    """Run `action` when the scan's first protection PUT arrives."""
    sandbox.faults = Midway(clock, 1, action)  # type: ignore[arg-type]


def crashes(records: list[logging.LogRecord]) -> list[str]:
    """Log records of jobs that failed with anything but a GitHub answer."""
    return [
        r.getMessage() for r in records if r.exc_info and not isinstance(r.exc_info[1], GitHubError)
    ]


def _last(names: list[str]) -> str:
    return names[-1]  # the scan goes through the org by name: the last is reached last


async def test_deleted_mid_scan_is_forgotten_not_an_error(
    bulwark: Embedded,
    sandbox: Sandbox,
    clock: FakeClock,
    org: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    midway(sandbox, clock, lambda: sandbox.state.delete_repo("acme", _last(org)))

    await install(bulwark)

    acme = bulwark.runtime.statuses.org("acme")
    assert f"acme/{_last(org)}" not in acme.statuses
    assert all(s.outcome is not Outcome.ERROR for s in acme.statuses.values()), acme.statuses
    assert all(meets_policy(sandbox.state.protection("acme", n, "main")) for n in org[:-1])
    assert crashes(caplog.records) == []


async def test_renamed_mid_scan_is_reconciled_under_the_new_name(
    bulwark: Embedded, sandbox: Sandbox, clock: FakeClock, org: list[str]
) -> None:
    midway(sandbox, clock, lambda: sandbox.state.rename_repo("acme", _last(org), "renamed"))
    await install(bulwark)
    statuses = bulwark.runtime.statuses
    assert statuses.get(f"acme/{_last(org)}") is None

    payload = sandbox.payloads.repository("renamed", "acme", "renamed", "alice")
    assert await bulwark.deliver("repository", payload) == 202
    await bulwark.settle()

    assert meets_policy(sandbox.state.protection("acme", "renamed", "main"))
    status = statuses.get("acme/renamed")
    assert status is not None and status.outcome is Outcome.FIXED
    assert all(s.outcome is not Outcome.ERROR for s in statuses.org("acme").statuses.values())


async def test_transferred_mid_scan_is_forgotten(
    bulwark: Embedded, sandbox: Sandbox, clock: FakeClock, org: list[str]
) -> None:
    midway(sandbox, clock, lambda: sandbox.state.transfer_repo("acme", _last(org), "elsewhere"))
    await install(bulwark)

    statuses = bulwark.runtime.statuses
    assert statuses.get(f"acme/{_last(org)}") is None
    assert all(s.outcome is not Outcome.ERROR for s in statuses.org("acme").statuses.values())
    assert sandbox.writes("elsewhere", _last(org)) == []


async def test_archived_mid_scan_is_excluded(
    bulwark: Embedded, sandbox: Sandbox, clock: FakeClock, org: list[str]
) -> None:
    midway(sandbox, clock, lambda: sandbox.state.archive_repo("acme", _last(org)))
    await install(bulwark)

    status = bulwark.runtime.statuses.get(f"acme/{_last(org)}")
    assert status is not None and status.outcome is Outcome.EXCLUDED
    assert sandbox.writes("acme", _last(org)) == []


async def test_uninstalled_mid_scan_ends_quietly(
    bulwark: Embedded,
    sandbox: Sandbox,
    clock: FakeClock,
    org: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    installation = {"id": 0}
    midway(sandbox, clock, lambda: sandbox.state.uninstall(installation["id"]))
    installation["id"] = sandbox.state.install("acme")
    bulwark.installation_id = installation["id"]
    created = sandbox.payloads.installation_created(installation["id"])
    deleted = dict(created, action="deleted")

    assert await bulwark.deliver("installation", created) == 202
    await bulwark.settle()
    assert await bulwark.deliver("installation", deleted) == 202
    await bulwark.settle()

    assert crashes(caplog.records) == []
    assert bulwark.runtime.statuses.org("acme").statuses == {}
    before = len(sandbox.requests)
    assert await bulwark.runtime.resync_all() == 0  # nothing left to resync: no retry loop
    await bulwark.settle()
    assert [r.path for r in sandbox.requests[before:]] == ["/app/installations"]
    assert sandbox.state.issues("acme", ".github") == []


async def test_suspended_installation_is_skipped_by_the_resync(
    bulwark: Embedded, sandbox: Sandbox, org: list[str]
) -> None:
    installation = await install(bulwark)
    sandbox.state.installations[installation].suspended = True
    sandbox.state.set_protection("acme", org[0], "main", None)
    before = len(sandbox.requests)

    assert await bulwark.runtime.resync_all() == 0
    await bulwark.settle()

    assert [r.path for r in sandbox.requests[before:]] == ["/app/installations"]
    assert sandbox.state.protection("acme", org[0], "main") is None


async def test_revoked_token_is_refreshed_once_and_work_goes_on(
    bulwark: Embedded, sandbox: Sandbox, org: list[str]
) -> None:
    installation = await install(bulwark)
    sandbox.state.revoke_tokens(installation)
    sandbox.state.set_protection("acme", org[0], "main", None)
    before = len(sandbox.requests)

    await resync(bulwark, "after-revoke")

    after = sandbox.requests[before:]
    minted = [r for r in after if r.path.endswith("/access_tokens") and r.status == 201]
    refused = [r for r in after if r.status == 401]
    assert len(minted) == 1 and len(refused) >= 1
    assert meets_policy(sandbox.state.protection("acme", org[0], "main"))
    assert protection_puts(after) == {f"acme/{org[0]}": 1}
