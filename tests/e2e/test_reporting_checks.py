"""Never block merges on a check that will never come; make CodeQL real through default setup."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.cli.embedded import Embedded
from bot.core.models import FindingKind, Outcome
from bot.sandbox.state import CODEQL_APP, CiCheck, Repo, State
from tests.fixtures import install
from tests.manifest import APP_PERMISSIONS

TOKEN = "ghp_ownerTokenForMerging0001"
CODEQL = CiCheck("CodeQL", CODEQL_APP)
PYTHON = {"Python": 1000}


def seed_mix(state: State) -> None:
    """Seed every case: all reporting, nothing, tests renamed, CodeQL off, CodeQL impossible."""
    # A members-only report repository: the report may name the private repository too.
    state.repo("acme", ".github").private = True
    state.add_repo("acme", "full", ci=[CiCheck("test"), CODEQL], languages=PYTHON)
    state.add_repo("acme", "nothing", ci=[], languages={"Markdown": 10})
    state.add_repo("acme", "renamed", ci=[CiCheck("unit-tests")], languages={"Go": 500})
    state.add_repo("acme", "scannable", ci=[CiCheck("test")], languages=PYTHON)
    state.add_repo("acme", "secret", private=True, ci=[CiCheck("test")], languages=PYTHON)
    custom = state.add_repo("acme", "custom", ci=[CiCheck("test")], languages={"Java": 10})
    custom.code_scanning.advanced = True


def required(state: State, name: str) -> set[str]:
    checks, _ = state.required_on(state.repo("acme", name), "main")
    return {context for context, _ in checks}


def ever_reported(repo: Repo, state: State) -> set[str]:
    shas = set(repo.commits)
    return {r.get("name") or r.get("context") for sha in shas for r in state.reports(repo, sha)}


def kinds(bulwark: Embedded, name: str) -> dict[str, str]:
    status = bulwark.runtime.statuses.get(f"acme/{name}")
    assert status is not None
    return {f"{f.kind.value}:{f.detail}": f.message for f in status.findings}


@pytest.fixture
async def org(bulwark: Embedded) -> Embedded:
    seed_mix(bulwark.sandbox.state)
    await install(bulwark)
    return bulwark


async def test_nothing_is_required_that_never_reported(org: Embedded) -> None:
    state = org.sandbox.state
    for repo in state.account("acme").repos.values():
        assert required(state, repo.name) <= ever_reported(repo, state), repo.name
    assert required(state, "full") == {"CodeQL", "test"}
    assert required(state, "nothing") == set()
    # Everything else the policy asks for is enforced even where no check reports.
    got = state.protection("acme", "nothing", "main")
    assert (
        got is not None
        and got["required_pull_request_reviews"]["required_approving_review_count"] == 1
    )
    assert got["enforce_admins"]["enabled"] is True


async def test_default_setup_is_turned_on_exactly_where_it_can_run(org: Embedded) -> None:
    state = org.sandbox.state
    configured = {
        r.name
        for r in state.account("acme").repos.values()
        if r.code_scanning.state == "configured"
    }
    assert configured == {"renamed", "scannable"}
    calls = [r for r in org.sandbox.requests if "default-setup" in r.path]
    patched = {r.path.split("/")[3]: r.status for r in calls if r.method == "PATCH"}
    assert patched == {"renamed": 202, "scannable": 202, "custom": 422}
    # The private one refuses the read already (403): no change is attempted there.
    assert {r.status for r in calls if "/secret/" in r.path} == {403}
    assert not any("/nothing/" in r.path or "/full/" in r.path for r in calls)


async def test_every_other_case_is_a_named_finding_with_its_reason(org: Embedded) -> None:
    nothing = kinds(org, "nothing")
    assert set(nothing) == {"check_not_reporting:test", "codeql_unavailable:CodeQL"}
    assert "No check reports on this repository at all" in nothing["check_not_reporting:test"]
    assert "no language CodeQL" in nothing["codeql_unavailable:CodeQL"]
    renamed = kinds(org, "renamed")
    assert "'unit-tests'" in renamed["check_not_reporting:test"]
    assert "would block every merge" in renamed["check_not_reporting:test"]
    assert "Code Security" in kinds(org, "secret")["codeql_unavailable:CodeQL"]
    assert "advanced setup" in kinds(org, "custom")["codeql_unavailable:CodeQL"]
    names = ("full", "nothing", "renamed", "scannable", "secret", "custom")
    statuses = {n: org.runtime.statuses.get(f"acme/{n}") for n in names}
    assert statuses["full"] and statuses["full"].outcome in (Outcome.FIXED, Outcome.COMPLIANT)
    assert statuses["scannable"] and statuses["scannable"].codeql == "enabled"
    not_compliant = {n for n, s in statuses.items() if s and s.outcome is Outcome.DRIFTED}
    assert not_compliant == {"nothing", "renamed", "scannable", "secret", "custom"}
    [report] = state_issues(org)
    assert "### CodeQL (5)" in report["body"]
    assert "first analysis to come (2): `acme/renamed`, `acme/scannable`" in report["body"]
    assert "Code Security is not enabled for it (1): `acme/secret`" in report["body"]


def state_issues(bulwark: Embedded) -> list[dict[str, Any]]:
    return [i for i in bulwark.sandbox.state.issues("acme", ".github") if i["via_app"]]


async def test_codeql_is_required_once_its_first_analysis_reports(org: Embedded) -> None:
    state = org.sandbox.state
    assert "CodeQL" not in required(state, "scannable")
    assert state.run_analyses() == ["acme/renamed", "acme/scannable"]
    run = next(r for r in state.check_runs("acme", "scannable") if r["name"] == "CodeQL")
    payload = org.sandbox.payloads.check_run(
        "completed", "acme", "scannable", run["id"], "github-advanced-security[bot]"
    )
    assert await org.deliver("check_run", payload) == 202
    await org.settle()
    assert required(state, "scannable") == {"CodeQL", "test"}
    assert org.runtime.statuses.get("acme/scannable").outcome is not Outcome.DRIFTED  # type: ignore[union-attr]
    # No event for the other one: the next resync finds its CodeQL report.
    assert "CodeQL" not in required(state, "renamed")
    await org.runtime.enqueue_resync(org.installation_id, delivery_id="hourly")
    await org.settle()
    assert "CodeQL" in required(state, "renamed")
    assert "test" not in required(state, "renamed")


async def test_a_check_required_as_soon_as_it_reports(org: Embedded) -> None:
    state = org.sandbox.state
    repo = state.repo("acme", "renamed")
    repo.ci = (CiCheck("test"),)  # someone renamed the CI job to `test`
    sha = state.add_commit("acme", "renamed", "main", author="alice")
    run = next(r for r in state.check_runs("acme", "renamed") if r["head_sha"] == sha)
    payload = org.sandbox.payloads.check_run("completed", "acme", "renamed", run["id"], "bob")
    assert await org.deliver("check_run", payload) == 202
    await org.settle()
    assert "test" in required(state, "renamed")
    assert "check_not_reporting:test" not in kinds(org, "renamed")


async def test_a_check_run_nobody_waits_for_costs_no_request(org: Embedded) -> None:
    state = org.sandbox.state
    sha = state.add_commit("acme", "full", "main", author="alice")
    run = next(r for r in state.check_runs("acme", "full") if r["head_sha"] == sha)
    org.sandbox.requests.clear()
    payload = org.sandbox.payloads.check_run("completed", "acme", "full", run["id"], "bob")
    assert await org.deliver("check_run", payload) == 202
    await org.settle()
    assert [r.path for r in org.sandbox.requests if "/repos/acme/full" in r.path] == []


async def test_a_pull_request_on_every_repository_merges_once_approved(org: Embedded) -> None:
    state = org.sandbox.state
    state.run_analyses()
    await org.runtime.enqueue_resync(org.installation_id, delivery_id="after-analysis")
    await org.settle()
    state.add_personal_token(TOKEN, "alice")
    names = sorted(r.name for r in state.account("acme").repos.values())
    async with aiohttp.ClientSession(org.sandbox.url) as http:
        http.headers["Authorization"] = f"token {TOKEN}"
        for index, name in enumerate(names):
            number = state.add_pull("acme", name, head_sha=f"{index + 1:040x}", author="bob")
            path = f"/repos/acme/{name}/pulls/{number}/merge"
            async with http.put(path, json={}) as refused:
                assert refused.status == 405, name  # one approving review is required first
            state.add_review("acme", name, number, user="carol")
            async with http.put(path, json={}) as answer:
                assert answer.status == 200, (name, await answer.json())
    assert all(state.protection("acme", n, "main") is not None for n in names)


async def test_require_unreported_requires_regardless(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    text = "required_status_checks:\n  require_unreported: true\n"
    state.add_file("acme", ".github", ".github/repo-protection.yml", text)
    state.add_repo("acme", "nothing", ci=[], languages={"Markdown": 10})
    await install(bulwark)
    assert required(state, "nothing") == {"CodeQL", "test"}
    assert not any(k.startswith("check_not_reporting") for k in kinds(bulwark, "nothing"))


async def test_report_mode_only_reports_codeql(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "scannable", ci=[CiCheck("test")], languages=PYTHON)
    await install(bulwark)
    assert state.repo("acme", "scannable").code_scanning.state == "not-configured"
    status = bulwark.runtime.statuses.get("acme/scannable")
    assert status is not None and status.codeql == "available"
    finding = next(f for f in status.findings if f.kind is FindingKind.CHECK_NOT_REPORTING)
    assert "Turn on CodeQL's default setup" in finding.remedy


async def test_an_app_without_administration_write_reports_why(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "scannable", ci=[CiCheck("test")], languages=PYTHON)
    installation_id = state.install("acme")
    state.installations[installation_id].permissions = {**APP_PERMISSIONS, "administration": "read"}
    bulwark.installation_id = installation_id
    payload = bulwark.sandbox.payloads.installation_created(installation_id)
    assert await bulwark.deliver("installation", payload) == 202
    await bulwark.settle()
    assert (
        "Bulwark may not change its code scanning"
        in kinds(bulwark, "scannable")["codeql_unavailable:CodeQL"]
    )


async def test_the_pull_request_says_which_checks_are_missing_and_why(org: Embedded) -> None:
    state = org.sandbox.state
    number = state.add_pull("acme", "renamed", head_sha="a" * 40, author="bob")
    payload = org.sandbox.payloads.pull_request("opened", "acme", "renamed", number, "bob")
    assert await org.deliver("pull_request", payload) == 202
    await org.settle()
    run = next(r for r in state.check_runs("acme", "renamed") if r["name"] == "repo-protection")
    assert run["conclusion"] == "neutral"  # nothing on this pull request can make a job report
    assert "2 policy checks not required yet" in run["output"]["title"]
    assert "unit\\-tests" in run["output"]["summary"]  # escaped markdown
    [comment] = state.comments("acme", "renamed", number)
    body = comment["body"]
    assert "Checks not required yet on" in body and "keeps every pull request waiting" in body
    assert "test\\_check" in body and "default setup" in body
