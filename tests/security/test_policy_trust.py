"""Policy trust end to end: only default branches are policy; the org's `.github` is protected.

tests/e2e/test_pushes_and_pulls.py covers a policy file on a branch at install time
(test_policy_on_a_pr_branch_changes_nothing) and a weakening repo file
(test_weakening_repo_policy_is_refused); these follow a PR's life instead.
"""

from __future__ import annotations

from bot.cli.embedded import Embedded
from tests.fixtures import install, weak_protection

POLICY = ".github/repo-protection.yml"


async def test_a_pr_editing_the_policy_changes_nothing_until_merged(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api", branches=("main", "weaken"))
    await install(bulwark)
    state.set_protection("acme", "api", "main", weak_protection())
    state.add_file("acme", "api", POLICY, "mode: report\n", branch="weaken")
    sha = state.add_commit("acme", "api", "weaken", message="report only", author="bob")
    push = bulwark.sandbox.payloads.push("acme", "api", "weaken", [sha], "bob")
    for commit in push["commits"]:
        commit["modified"] = [POLICY]
    number = state.add_pull("acme", "api", head_sha=sha, base="main", author="bob")
    opened = bulwark.sandbox.payloads.pull_request("opened", "acme", "api", number, "bob")

    assert await bulwark.deliver("push", push) == 202
    assert await bulwark.deliver("pull_request", opened) == 202
    await bulwark.settle()
    # Someone weakens main now: enforcement follows main's policy, not the PR's.
    tamper = bulwark.sandbox.payloads.branch_protection_rule("edited", "acme", "api", "main", "bob")
    assert await bulwark.deliver("branch_protection_rule", tamper) == 202
    await bulwark.settle()

    got = state.protection("acme", "api", "main")
    assert got is not None and got["enforce_admins"]["enabled"] is True  # still enforced
    reads = [r for r in bulwark.sandbox.requests if "/contents/" in r.path]
    assert all("ref=weaken" not in r.path for r in reads)


async def test_the_org_policy_repository_is_protected_like_any_other(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.set_protection("acme", ".github", "main", weak_protection())
    await install(bulwark)

    got = state.protection("acme", ".github", "main")
    assert got is not None
    assert got["enforce_admins"]["enabled"] is True
    assert got["required_pull_request_reviews"]["required_approving_review_count"] >= 1
