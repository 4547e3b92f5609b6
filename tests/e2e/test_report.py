"""The org report issue end to end: one issue, edited in place, closed and reopened."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.cli.embedded import Embedded
from bot.clock import FakeClock
from bot.core.concerns import DIRECT_PUSH_WINDOW
from bot.core.models import DirectPush, Finding, FindingKind, Outcome, RepoStatus
from bot.core.render import REPORT_MARKER_PREFIX
from bot.engine.report import REPORT_LABEL
from bot.sandbox import Sandbox
from bot.sandbox.app import RequestRecord
from tests.fixtures import install, weak_protection

REPORT_MODE = "mode: report\n"


def report_issues(sandbox: Sandbox, repo: str = ".github") -> list[dict[str, Any]]:
    """Return the issues the App opened in the report repository."""
    return [i for i in sandbox.state.issues("acme", repo) if i["via_app"]]


def issue_writes(sandbox: Sandbox, method: str, repo: str = ".github") -> list[RequestRecord]:
    """Return requests with `method` on the report repository's issues."""
    prefix = f"/repos/acme/{repo}/issues"
    return [r for r in sandbox.requests if r.method == method and r.path.startswith(prefix)]


def the_report(sandbox: Sandbox) -> dict[str, Any]:
    [issue] = report_issues(sandbox)
    return issue


async def tamper(bulwark: Embedded, repo: str, sender: str = "bob") -> None:
    """Weaken a repository's protection and tell Bulwark, as GitHub would."""
    bulwark.sandbox.state.set_protection("acme", repo, "main", weak_protection())
    payload = bulwark.sandbox.payloads.branch_protection_rule(
        "edited", "acme", repo, "main", sender
    )
    assert await bulwark.deliver("branch_protection_rule", payload) == 202


async def resync(bulwark: Embedded, installation_id: int) -> None:
    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()


@pytest.fixture
def report_mode(sandbox: Sandbox) -> None:
    """An org in report mode with one drifting repository, `api`."""
    sandbox.state.add_file("acme", ".github", ".github/repo-protection.yml", REPORT_MODE)
    sandbox.state.add_repo("acme", "api")
    sandbox.state.set_protection("acme", "api", "main", weak_protection())


# ---- create, no-op, edit ---------------------------------------------------------------------


async def test_drift_creates_one_labelled_report(bulwark: Embedded, report_mode: None) -> None:
    await install(bulwark)

    issue = the_report(bulwark.sandbox)
    assert issue["labels"] == [REPORT_LABEL]
    assert issue["state"] == "open"
    assert REPORT_MARKER_PREFIX in issue["body"]
    assert "acme/api" in issue["body"]
    assert "reported only" in issue["body"]
    labels = [label["name"] for label in bulwark.sandbox.state.labels("acme", ".github")]
    assert labels == [REPORT_LABEL]
    label_posts = [r for r in bulwark.sandbox.requests if r.path.endswith("/labels")]
    assert [r.method for r in label_posts if r.method == "POST"] == ["POST"]


async def test_an_existing_label_is_reused(bulwark: Embedded, report_mode: None) -> None:
    repo = bulwark.sandbox.state.repo("acme", ".github")
    bulwark.sandbox.state.ensure_label(repo, REPORT_LABEL, "00ff00")

    await install(bulwark)

    assert the_report(bulwark.sandbox)["labels"] == [REPORT_LABEL]
    label_posts = [
        r for r in bulwark.sandbox.requests if r.method == "POST" and r.path.endswith("/labels")
    ]
    assert label_posts == []


async def test_unchanged_state_makes_no_edit(bulwark: Embedded, report_mode: None) -> None:
    installation_id = await install(bulwark)
    bulwark.sandbox.requests.clear()

    await resync(bulwark, installation_id)

    assert issue_writes(bulwark.sandbox, "PATCH") == []
    assert issue_writes(bulwark.sandbox, "POST") == []
    assert len(report_issues(bulwark.sandbox)) == 1


async def test_changed_state_edits_the_issue_once(bulwark: Embedded, report_mode: None) -> None:
    installation_id = await install(bulwark)
    bulwark.sandbox.state.add_repo("acme", "web")
    bulwark.sandbox.requests.clear()

    await resync(bulwark, installation_id)

    issue = the_report(bulwark.sandbox)
    assert len(issue_writes(bulwark.sandbox, "PATCH")) == 1
    assert issue_writes(bulwark.sandbox, "POST") == []
    assert "acme/web" in issue["body"]


async def test_a_human_issue_with_the_label_is_not_taken_over(
    bulwark: Embedded, report_mode: None
) -> None:
    state = bulwark.sandbox.state
    state.add_issue(
        "acme", ".github", title="About protection", author="bob", labels=[REPORT_LABEL]
    )

    await install(bulwark)

    issues = state.issues("acme", ".github")
    assert len(issues) == 2
    assert issues[0]["body"] == ""
    assert REPORT_MARKER_PREFIX in issues[1]["body"]


# ---- close and reopen ------------------------------------------------------------------------


async def test_closed_when_nothing_drifts_then_reopened(
    bulwark: Embedded, report_mode: None
) -> None:
    state = bulwark.sandbox.state
    installation_id = await install(bulwark)
    number = the_report(bulwark.sandbox)["number"]

    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: enforce\n")
    bulwark.runtime.policies.forget("acme")
    await resync(bulwark, installation_id)

    issue = the_report(bulwark.sandbox)
    assert issue["state"] == "closed"
    [closing] = state.comments("acme", ".github", number)
    assert "closing this report" in closing["body"]

    state.add_file("acme", ".github", ".github/repo-protection.yml", REPORT_MODE)
    bulwark.runtime.policies.forget("acme")
    state.set_protection("acme", "api", "main", weak_protection())
    bulwark.sandbox.requests.clear()
    await resync(bulwark, installation_id)

    issue = the_report(bulwark.sandbox)
    assert issue["state"] == "open"
    assert issue["number"] == number
    assert "acme/api" in issue["body"]
    assert issue_writes(bulwark.sandbox, "POST") == []  # no new issue, no second comment


async def test_a_first_resync_that_repairs_everything_creates_a_closed_report(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")  # unprotected: Bulwark repairs it

    await install(bulwark)

    issue = the_report(bulwark.sandbox)
    assert issue["state"] == "closed"
    assert issue["labels"] == [REPORT_LABEL]
    assert "acme/api" in issue["body"] and "fixed at" in issue["body"]
    [summary] = state.comments("acme", ".github", issue["number"])
    assert "Nothing stands between the organisation and its promises" in summary["body"]
    assert "2 repaired by Bulwark" in summary["body"]  # api and .github itself


async def test_a_direct_push_alone_opens_the_report_for_a_week(
    bulwark: Embedded, clock: FakeClock
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    installation_id = await install(bulwark)
    assert the_report(bulwark.sandbox)["state"] == "closed"
    sha = state.add_commit("acme", "api", "main", message="hotfix", author="bob")

    payload = bulwark.sandbox.payloads.push("acme", "api", "main", [sha], "bob")
    assert await bulwark.deliver("push", payload) == 202
    await bulwark.settle()

    issue = the_report(bulwark.sandbox)
    assert issue["state"] == "open"
    assert "Recent direct pushes (1)" in issue["body"] and sha[:12] in issue["body"]

    clock.advance(DIRECT_PUSH_WINDOW + 1)
    await resync(bulwark, installation_id)
    assert the_report(bulwark.sandbox)["state"] == "closed"


async def test_an_unsupported_repository_keeps_the_report_open(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_org("tiny", plan="free")
    state.add_repo("tiny", ".github")
    state.add_repo("tiny", "secret", private=True)  # no branch protection on the Free plan

    await install(bulwark, "tiny")

    [issue] = [i for i in state.issues("tiny", ".github") if i["via_app"]]
    assert issue["state"] == "open"
    assert "1 unsupported" in issue["body"]
    assert "secret" not in issue["body"]  # the report repository is public


# ---- races and size --------------------------------------------------------------------------


async def test_two_racing_updates_make_one_issue(bulwark: Embedded, report_mode: None) -> None:
    installation_id = await install(bulwark)
    for issue in bulwark.sandbox.state.repo("acme", ".github").issues.values():
        issue["state"] = "closed"
        issue["labels"] = []  # as if someone removed it: the next update must create anew
    gh = bulwark.runtime.gateway(installation_id)
    bulwark.sandbox.requests.clear()

    results = await asyncio.gather(
        bulwark.runtime.reports.update(gh, "acme"), bulwark.runtime.reports.update(gh, "acme")
    )

    created = [r for r in issue_writes(bulwark.sandbox, "POST") if r.path.endswith("/issues")]
    assert len(created) == 1
    assert sorted(r.action for r in results) == ["created", "unchanged"]


async def test_two_racing_first_updates_make_one_issue(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    installation_id = state.install("acme")
    bulwark.runtime.statuses.record(
        RepoStatus(
            "acme/api",
            Outcome.DRIFTED,
            (Finding(FindingKind.UNPROTECTED, "main is not protected.", "Protect it."),),
            mode="report",
        )
    )
    gh = bulwark.runtime.gateway(installation_id)

    await asyncio.gather(*(bulwark.runtime.reports.update(gh, "acme") for _ in range(3)))

    assert len(report_issues(bulwark.sandbox)) == 1


def _huge_status(index: int) -> RepoStatus:
    name = f"acme/{'service-with-a-very-long-descriptive-name-' * 2}{index:05d}"
    findings = tuple(
        Finding(
            FindingKind.CHECK_MISSING,
            f"main does not require the check 'check-{n}', so a change can merge without it.",
            "Ask an admin to require it, or run /protection fix.",
            branch="main",
            detail=f"check-{n}",
        )
        for n in range(12)
    )
    outcome = Outcome.DRIFTED if index % 3 else Outcome.COMPLIANT
    return RepoStatus(name, outcome, findings if index % 3 else (), mode="report")


async def test_ten_thousand_repositories_fit_in_one_issue(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    installation_id = state.install("acme")
    for index in range(10_000):
        bulwark.runtime.statuses.record(_huge_status(index))
    gh = bulwark.runtime.gateway(installation_id)

    result = await bulwark.runtime.reports.update(gh, "acme")

    assert result.action == "created"
    issue = the_report(bulwark.sandbox)
    assert len(issue["body"]) < 60_000
    assert "bulwark scan --org acme" in issue["body"]
    [post] = [r for r in issue_writes(bulwark.sandbox, "POST") if r.path.endswith("/issues")]
    assert post.status == 201


# ---- when it is updated ----------------------------------------------------------------------


async def test_each_resync_updates_the_report(bulwark: Embedded, report_mode: None) -> None:
    state = bulwark.sandbox.state
    installation_id = await install(bulwark)
    state.set_protection("acme", "api", "main", None)
    bulwark.sandbox.requests.clear()

    await resync(bulwark, installation_id)

    assert len(issue_writes(bulwark.sandbox, "PATCH")) == 1
    assert "unprotected" in the_report(bulwark.sandbox)["body"].lower()


class ManualClock(FakeClock):
    """A fake clock whose sleepers wait until the test moves time past their deadline."""

    def __init__(self) -> None:
        super().__init__()
        self._waiters: list[asyncio.Event] = []

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        for waiter in self._waiters:
            waiter.set()
        self._waiters = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        deadline = self.monotonic() + seconds
        while self.monotonic() < deadline:
            waiter = asyncio.Event()
            self._waiters.append(waiter)
            await waiter.wait()
        await asyncio.sleep(0)


class TestDebounce:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    async def test_reconciliations_update_the_report_at_most_once_a_minute(
        self, bulwark: Embedded, clock: ManualClock
    ) -> None:
        state = bulwark.sandbox.state
        names = ("api", "web", "db", "ops")
        for name in names:
            state.add_repo("acme", name)
        await install(bulwark)  # enforced: all repaired, the report created closed
        assert the_report(bulwark.sandbox)["state"] == "closed"
        state.add_file("acme", ".github", ".github/repo-protection.yml", REPORT_MODE)
        bulwark.runtime.policies.forget("acme")
        bulwark.sandbox.requests.clear()

        for name in names:
            await tamper(bulwark, name)
        await bulwark.queue.join()
        assert issue_writes(bulwark.sandbox, "PATCH") == []  # due a minute after the last update
        assert len(bulwark.runtime.pending()) == 1

        clock.advance(60)
        await bulwark.settle()

        issue = the_report(bulwark.sandbox)
        assert issue["state"] == "open"
        assert all(f"acme/{name}" in issue["body"] for name in names)
        lists = [r for r in bulwark.sandbox.requests if r.path == "/repos/acme/.github/issues"]
        assert len(lists) == 1  # one update: looked for the issue once, then edited it once
        assert len(issue_writes(bulwark.sandbox, "PATCH")) == 1

        clock.advance(61)
        bulwark.sandbox.requests.clear()
        state.add_repo("acme", "late")
        await tamper(bulwark, "late")
        await bulwark.settle()

        assert "acme/late" in the_report(bulwark.sandbox)["body"]
        assert len(issue_writes(bulwark.sandbox, "PATCH")) == 1


# ---- when the report cannot be written -------------------------------------------------------


@pytest.mark.parametrize("disabled", [False, True], ids=["missing", "issues-disabled"])
async def test_an_unwritable_report_warns_and_the_scan_still_works(
    bulwark: Embedded, caplog: pytest.LogCaptureFixture, disabled: bool
) -> None:
    state = bulwark.sandbox.state
    if disabled:
        state.add_repo("acme", "reports", has_issues=False)
    policy = REPORT_MODE + "report:\n  repository: reports\n"
    state.add_file("acme", ".github", ".github/repo-protection.yml", policy)
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    state.add_pull("acme", "api", number=5, head_sha=state.new_sha(), author="bob")

    with caplog.at_level(logging.WARNING):
        await install(bulwark)

    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None and status.outcome is Outcome.DRIFTED
    assert any("report unavailable" in r.getMessage() for r in caplog.records)
    assert "acme/reports" in bulwark.runtime.reports.warnings["acme"]
    if disabled:
        assert state.issues("acme", "reports") == []

    payload = bulwark.sandbox.payloads.issue_comment(
        "created", "acme", "api", 5, "/protection status\n/protection report", "alice"
    )
    assert await bulwark.deliver("issue_comment", payload) == 202
    await bulwark.settle()

    answers = [c["body"] for c in state.comments("acme", "api", 5) if c["via_app"]]
    assert len(answers) == 2
    assert all("org report is not available" in a for a in answers)
    assert "does not meet the protection policy" in answers[0]


# ---- who reads it ----------------------------------------------------------------------------

PRIVATE_NAMES = ("secret-payroll", "hidden-infra")


async def _org_with_private_repositories(bulwark: Embedded, *, private_report: bool) -> str:
    """Report mode: a public and two private drifting repositories, a push to a private one."""
    state = bulwark.sandbox.state
    state.repo("acme", ".github").private = private_report
    state.add_file("acme", ".github", ".github/repo-protection.yml", REPORT_MODE)
    state.add_repo("acme", "web")
    state.set_protection("acme", "web", "main", weak_protection())
    state.add_repo("acme", "secret-payroll", private=True)
    state.set_protection("acme", "secret-payroll", "main", weak_protection())
    state.add_repo("acme", "hidden-infra", private=True)
    await install(bulwark)
    sha = state.add_commit("acme", "hidden-infra", "main", message="hotfix", author="bob")
    payload = bulwark.sandbox.payloads.push("acme", "hidden-infra", "main", [sha], "bob")
    assert await bulwark.deliver("push", payload) == 202
    await bulwark.settle()
    return sha


def _everything_the_app_wrote(sandbox: Sandbox) -> str:
    """Every title, body and comment the App wrote in the report repository."""
    issues = report_issues(sandbox)
    comments = [
        c["body"] for i in issues for c in sandbox.state.comments("acme", ".github", i["number"])
    ]
    return "\n".join([*(i["title"] + "\n" + i["body"] for i in issues), *comments])


async def test_a_public_report_names_no_private_repository(bulwark: Embedded) -> None:
    sha = await _org_with_private_repositories(bulwark, private_report=False)

    written = _everything_the_app_wrote(bulwark.sandbox)
    assert all(name not in written for name in PRIVATE_NAMES)
    assert sha[:7] not in written  # nor the direct push to a private repository
    assert "acme/web" in written  # public ones are named
    body = the_report(bulwark.sandbox)["body"]
    assert "2 private repositories (2 drifted) counted above are not named" in body
    assert "1 direct push to private repositories is not shown" in body
    assert "bulwark scan --org acme" in body
    assert the_report(bulwark.sandbox)["state"] == "open"


async def test_a_private_report_names_every_repository(bulwark: Embedded) -> None:
    sha = await _org_with_private_repositories(bulwark, private_report=True)

    body = the_report(bulwark.sandbox)["body"]
    assert all(f"acme/{name}" in body for name in ("web", *PRIVATE_NAMES[:1]))
    assert sha[:12] in body and "acme/hidden-infra" in body
    assert "not named" not in body


async def test_a_repository_made_private_leaves_the_public_report(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", REPORT_MODE)
    state.add_repo("acme", "payroll")
    state.set_protection("acme", "payroll", "main", weak_protection())
    await install(bulwark)
    assert "acme/payroll" in the_report(bulwark.sandbox)["body"]

    state.repo("acme", "payroll").private = True
    payload = bulwark.sandbox.payloads.repository("privatized", "acme", "payroll", "alice")
    assert await bulwark.deliver("repository", payload) == 202
    await bulwark.settle()

    assert "payroll" not in the_report(bulwark.sandbox)["body"]


async def test_statuses_of_unknown_visibility_are_not_named(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    installation_id = state.install("acme")
    finding = Finding(FindingKind.UNPROTECTED, "main is not protected.", "Protect it.")
    bulwark.runtime.statuses.record(RepoStatus("acme/mystery", Outcome.DRIFTED, (finding,)))
    bulwark.runtime.statuses.add_direct_push(
        "acme", DirectPush("acme/elsewhere", "main", "f" * 40, "bob", "2027-01-15T08:00:00Z")
    )

    await bulwark.runtime.reports.update(bulwark.runtime.gateway(installation_id), "acme")

    body = the_report(bulwark.sandbox)["body"]
    assert "mystery" not in body and "elsewhere" not in body
