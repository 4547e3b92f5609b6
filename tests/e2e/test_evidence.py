"""`bulwark evidence` against a sandbox org with planted exceptions: exactly those, every format."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.cli.embedded import sandbox_settings
from bot.cli.evidence import run
from bot.clock import FakeClock, isoformat
from bot.core.evidence import OrgFacts, RepoFacts, Status, Unknown, judge
from bot.engine.evidence import Cost, Unit, branch_history, read_history
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.sandbox import Sandbox
from bot.sandbox.history import seed_evidence_org

DAY = 86400.0
TOKEN = "ghp_evidenceOwnerToken"
EXPECTED = {
    "changes_via_pull_request": {("acme/web", "direct_push")},
    "independent_review": {("acme/api", "self_approved")},
    "codeql_every_change": {("acme/lib", "codeql_not_configured"), ("acme/lib", "codeql_missing")},
    "tests_every_pr": set(),
    "failing_tests_block_merge": {("acme/docs", "merged_with_failing_tests")},
    "no_admin_bypass": {("acme/web", "direct_push"), ("acme/api", "self_approved")},
    "mfa_required": set(),
    "few_admins": set(),
    "vulnerability_disclosure": set(),
}


@pytest.fixture
async def planted(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[dict[str, Any]]:
    found = seed_evidence_org(sandbox.state, "acme", now=clock.time())
    sandbox.state.add_personal_token(TOKEN, "alice")
    yield found


async def evidence(sandbox: Sandbox, clock: FakeClock, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": sandbox.url}
    code = await run(
        ["--org", "acme", *argv], environ=environ, out=out, err=err, clock=clock,
        retry=RetryPolicy(base_delay=0),
    )  # fmt: skip
    return code, out.getvalue(), err.getvalue()


def kinds(promise: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["repository"], e["kind"]) for e in promise["exceptions"]}


async def test_json_finds_exactly_the_planted_exceptions(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    code, out, err = await evidence(sandbox, clock, "--format", "json", "--days", "90")
    assert code == 1
    assert err == ""  # no progress bar when standard error is not a terminal
    doc = json.loads(out)
    found = {p["id"]: kinds(p) for p in doc["promises"]}
    assert found == EXPECTED
    statuses = {p["id"]: p["status"] for p in doc["promises"]}
    assert {k for k, v in statuses.items() if v == "met"} == {
        "tests_every_pr", "mfa_required", "few_admins", "vulnerability_disclosure",
    }  # fmt: skip
    direct = next(p for p in doc["promises"] if p["id"] == "changes_via_pull_request")
    assert direct["exceptions"][0]["sha"] == planted["direct_push"]
    assert direct["exceptions"][0]["author"] == "dave"
    # 3 repositories x 12 weekly merges + 3 planted merges + 1 direct push.
    assert direct["figures"] == {"commits": 40, "via_pull_request": 39, "direct_pushes": 1}
    review = next(p for p in doc["promises"] if p["id"] == "independent_review")
    assert review["exceptions"][0]["url"].endswith(f"/acme/api/pull/{planted['self_approved']}")
    assert sorted(doc["repositories"]["in_scope"]) == [
        "acme/.github", "acme/api", "acme/docs", "acme/lib", "acme/web",
    ]  # fmt: skip
    assert sum(w["changes"] for w in doc["weekly"]) == 40
    assert sandbox.state.violations == []


async def test_reads_history_in_a_few_graphql_requests_and_writes_nothing(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    await evidence(sandbox, clock, "--format", "json")
    graphql = [r for r in sandbox.requests if r.path == "/graphql"]
    assert len(graphql) == 2  # one scan page, one history batch of five repositories
    assert not [r for r in sandbox.requests if r.method != "GET" and r.path != "/graphql"]


async def test_markdown_lists_the_same_exceptions(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    code, out, _ = await evidence(sandbox, clock, "--format", "markdown")
    assert code == 1
    assert "| `changes_via_pull_request` | ❌ `not_met` |" in out
    assert "| `mfa_required` | ✅ `met` |" in out
    assert out.count("(direct\\_push") == 2
    assert out.count("(self\\_approved") == 2
    assert out.count("(merged\\_with\\_failing\\_tests") == 1
    assert out.count("(codeql\\_not\\_configured") == 1
    assert f"https://github.com/acme/web/commit/{planted['direct_push']}" in out


async def test_html_is_written_to_a_file(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any], tmp_path: Any
) -> None:
    page = tmp_path / "trust.html"
    code, out, err = await evidence(sandbox, clock, "--format", "html", "--out", str(page))
    assert code == 1 and out == ""
    assert str(page) in err
    text = page.read_text()
    assert text.count('class="exception"') == sum(len(v) for v in EXPECTED.values())
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")


async def test_a_repository_graphql_cannot_resolve_is_unknown_the_others_are_read(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    settings = sandbox_settings(sandbox)
    async with GitHubClients.open(settings, clock=clock, retry=RetryPolicy.for_tests()) as clients:
        gh = clients.for_installation(sandbox.state.install("acme"))
        units = [Unit("acme/web", "main"), Unit("acme/gone", "main"), Unit("acme/api", "main")]
        since, until = isoformat(clock.time() - 90 * DAY), isoformat(clock.time())
        await read_history(gh, units, since, until, Cost())
    web, gone, api = units
    assert gone.error is not None and "Could not resolve" in gone.error
    assert web.error is None and len(web.commits) == 13
    assert api.error is None and len(api.commits) == 13
    org = OrgFacts("acme", two_factor=True, owners=("alice",))
    facts = [
        RepoFacts(u.repo, "https://github.com/" + u.repo, private=False, codeql_configured=True,
                  security_policy=True, private_reporting=True,
                  history=Unknown(u.error) if u.error else (branch_history(u, since, until),))
        for u in units
    ]  # fmt: skip
    results = {r.id.value: r for r in judge(org, facts)}
    assert results["changes_via_pull_request"].status is Status.NOT_MET  # web's direct push
    assert results["tests_every_pr"].status is Status.PARTIAL
    assert results["tests_every_pr"].unknown == (("acme/gone", gone.error),)
    assert results["mfa_required"].status is Status.MET


async def test_a_failed_history_request_marks_its_repositories_unknown_and_goes_on(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    settings = sandbox_settings(sandbox)
    async with GitHubClients.open(settings, clock=clock, retry=RetryPolicy.for_tests()) as clients:
        gh = clients.for_installation(sandbox.state.install("acme"))
        await gh.rate_limit()  # the token is minted before GitHub starts failing
        sandbox.faults.configure(1.0, ["502"])
        units = [Unit("acme/web", "main"), Unit("acme/api", "main")]
        since, until = isoformat(clock.time() - 90 * DAY), isoformat(clock.time())
        await read_history(gh, units, since, until, Cost())
    assert [u.error for u in units] == [units[0].error] * 2
    assert units[0].error is not None and "GitHub would not answer: 502" in units[0].error
    assert all(u.done for u in units)


async def test_everything_met_exits_0(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    code, out, err = await evidence(sandbox, clock, "--format", "json", "--repo", ".github")
    assert code == 0, out + err
    assert json.loads(out)["status"] == "met"


async def test_an_unknown_org_is_an_error(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    out, err = io.StringIO(), io.StringIO()
    environ = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": sandbox.url}
    code = await run(["--org", "nobody"], environ=environ, out=out, err=err, clock=clock)
    assert code == 2
    assert "no organization 'nobody'" in err.getvalue()


async def test_the_owner_limit_comes_from_the_org_policy(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    sandbox.state.add_org_owner("acme", "zed")
    policy = "evidence:\n  max_org_owners: 1\n"
    sandbox.state.add_file("acme", ".github", ".github/repo-protection.yml", policy)
    _, out, _ = await evidence(sandbox, clock, "--format", "json", "--repo", ".github")
    few = next(p for p in json.loads(out)["promises"] if p["id"] == "few_admins")
    assert few["status"] == "not_met"
    assert kinds(few) == {("acme", "too_many_owners")}
    assert few["figures"]["owners"] == ["alice", "zed"]


async def test_two_factor_is_unknown_to_a_non_owner_and_says_what_would_tell(
    sandbox: Sandbox, clock: FakeClock, planted: dict[str, Any]
) -> None:
    sandbox.state.add_personal_token("ghp_member", "bob")
    out, err = io.StringIO(), io.StringIO()
    environ = {"GITHUB_TOKEN": "ghp_member", "GITHUB_API_URL": sandbox.url}
    argv = ["--org", "acme", "--format", "json", "--repo", ".github"]
    code = await run(argv, environ=environ, out=out, err=err, clock=clock)
    mfa = next(p for p in json.loads(out.getvalue())["promises"] if p["id"] == "mfa_required")
    assert code == 1
    assert mfa["status"] == "unknown"
    assert "organization Administration permission (read)" in mfa["unknown"][0]["reason"]
