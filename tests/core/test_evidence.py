"""Judging each promise from plain facts: tables of cases, no I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.evidence import (
    BranchHistory,
    Commit,
    OrgFacts,
    PromiseId,
    Pull,
    RepoFacts,
    Review,
    Status,
    Unknown,
    judge,
    overall,
    weekly,
)
from bot.core.policy import load_policy_file, org_policy

MERGED = "2026-11-10T12:00:00Z"
BEFORE = "2026-11-10T11:00:00Z"
AFTER = "2026-11-10T13:00:00Z"
GREEN = (("CodeQL", "SUCCESS"), ("test", "SUCCESS"))


def pull(number: int = 1, *, reviews: tuple[Review, ...] | None = None, checks=GREEN) -> Pull:  # type: ignore[no-untyped-def]
    approved = (Review("carol", "APPROVED", BEFORE),)
    return Pull(
        number, f"https://github.com/acme/web/pull/{number}", "bob", MERGED, "main",
        approved if reviews is None else reviews, checks,
    )  # fmt: skip


def repo(*pulls: Pull, direct: int = 0, **changes: object) -> RepoFacts:
    commits = [Commit(f"{p.number:040x}", "u", "bob", MERGED, p.number) for p in pulls]
    commits += [Commit(f"{9000 + i:040x}", "u", "dave", MERGED, None) for i in range(direct)]
    facts = RepoFacts(
        "acme/web",
        "https://github.com/acme/web",
        private=False,
        history=(BranchHistory("main", tuple(commits), pulls),),
        codeql_configured=True,
        security_policy=True,
        private_reporting=True,
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


ORG = OrgFacts("acme", two_factor=True, owners=("alice",))


def result(org: OrgFacts, repos: list[RepoFacts], promise: PromiseId):  # type: ignore[no-untyped-def]
    return next(r for r in judge(org, repos) if r.id is promise)


P, S = PromiseId, Status
CASES = [
    # (promise, repos, org, status, exception kinds)
    (P.CHANGES_VIA_PULL_REQUEST, [repo(pull())], ORG, S.MET, []),
    (P.CHANGES_VIA_PULL_REQUEST, [repo(pull(), direct=1)], ORG, S.NOT_MET, ["direct_push"]),
    (P.CHANGES_VIA_PULL_REQUEST, [repo(history=Unknown("GraphQL failed"))], ORG, S.UNKNOWN, []),
    (
        P.CHANGES_VIA_PULL_REQUEST,
        [repo(pull()), replace(repo(), repo="acme/api", history=Unknown("x"))],
        ORG,
        S.PARTIAL,
        [],
    ),
    (P.INDEPENDENT_REVIEW, [repo(pull())], ORG, S.MET, []),
    (
        P.INDEPENDENT_REVIEW,
        [repo(pull(reviews=(Review("bob", "APPROVED", BEFORE),)))],
        ORG,
        S.NOT_MET,
        ["self_approved"],
    ),
    (
        P.INDEPENDENT_REVIEW,
        [repo(pull(reviews=(Review("carol", "DISMISSED", BEFORE),)))],
        ORG,
        S.NOT_MET,
        ["no_approval"],
    ),
    (
        P.INDEPENDENT_REVIEW,
        [repo(pull(reviews=(Review("carol", "APPROVED", AFTER),)))],
        ORG,
        S.NOT_MET,
        ["no_approval"],
    ),
    (P.CODEQL_EVERY_CHANGE, [repo(pull())], ORG, S.MET, []),
    (
        P.CODEQL_EVERY_CHANGE,
        [repo(codeql_configured=False)],
        ORG,
        S.NOT_MET,
        ["codeql_not_configured"],
    ),
    (
        P.CODEQL_EVERY_CHANGE,
        [repo(pull(checks=(("test", "SUCCESS"),)))],
        ORG,
        S.NOT_MET,
        ["codeql_missing"],
    ),
    (
        P.CODEQL_EVERY_CHANGE,
        [repo(pull(checks=(("CodeQL", "FAILURE"), ("test", "SUCCESS"))))],
        ORG,
        S.NOT_MET,
        ["codeql_not_passing"],
    ),
    (
        P.CODEQL_EVERY_CHANGE,
        [repo(codeql_configured=Unknown("needs administration: read"))],
        ORG,
        S.UNKNOWN,
        [],
    ),
    (P.TESTS_EVERY_PR, [repo(pull())], ORG, S.MET, []),
    (
        P.TESTS_EVERY_PR,
        [repo(pull(checks=(("CodeQL", "SUCCESS"),)))],
        ORG,
        S.NOT_MET,
        ["tests_missing"],
    ),
    (
        P.TESTS_EVERY_PR,
        [repo(pull(checks=(("ci / test", "SUCCESS"),)), test_check="ci / test")],
        ORG,
        S.MET,
        [],
    ),
    (P.FAILING_TESTS_BLOCK_MERGE, [repo(pull())], ORG, S.MET, []),
    (
        P.FAILING_TESTS_BLOCK_MERGE,
        [repo(pull(checks=(("test", "FAILURE"),)))],
        ORG,
        S.NOT_MET,
        ["merged_with_failing_tests"],
    ),
    (
        P.FAILING_TESTS_BLOCK_MERGE,
        [repo(protection=("check_missing:test",))],
        ORG,
        S.NOT_MET,
        ["tests_not_required"],
    ),
    (P.NO_ADMIN_BYPASS, [repo(pull())], ORG, S.MET, []),
    (
        P.NO_ADMIN_BYPASS,
        [repo(pull(), direct=1, protection=("admins_not_enforced",))],
        ORG,
        S.NOT_MET,
        ["admins_not_enforced", "direct_push"],
    ),
    (P.MFA_REQUIRED, [], ORG, S.MET, []),
    (P.MFA_REQUIRED, [], replace(ORG, two_factor=False), S.NOT_MET, ["two_factor_not_required"]),
    (P.MFA_REQUIRED, [], replace(ORG, two_factor=Unknown("owner only")), S.UNKNOWN, []),
    (P.FEW_ADMINS, [repo(admins=("alice",))], ORG, S.MET, []),
    (
        P.FEW_ADMINS,
        [],
        replace(ORG, owners=tuple(f"o{i}" for i in range(6))),
        S.NOT_MET,
        ["too_many_owners"],
    ),
    (
        P.FEW_ADMINS,
        [],
        replace(ORG, owners=("a", "b"), max_owners=1),
        S.NOT_MET,
        ["too_many_owners"],
    ),
    (P.VULNERABILITY_DISCLOSURE, [repo()], ORG, S.MET, []),
    (
        P.VULNERABILITY_DISCLOSURE,
        [repo(security_policy=False)],
        ORG,
        S.NOT_MET,
        ["no_security_policy"],
    ),
    (
        P.VULNERABILITY_DISCLOSURE,
        [repo(security_policy=False)],
        replace(ORG, security_policy=True),
        S.MET,
        [],
    ),
    (
        P.VULNERABILITY_DISCLOSURE,
        [repo(private_reporting=False)],
        ORG,
        S.NOT_MET,
        ["private_reporting_disabled"],
    ),
    (
        P.VULNERABILITY_DISCLOSURE,
        [repo(private=True, security_policy=False, private_reporting=None)],
        ORG,
        S.MET,
        [],
    ),
]


@pytest.mark.parametrize(("promise", "repos", "org", "status", "kinds"), CASES)
def test_promise(
    promise: PromiseId, repos: list[RepoFacts], org: OrgFacts, status: Status, kinds: list[str]
) -> None:
    found = result(org, repos, promise)
    assert found.status is status
    assert sorted(e.kind for e in found.exceptions) == sorted(kinds)


def test_repository_admins_outside_the_owners_are_named() -> None:
    found = result(ORG, [repo(admins=("alice", "zed"))], PromiseId.FEW_ADMINS)
    assert found.figures["repository_admins_outside_owners"] == ["acme/web:zed"]
    assert found.status is Status.MET


def test_figures_count_commits_and_pulls() -> None:
    found = result(ORG, [repo(pull(1), pull(2), direct=1)], PromiseId.CHANGES_VIA_PULL_REQUEST)
    assert found.figures == {"commits": 3, "via_pull_request": 2, "direct_pushes": 1}
    assert found.exceptions[0].author == "dave"


@pytest.mark.parametrize(
    ("statuses", "worst"),
    [
        ([Status.MET, Status.MET], Status.MET),
        ([Status.MET, Status.PARTIAL], Status.PARTIAL),
        ([Status.PARTIAL, Status.UNKNOWN], Status.UNKNOWN),
        ([Status.UNKNOWN, Status.NOT_MET], Status.NOT_MET),
    ],
)
def test_overall_is_the_worst(statuses: list[Status], worst: Status) -> None:
    results = [replace(result(ORG, [], PromiseId.MFA_REQUIRED), status=s) for s in statuses]
    assert overall(results) is worst


def test_weekly_counts_changes_and_exceptions() -> None:
    repos = [repo(pull(), direct=1)]
    weeks = weekly(repos, "2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z", judge(ORG, repos))
    assert [w.start for w in weeks] == ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16"]
    assert [(w.changes, w.exceptions) for w in weeks] == [(0, 0), (0, 0), (2, 1), (0, 0)]


@pytest.mark.parametrize(
    ("text", "limit", "errors"),
    [
        ("mode: enforce\n", 5, 0),
        ("evidence:\n  max_org_owners: 3\n", 3, 0),
        ("evidence:\n  max_org_owners: 0\n", 5, 1),
        ("evidence:\n  max_org_owners: many\n", 5, 1),
        ("evidence:\n  owners: 3\n", 5, 1),
    ],
)
def test_policy_sets_the_owner_limit(text: str, limit: int, errors: int) -> None:
    doc, found = load_policy_file(text, "repo-protection.yml")
    assert len(found) == errors
    assert org_policy(None if found else doc).max_org_owners == limit
