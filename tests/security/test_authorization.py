"""Who may make Bulwark write: the check run's "Fix protection" button, every role, end to end.

The same matrix for the `/protection fix` and `/protection report` slash commands
lives in tests/e2e/test_commands.py:
test_fix_by_admin_maintain_or_org_owner_applies_the_policy,
test_nobody_else_changes_protection_or_the_report and
test_org_owner_without_a_repo_role_is_asked_of_the_org.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.cli.embedded import Embedded
from bot.sandbox.app import WRITE_METHODS
from tests.fixtures import install, weak_protection

ROLES = {"adam": "admin", "mia": "maintain", "will": "write", "tri": "triage", "rita": "read"}
ALLOWED = {"adam": "admin", "mia": "maintain", "alice": "org owner"}
REFUSED = {
    "will": "write",
    "tri": "triage",
    "rita": "read",
    "otto": "no role",  # an outside collaborator without a role here
    "dependabot[bot]": "no role",
    "bulwark[bot]": "no role",  # the App itself
}


@pytest.fixture
async def pull(bulwark: Embedded) -> dict[str, Any]:
    """An installed org in report mode, `api` drifting, one PR with its failing check run."""
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    for login, role in ROLES.items():
        state.add_collaborator("acme", "api", login, role)
    state.add_user("otto")
    state.add_user("dependabot[bot]", bot=True)
    number = state.add_pull("acme", "api", head_sha=state.new_sha(), author="bob")
    await install(bulwark)
    opened = bulwark.sandbox.payloads.pull_request("opened", "acme", "api", number, "bob")
    assert await bulwark.deliver("pull_request", opened) == 202
    await bulwark.settle()
    [run] = [r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection"]
    assert run["conclusion"] == "failure"
    bulwark.sandbox.requests.clear()
    return run


async def click_fix(bulwark: Embedded, run: dict[str, Any], login: str) -> dict[str, Any]:
    """Click "Fix protection" as `login`; return the check run as it stands after."""
    payload = bulwark.sandbox.payloads.check_run(
        "requested_action", "acme", "api", run["id"], login, requested_action="fix-protection"
    )
    if login.endswith("[bot]"):
        payload["sender"]["type"] = "Bot"
    assert await bulwark.deliver("check_run", payload) == 202
    await bulwark.settle()
    state = bulwark.sandbox.state
    return next(r for r in state.check_runs("acme", "api") if r["id"] == run["id"])


def protection_writes(bulwark: Embedded) -> list[str]:
    return [
        r.path
        for r in bulwark.sandbox.requests
        if r.method in WRITE_METHODS and ("/protection" in r.path or "/rulesets" in r.path)
    ]


@pytest.mark.parametrize("login", list(ALLOWED), ids=list(ALLOWED.values()))
async def test_fix_button_acts_for_admin_maintain_and_org_owner(
    bulwark: Embedded, pull: dict[str, Any], login: str
) -> None:
    after = await click_fix(bulwark, pull, login)

    assert protection_writes(bulwark)
    got = bulwark.sandbox.state.protection("acme", "api", "main")
    assert got is not None and got["enforce_admins"]["enabled"] is True
    assert after["conclusion"] == "success"
    assert "Nothing was changed" not in after["output"]["summary"]


@pytest.mark.parametrize("login", list(REFUSED), ids=[f"{v}-{k}" for k, v in REFUSED.items()])
async def test_fix_button_refuses_everyone_else_with_the_reason(
    bulwark: Embedded, pull: dict[str, Any], login: str
) -> None:
    after = await click_fix(bulwark, pull, login)

    assert protection_writes(bulwark) == []
    got = bulwark.sandbox.state.protection("acme", "api", "main")
    assert got is not None and got["enforce_admins"]["enabled"] is False
    assert after["conclusion"] == "failure"
    summary = after["output"]["summary"]
    assert "Nothing was changed" in summary
    assert "admin or maintain" in summary
    assert REFUSED[login] in summary
    asked = [r.path for r in bulwark.sandbox.requests if r.path.endswith("/permission")]
    assert asked == [f"/repos/acme/api/collaborators/{login}/permission"]


async def test_a_payload_claiming_admin_does_not_help(
    bulwark: Embedded, pull: dict[str, Any]
) -> None:
    payload = bulwark.sandbox.payloads.check_run(
        "requested_action", "acme", "api", pull["id"], "rita", requested_action="fix-protection"
    )
    payload["sender"]["site_admin"] = True
    payload["sender"]["role_name"] = "admin"
    payload["sender"]["permissions"] = {"admin": True}
    assert await bulwark.deliver("check_run", payload) == 202
    await bulwark.settle()

    assert protection_writes(bulwark) == []


async def test_a_different_action_identifier_only_rechecks(
    bulwark: Embedded, pull: dict[str, Any]
) -> None:
    payload = bulwark.sandbox.payloads.check_run(
        "requested_action", "acme", "api", pull["id"], "adam", requested_action="fix-everything"
    )
    assert await bulwark.deliver("check_run", payload) == 202
    await bulwark.settle()

    assert protection_writes(bulwark) == []
