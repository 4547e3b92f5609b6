"""The GraphQL org scan against the sandbox: valid queries, parity with the REST reconcile."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import FakeClock
from bot.core.models import Outcome, RepoStatus
from bot.core.policy import POLICY_PATH, WriteMode
from bot.engine.policies import PolicyStore
from bot.engine.scan import REPOS_QUERY, OrgNotFound, ScanResult, scan_org
from bot.github.clients import GitHubClients
from bot.github.gateway import Gateway
from bot.sandbox import Sandbox
from bot.sandbox.app import WRITE_METHODS
from bot.sandbox.graphql_schema import node_cost, validate_query
from tests.fixtures import (
    compliant_protection,
    reconciler,
    report_policy_checks,
    sandbox_clients,
    strong_protection,
    weak_protection,
)
from tests.manifest import APP_PERMISSIONS

ORG_POLICY = """\
branches: [default, "release/*"]
"""

TIGHTER = """\
pull_request_reviews:
  required_approving_review_count: 2
"""

WEAKER = """\
pull_request_reviews:
  required_approving_review_count: 0
enforce_admins: false
"""

RULESET = {
    "name": "main rules",
    "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
    "rules": [
        {"type": "pull_request", "parameters": {"required_approving_review_count": 1}},
        {"type": "non_fast_forward"},
        {"type": "deletion"},
    ],
}


def seed_org(box: Sandbox, org: str = "acme") -> None:
    """Give `org` one repository of every kind the scan must judge."""
    state = box.state
    state.add_org(org)
    state.add_user("alice")
    state.add_org_owner(org, "alice")
    state.add_repo(org, ".github")
    state.add_file(org, ".github", POLICY_PATH, ORG_POLICY)
    state.add_repo(org, "bare")
    state.add_repo(org, "weak")
    state.set_protection(org, "weak", "main", weak_protection())
    state.add_repo(org, "fine")
    state.set_protection(org, "fine", "main", compliant_protection())
    state.add_repo(org, "strong")
    state.set_protection(org, "strong", "main", strong_protection())
    state.add_repo(org, "old", archived=True)
    state.add_repo(org, "copy", fork=True)
    state.add_repo(org, "blank", empty=True)
    state.add_repo(org, "hidden", private=True)
    state.add_repo(org, "hidden-fine", private=True)
    state.set_protection(org, "hidden-fine", "main", compliant_protection())
    state.add_repo(org, "ruled")
    state.add_ruleset(org, "ruled", RULESET)
    state.add_repo(org, "tight")
    state.add_file(org, "tight", POLICY_PATH, TIGHTER)
    state.set_protection(org, "tight", "main", compliant_protection())
    state.add_repo(org, "loose")
    state.add_file(org, "loose", POLICY_PATH, WEAKER)
    state.set_protection(org, "loose", "main", compliant_protection())
    state.add_repo(org, "releases", branches=("main", "release/1.0", "release/2.0", "dev"))
    for branch in ("main", "release/1.0"):
        state.set_protection(org, "releases", branch, compliant_protection())
    state.add_repo(org, "released", branches=("main", "release/1.0"))
    for branch in ("main", "release/1.0"):
        state.set_protection(org, "released", branch, compliant_protection())


@pytest.fixture
async def box(clock: FakeClock) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    report_policy_checks(sandbox.state)
    seed_org(sandbox)
    sandbox.state.add_org("tiny", plan="free")
    sandbox.state.add_repo("tiny", "secret", private=True)
    sandbox.state.add_repo("tiny", "open")
    # Branch patterns from a repo file only (the org policy has none): GraphQL skips refs.
    sandbox.state.add_repo("tiny", "branchy", branches=("main", "hotfix/1"))
    sandbox.state.set_protection("tiny", "branchy", "main", compliant_protection())
    sandbox.state.add_file("tiny", "branchy", POLICY_PATH, 'branches: [default, "hotfix/*"]\n')
    sandbox.state.add_org("solo")
    sandbox.state.accounts["solo"].type = "User"
    sandbox.state.add_repo("solo", "thing")
    await sandbox.start()
    yield sandbox
    await sandbox.stop()
    assert sandbox.state.violations == []  # nothing GitHub's description refuses


@pytest.fixture
async def clients(box: Sandbox, clock: FakeClock) -> AsyncIterator[GitHubClients]:
    async with sandbox_clients(box, clock) as opened:
        yield opened


def gateway(box: Sandbox, clients: GitHubClients, org: str) -> Gateway:
    return clients.for_installation(box.state.install(org))


def summary(status: RepoStatus) -> tuple[str, str, list[tuple[str, str | None]]]:
    kinds = sorted((f.kind.value, f.branch) for f in status.findings)
    return status.repo, status.outcome.value, kinds


def test_repos_query_is_valid_for_github_with_the_variables_used() -> None:
    for with_refs in (False, True):
        variables = {
            "org": "acme",
            "after": None,
            "withRefs": with_refs,
            "policy": f"HEAD:{POLICY_PATH}",
        }
        assert validate_query(REPOS_QUERY, variables) == []
        variables["after"] = "Y3Vyc29yOnYyOjk5"
        assert validate_query(REPOS_QUERY, variables) == []


def test_a_page_of_repos_costs_few_points() -> None:
    variables = {"org": "acme", "after": None, "withRefs": False, "policy": "HEAD:x"}
    assert node_cost(REPOS_QUERY, variables) <= 30


@pytest.mark.parametrize("org", ["acme", "tiny"])
async def test_scan_agrees_with_the_rest_reconcile(
    box: Sandbox, clients: GitHubClients, clock: FakeClock, org: str
) -> None:
    gh = gateway(box, clients, org)
    scanned = await scan_org(gh, org, policies=PolicyStore(), reconciler=reconciler(clock))
    rest = reconciler(clock)
    expected = []
    for repo in sorted(box.state.account(org).repos.values(), key=lambda r: r.name.lower()):
        status = await rest.reconcile(gh, org, repo.name, write=WriteMode.NEVER)
        expected.append(status)

    assert [summary(s) for s in scanned.statuses] == [summary(s) for s in expected]
    assert [s.findings for s in scanned.statuses] == [s.findings for s in expected]
    assert [s.branches for s in scanned.statuses] == [s.branches for s in expected]


async def test_the_mixed_org_has_every_outcome(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    gh = gateway(box, clients, "acme")
    scanned = await scan_org(gh, "acme", policies=PolicyStore(), reconciler=reconciler(clock))
    got = {s.repo.split("/")[1]: summary(s)[1:] for s in scanned.statuses}

    assert got["fine"] == ("compliant", [])
    assert got["strong"] == ("compliant", [])
    assert got["old"] == ("excluded", [])
    assert got["copy"] == ("excluded", [])
    assert got["blank"] == ("unsupported", [("empty_repository", None)])
    assert got["bare"][0] == "drifted" and ("unprotected", "main") in got["bare"][1]
    assert got["tight"] == ("drifted", [("reviews_too_few", "main")])
    assert got["loose"] == ("drifted", [("policy_invalid", None), ("policy_invalid", None)])
    assert got["ruled"][0] == "drifted"
    assert got["hidden"] == ("drifted", [("unprotected", "main")])
    assert ("unprotected", "release/2.0") in got["releases"][1]
    assert got["released"] == ("compliant", [])


async def test_a_read_only_scan_writes_nothing_and_uses_one_page(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    gh = gateway(box, clients, "acme")
    box.requests.clear()

    result = await scan_org(gh, "acme", policies=PolicyStore(), reconciler=reconciler(clock))

    writes = [r for r in box.requests if r.method in WRITE_METHODS]
    assert [w.path for w in writes if not w.path.endswith("/access_tokens")] == ["/graphql"]
    assert result.graphql_pages == 1
    graphql = [r for r in box.requests if r.path == "/graphql"]
    assert len(graphql) == 1


async def test_apply_repairs_and_a_second_scan_is_clean(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    gh = gateway(box, clients, "acme")
    fixer = reconciler(clock)
    first = await scan_org(
        gh, "acme", policies=PolicyStore(), reconciler=fixer, write=WriteMode.ALWAYS
    )
    assert {s.repo for s in first.statuses if s.outcome is Outcome.FIXED} >= {
        "acme/bare",
        "acme/weak",
        "acme/releases",
    }
    protection = box.state.protection("acme", "releases", "release/2.0")
    assert protection is not None

    again = await scan_org(gh, "acme", policies=PolicyStore(), reconciler=reconciler(clock))
    assert [s.repo for s in again.drifted] == ["acme/loose"]  # a weakening file needs a person


async def test_a_scan_for_the_figures_only_leaves_the_statuses_in_the_store(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    gh = gateway(box, clients, "acme")
    kept = await scan_org(gh, "acme", policies=PolicyStore(), reconciler=reconciler(clock))
    store = reconciler(clock)
    figures = await scan_org(
        gh, "acme", policies=PolicyStore(), reconciler=store, keep_statuses=False
    )
    assert figures.statuses == [] and figures.drifted == []
    assert figures.counts() == kept.counts() and sum(kept.counts().values()) == len(kept.statuses)
    assert figures.repos == {s.repo.lower() for s in kept.statuses}
    assert [store.statuses.get(s.repo) for s in kept.statuses] == kept.statuses


def test_a_status_counts_under_the_name_it_has_now() -> None:
    # A repository renamed while the scan ran is recorded under its new name (REST
    # follows GitHub's redirect): that is the name a full scan keeps.
    result = ScanResult("acme", keep_statuses=False)
    result.add(RepoStatus("acme/New-Name", Outcome.FIXED))
    result.add(RepoStatus("acme/api", Outcome.COMPLIANT))
    assert result.repos == {"acme/new-name", "acme/api"} and result.statuses == []
    assert result.counts()["fixed"] == 1 and result.counts()["compliant"] == 1


async def test_only_limits_the_scan(box: Sandbox, clients: GitHubClients, clock: FakeClock) -> None:
    gh = gateway(box, clients, "acme")
    result = await scan_org(
        gh, "acme", policies=PolicyStore(), reconciler=reconciler(clock), only=["bare", "Fine"]
    )
    assert [s.repo for s in result.statuses] == ["acme/bare", "acme/fine"]


async def test_a_user_account_is_not_an_org(
    box: Sandbox, clients: GitHubClients, clock: FakeClock
) -> None:
    gh = gateway(box, clients, "solo")
    with pytest.raises(OrgNotFound):
        await scan_org(gh, "solo", policies=PolicyStore(), reconciler=reconciler(clock))
