"""GitHub did the write but its answer was lost: the next attempt finds it, never makes a second."""

from __future__ import annotations

import pytest

from bot.cli.embedded import Embedded
from bot.core.render import COMMIT_COMMENT_MARKER, PR_STATUS_MARKER, REPORT_MARKER_PREFIX
from bot.sandbox import Sandbox
from bot.sandbox.faults import LOST
from tests.faults.conftest import resync
from tests.fixtures import install, weak_protection


def lose_next_post(sandbox: Sandbox, template: str) -> None:
    """Let the next POST to `template` take effect and drop its answer; nothing else fails."""
    every = {resource.canonical for resource in sandbox.app.router.resources()}
    assert template in every
    sandbox.faults.exempt(every - {template})
    sandbox.faults.configure(1.0, kinds=(LOST,), methods=("POST",), limit=1)


@pytest.fixture
def drifting(sandbox: Sandbox) -> Sandbox:
    """An org in report mode with one weak repository, `api`, that stays drifted."""
    state = sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection(allow_force_pushes=False))
    return sandbox


async def _open_pr_twice(bulwark: Embedded) -> int:
    state = bulwark.sandbox.state
    number = state.add_pull("acme", "api", head_sha=state.new_sha(), author="bob")
    for action in ("opened", "reopened"):
        payload = bulwark.sandbox.payloads.pull_request(action, "acme", "api", number, "bob")
        assert await bulwark.deliver("pull_request", payload) == 202
        await bulwark.settle()
    return number


async def test_lost_check_run_answer_leaves_one_check_run(
    bulwark: Embedded, drifting: Sandbox
) -> None:
    await install(bulwark)
    lose_next_post(drifting, "/repos/{owner}/{repo}/check-runs")

    await _open_pr_twice(bulwark)

    assert drifting.faults.injected == [LOST]
    runs = [r for r in drifting.state.check_runs("acme", "api") if r["name"] == "repo-protection"]
    assert len(runs) == 1


async def test_lost_status_comment_answer_leaves_one_comment(
    bulwark: Embedded, drifting: Sandbox
) -> None:
    await install(bulwark)
    lose_next_post(drifting, "/repos/{owner}/{repo}/issues/{issue_number}/comments")

    number = await _open_pr_twice(bulwark)

    assert drifting.faults.injected == [LOST]
    comments = drifting.state.comments("acme", "api", number)
    assert len([c for c in comments if PR_STATUS_MARKER in c["body"]]) == 1


async def test_lost_commit_comment_answer_leaves_one_comment(
    bulwark: Embedded, drifting: Sandbox
) -> None:
    await install(bulwark)
    state = drifting.state
    sha = state.add_commit("acme", "api", "main", message="hotfix", author="bob")
    lose_next_post(drifting, "/repos/{owner}/{repo}/commits/{commit_sha}/comments")

    for _ in range(2):  # the same push delivered again (a manual redelivery gets a new id here)
        payload = drifting.payloads.push("acme", "api", "main", [sha], "bob")
        assert await bulwark.deliver("push", payload) == 202
        await bulwark.settle()

    assert drifting.faults.injected == [LOST]
    mine = [c for c in state.commit_comments("acme", "api") if COMMIT_COMMENT_MARKER in c["body"]]
    assert [c["commit_id"] for c in mine] == [sha]


@pytest.mark.parametrize(
    "template", ["/repos/{owner}/{repo}/issues", "/repos/{owner}/{repo}/labels"]
)
async def test_lost_report_answer_leaves_one_report_issue(
    bulwark: Embedded, drifting: Sandbox, template: str
) -> None:
    lose_next_post(drifting, template)
    await install(bulwark)
    await resync(bulwark, "again")

    assert drifting.faults.injected == [LOST]
    reports = [
        i
        for i in drifting.state.issues("acme", ".github")
        if REPORT_MARKER_PREFIX in str(i.get("body") or "")
    ]
    assert len(reports) == 1 and reports[0]["state"] == "open"
    assert [label["name"] for label in drifting.state.labels("acme", ".github")] == [
        "repo-protection"
    ]
