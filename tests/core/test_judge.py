"""Judging a GraphQL repository node, and narrowing a status to one branch: plain data only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.core.judge import Verdict, branch_status, for_branch, goes_to_rest, judge
from bot.core.models import Finding, FindingKind, Outcome, RepoStatus
from bot.core.policy import Mode, WriteMode, org_policy


def test_judge_sends_rulesets_and_private_repos_without_rules_to_rest() -> None:
    base: dict[str, Any] = {
        "name": "r",
        "nameWithOwner": "o/r",
        "isArchived": False,
        "isFork": False,
        "isPrivate": False,
        "isEmpty": False,
        "defaultBranchRef": {"name": "main"},
        "rulesets": {"totalCount": 0},
        "branchProtectionRules": {"nodes": []},
    }
    policy = org_policy(None)
    assert judge(base, policy, ()).status is not None
    assert judge(dict(base, rulesets={"totalCount": 1}), policy, ()).needs_rest
    assert judge(dict(base, isPrivate=True), policy, ()).needs_rest
    many = {"totalCount": 101, "nodes": [{"name": "main"}]}
    assert judge(dict(base, refs=many), policy, ()).needs_rest


def test_only_a_repository_github_calls_public_is_judged_public() -> None:
    node: dict[str, Any] = {
        "name": "r",
        "nameWithOwner": "o/r",
        "isEmpty": False,
        "defaultBranchRef": {"name": "main"},
        "rulesets": {"totalCount": 0},
        "branchProtectionRules": {"nodes": []},
    }
    policy = org_policy(None)

    def private(**fields: Any) -> bool | None:
        status = judge(dict(node, **fields), policy, ()).status
        return None if status is None else status.private

    assert private(isPrivate=False) is False
    assert private(isPrivate=None) is True  # a field GitHub nulled: never named publicly
    assert private() is True
    assert private(isPrivate=False, isArchived=True) is False  # excluded ones too
    assert private(isArchived=True) is True
    assert private(isPrivate=False, isEmpty=True) is False


MAIN_GAP = Finding(FindingKind.UNPROTECTED, "main", branch="main")
DEV_GAP = Finding(FindingKind.UNPROTECTED, "dev", branch="dev")
REPO_FACT = Finding(FindingKind.POLICY_INVALID, "file")


@pytest.mark.parametrize(
    ("status", "branch", "outcome", "findings"),
    [
        (
            RepoStatus("o/r", Outcome.DRIFTED, (MAIN_GAP, DEV_GAP), branches=("main", "dev")),
            "main",
            Outcome.DRIFTED,
            (MAIN_GAP,),
        ),
        (
            RepoStatus("o/r", Outcome.DRIFTED, (DEV_GAP,), branches=("main", "dev")),
            "main",
            Outcome.COMPLIANT,
            (),
        ),
        (
            RepoStatus("o/r", Outcome.FIXED, (MAIN_GAP,), fixed_at="t", branches=("main",)),
            "main",
            Outcome.FIXED,
            (MAIN_GAP,),
        ),
        (
            RepoStatus(
                "o/r", Outcome.FIXED, (MAIN_GAP, REPO_FACT), fixed_at="t", branches=("main",)
            ),
            "main",
            Outcome.DRIFTED,
            (MAIN_GAP, REPO_FACT),
        ),
        # A branch the policy does not cover, and an unsupported repository: as they were.
        (
            RepoStatus("o/r", Outcome.DRIFTED, (MAIN_GAP,), branches=("main",)),
            "dev",
            Outcome.DRIFTED,
            (MAIN_GAP,),
        ),
        (
            RepoStatus("o/r", Outcome.UNSUPPORTED, (DEV_GAP,)),
            "main",
            Outcome.UNSUPPORTED,
            (DEV_GAP,),
        ),
    ],
)
def test_branch_status_keeps_what_concerns_the_branch(
    status: RepoStatus, branch: str, outcome: Outcome, findings: tuple[Finding, ...]
) -> None:
    narrowed = branch_status(status, branch)
    assert (narrowed.outcome, narrowed.findings) == (outcome, findings)
    assert narrowed.fixed_at == (status.fixed_at if outcome is not Outcome.COMPLIANT else None)


@pytest.mark.parametrize(
    ("write", "mode", "outcome", "expected"),
    [
        (WriteMode.NEVER, Mode.ENFORCE, Outcome.DRIFTED, False),
        (WriteMode.FOLLOW_POLICY, Mode.ENFORCE, Outcome.DRIFTED, True),
        (WriteMode.FOLLOW_POLICY, Mode.REPORT, Outcome.DRIFTED, False),
        (WriteMode.ALWAYS, Mode.REPORT, Outcome.DRIFTED, True),
        (WriteMode.ALWAYS, Mode.ENFORCE, Outcome.COMPLIANT, False),
    ],
)
def test_only_drift_that_will_be_written_goes_to_rest(
    write: WriteMode, mode: Mode, outcome: Outcome, expected: bool
) -> None:
    verdict = Verdict(RepoStatus("o/r", outcome, mode=mode))
    assert goes_to_rest(verdict, write) is expected
    assert goes_to_rest(Verdict(None, needs_rest=True), write)


def test_for_branch_keeps_what_is_still_open_on_the_branch() -> None:
    drifted = RepoStatus("o/r", Outcome.DRIFTED, (MAIN_GAP, DEV_GAP, REPO_FACT))
    fixed = RepoStatus("o/r", Outcome.FIXED, (MAIN_GAP, REPO_FACT), fixed_at="t")

    assert for_branch(drifted, "main").findings == (MAIN_GAP, REPO_FACT)
    assert for_branch(drifted, "main").can_fix
    assert for_branch(fixed, "main").findings == (REPO_FACT,)
    assert not for_branch(fixed, "main").can_fix
    assert for_branch(replace(drifted, branches=("main",)), "dev").findings == ()
