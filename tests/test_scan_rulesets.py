"""Rulesets judged from the GraphQL page exactly as the REST reconcile judges them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.cli.embedded import sandbox_settings
from bot.clock import FakeClock
from bot.core.models import RepoStatus
from bot.core.policy import POLICY_PATH, WriteMode
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import Reconciler
from bot.engine.scan import REPOS_QUERY, ScanResult
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.github.gateway import Gateway
from bot.sandbox import Sandbox
from bot.sandbox.graphql_schema import node_cost
from bot.store.statuses import StatusStore
from tests.fixtures import (
    compliant_protection,
    compliant_rules,
    read_only_scan,
    reconciler,
    report_policy_checks,
    sandbox_clients,
    weak_protection,
)
from tests.manifest import APP_PERMISSIONS

ORG = "ruled"
DEFAULT = {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}}


def ruleset(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "conditions": DEFAULT, "rules": compliant_rules(), **fields}


def seed(box: Sandbox) -> None:
    """An org under one org ruleset, with repository rulesets of every kind on top."""
    state = box.state
    state.add_org(ORG)
    state.add_user("alice")
    state.add_org_owner(ORG, "alice")
    state.add_repo(ORG, ".github")
    state.add_file(ORG, ".github", POLICY_PATH, 'branches: [default, "release/*"]\n')
    org_rules = {
        "name": "org baseline",
        "conditions": {
            "ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []},
            "repository_name": {"include": ["~ALL"], "exclude": ["open-*"]},
        },
        "rules": [{"type": "deletion"}, {"type": "non_fast_forward"}],
        "bypass_actors": [
            {"actor_id": None, "actor_type": "OrganizationAdmin", "bypass_mode": "always"}
        ],
    }
    state.add_ruleset(ORG, ".github", org_rules, org_level=True)
    repos: dict[str, list[dict[str, Any]]] = {
        "plain": [],
        "binding": [ruleset("all rules")],
        "evaluate": [ruleset("trial", enforcement="evaluate")],
        "disabled": [ruleset("off", enforcement="disabled")],
        "tag-only": [ruleset("tags", target="tag")],
        "bypass-always": [
            ruleset(
                "admins skip",
                bypass_actors=[
                    {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}
                ],
            )
        ],
        "bypass-by-pr": [
            ruleset(
                "app via PR",
                bypass_actors=[
                    {"actor_id": 77, "actor_type": "Integration", "bypass_mode": "pull_request"}
                ],
            )
        ],
        "two-reviews": [
            ruleset(
                "two",
                rules=[
                    {
                        "type": "pull_request",
                        "parameters": {
                            "required_approving_review_count": 2,
                            "dismiss_stale_reviews_on_push": True,
                        },
                    },
                    {
                        "type": "required_status_checks",
                        "parameters": {
                            "strict_required_status_checks_policy": True,
                            "required_status_checks": [
                                {"context": "CodeQL", "integration_id": 57789}
                            ],
                        },
                    },
                ],
            )
        ],
        "open-source": [ruleset("all rules")],  # outside the org ruleset
        "many": [ruleset(f"r{i}") for i in range(6)],  # more than the page lists
    }
    for name, rulesets in repos.items():
        state.add_repo(ORG, name)
        for body in rulesets:
            state.add_ruleset(ORG, name, body)
    state.set_protection(ORG, "plain", "main", weak_protection())
    state.set_protection(ORG, "evaluate", "main", compliant_protection())
    state.add_repo(ORG, "no-classic", protection_disabled=True)
    state.add_ruleset(ORG, "no-classic", ruleset("only rulesets"))
    state.add_repo(ORG, "releases", branches=("main", "release/1.0", "release/old-2", "dev"))
    state.set_protection(ORG, "releases", "main", compliant_protection())
    state.add_ruleset(
        ORG,
        "releases",
        ruleset(
            "release",
            conditions={
                "ref_name": {
                    "include": ["refs/heads/release/**/*"],
                    "exclude": ["refs/heads/release/old*"],
                }
            },
        ),
    )


@pytest.fixture
async def box(clock: FakeClock) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    report_policy_checks(sandbox.state)
    seed(sandbox)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()
    assert sandbox.state.violations == []


@pytest.fixture
async def gh(box: Sandbox, clock: FakeClock) -> AsyncIterator[Gateway]:
    async with sandbox_clients(box, clock) as opened:
        yield opened.for_installation(box.state.install(ORG))


async def scan(gh: Gateway, clock: FakeClock) -> ScanResult:
    return await read_only_scan(gh, ORG, clock)


def kinds(status: RepoStatus) -> list[tuple[str, str | None]]:
    return sorted((f.kind.value, f.branch) for f in status.findings)


async def test_graphql_and_rest_judge_every_ruleset_alike(
    box: Sandbox, gh: Gateway, clock: FakeClock
) -> None:
    scanned = await scan(gh, clock)
    rest = reconciler(clock)
    expected = [
        await rest.reconcile(gh, ORG, repo.name, write=WriteMode.NEVER)
        for repo in sorted(box.state.account(ORG).repos.values(), key=lambda r: r.name.lower())
    ]

    assert [(s.repo, s.outcome) for s in scanned.statuses] == [
        (s.repo, s.outcome) for s in expected
    ]
    assert [s.findings for s in scanned.statuses] == [s.findings for s in expected]
    assert [s.branches for s in scanned.statuses] == [s.branches for s in expected]


async def test_only_what_graphql_cannot_show_goes_to_rest(
    box: Sandbox, gh: Gateway, clock: FakeClock
) -> None:
    box.requests.clear()
    scanned = await scan(gh, clock)

    assert scanned.rest_reasons == {"rulesets_truncated": 1}
    read = {r.path.split("/")[3] for r in box.requests if r.path.startswith(f"/repos/{ORG}/")}
    assert read - {".github"} == {"many"}
    assert scanned.graphql_pages == 1


async def test_what_each_ruleset_meets(box: Sandbox, gh: Gateway, clock: FakeClock) -> None:
    got = {s.repo.split("/")[1]: kinds(s) for s in (await scan(gh, clock)).statuses}

    # Active, nobody may always bypass: every requirement met, admins bound.
    assert got["binding"] == []
    assert got["no-classic"] == []
    # Someone may always bypass the repository ruleset: admins are not bound.
    assert got["bypass-always"] == [("admins_not_enforced", "main")]
    # The org ruleset alone, its bypass list hidden from the App: that it binds admins is unknown.
    assert ("bypass_unknown", "main") in got["two-reviews"]
    # Evaluate, disabled and tag rulesets enforce nothing on the branch.
    assert ("reviews_missing", "main") in got["disabled"]
    assert ("reviews_missing", "main") in got["tag-only"]
    assert ("admins_not_enforced", "main") not in got["evaluate"]  # classic binds admins
    # The release ruleset reaches release/1.0, not release/old-2.
    assert ("unprotected", "release/old-2") in got["releases"]
    assert not any(branch == "release/1.0" for _, branch in got["releases"])


def test_a_page_with_rulesets_stays_cheap() -> None:
    variables = {"org": ORG, "after": None, "withRefs": True, "policy": "HEAD:x"}
    assert node_cost(REPOS_QUERY, variables) <= 30


async def test_the_event_read_and_rest_judge_every_repository_alike(
    box: Sandbox, gh: Gateway, clock: FakeClock
) -> None:
    names = sorted(box.state.account(ORG).repos, key=str.lower)
    rest = reconciler(clock)
    expected = [await rest.reconcile(gh, ORG, n, write=WriteMode.NEVER) for n in names]
    event = reconciler(clock)
    box.requests.clear()
    got = [
        await event.reconcile(gh, ORG, n, write=WriteMode.NEVER, graphql_first=True) for n in names
    ]

    assert got == expected
    # GraphQL answered for every repository but the one whose rulesets it lists in part.
    read = {r.path.split("/")[3] for r in box.requests if r.path.startswith(f"/repos/{ORG}/")}
    assert read - {".github"} == {"many"}
    graphql = [r for r in box.requests if r.path == "/graphql"]
    assert len(graphql) == len(names)  # "many" goes to REST knowing what reports there


async def test_an_event_on_a_compliant_repository_costs_one_request(
    box: Sandbox, gh: Gateway, clock: FakeClock
) -> None:
    event = reconciler(clock)
    await event.reconcile(gh, ORG, "binding", graphql_first=True)  # the org policy, read once
    box.requests.clear()

    status = await event.reconcile(gh, ORG, "binding", graphql_first=True)

    assert status.outcome.value == "compliant"
    assert [r.path for r in box.requests] == ["/graphql"]


async def _fix_all(clock: FakeClock, *, graphql_first: bool) -> tuple[list[RepoStatus], Any]:
    """Fix every repository of a fresh org (`seed`); return the statuses and what GitHub holds."""
    sandbox = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    report_policy_checks(sandbox.state)
    seed(sandbox)
    await sandbox.start()
    try:
        settings = sandbox_settings(sandbox)
        retry = RetryPolicy.for_tests()
        async with GitHubClients.open(settings, clock=clock, retry=retry) as opened:
            gh = opened.for_installation(sandbox.state.install(ORG))
            reconciler = Reconciler(PolicyStore(), StatusStore(), clock)
            names = sorted(sandbox.state.account(ORG).repos, key=str.lower)
            statuses = [
                await reconciler.reconcile(
                    gh, ORG, n, write=WriteMode.ALWAYS, graphql_first=graphql_first
                )
                for n in names
            ]
        state = sandbox.state
        held = {
            n: (
                {b: state.protection(ORG, n, b) for b in state.repo(ORG, n).branches},
                state.repo(ORG, n).rulesets,
            )
            for n in names
        }
        # The two sandboxes differ only by their port: compare what they hold without it.
        text = json.dumps(held, sort_keys=True, default=str).replace(sandbox.api_url, "")
    finally:
        await sandbox.stop()
    return statuses, json.loads(text)


async def test_the_event_read_and_rest_fix_every_repository_alike(clock: FakeClock) -> None:
    rest, rest_held = await _fix_all(clock, graphql_first=False)
    event, event_held = await _fix_all(clock, graphql_first=True)

    assert event == rest
    assert event_held == rest_held
    assert any(s.outcome.value == "fixed" for s in event)
