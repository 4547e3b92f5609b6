"""Tests for reading classic protection and rulesets into one model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.protection import (
    Actors,
    BranchProtection,
    ClassicProtection,
    PullRequestReviews,
    Requirements,
    StatusCheck,
    StatusChecks,
    classic_requirements,
    parse_classic,
    parse_rules,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_parse_classic_reads_the_openapi_example() -> None:
    classic = parse_classic(fixture("branch-protection.json"))
    assert classic == ClassicProtection(
        required_status_checks=StatusChecks(
            strict=False, checks=(StatusCheck("continuous-integration/travis-ci"),)
        ),
        enforce_admins=True,
        required_pull_request_reviews=PullRequestReviews(
            required_approving_review_count=2,
            dismiss_stale_reviews=True,
            require_code_owner_reviews=True,
            require_last_push_approval=True,
            dismissal_restrictions=Actors(("octocat",), ("justice-league",), ("octoapp",)),
        ),
        restrictions=Actors(("octocat",), ("justice-league",), ("octoapp",)),
        required_linear_history=True,
        allow_force_pushes=True,
        allow_deletions=True,
        required_conversation_resolution=True,
        lock_branch=True,
        allow_fork_syncing=True,
    )


def test_parse_classic_reads_a_recorded_answer_with_checks() -> None:
    classic = parse_classic(fixture("recorded-protection-full.json"))
    assert classic is not None
    assert classic.required_status_checks == StatusChecks(True, (StatusCheck("foo/bar"),))
    assert classic.restrictions is not None
    assert classic.restrictions.users == ("octokit-fixture-user-a",)
    assert classic.restrictions.teams == ("a-team",)


def test_parse_classic_reads_the_minimal_recorded_answer() -> None:
    assert parse_classic(fixture("recorded-protection-minimal.json")) == ClassicProtection()


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        ({}, "enforce_admins", False),
        ({"enforce_admins": {"url": "u", "enabled": True}}, "enforce_admins", True),
        ({"enforce_admins": True}, "enforce_admins", True),
        ({"required_signatures": {"url": "u", "enabled": True}}, "required_signatures", True),
        ({"allow_force_pushes": {"enabled": False}}, "allow_force_pushes", False),
        ({"block_creations": {"enabled": True}}, "block_creations", True),
        ({"lock_branch": {"enabled": True}}, "lock_branch", True),
        ({}, "required_pull_request_reviews", None),
        ({}, "required_status_checks", None),
        ({}, "restrictions", None),
        (
            {"required_status_checks": {"strict": True, "contexts": ["a", "b"]}},
            "required_status_checks",
            StatusChecks(True, (StatusCheck("a"), StatusCheck("b"))),
        ),
        (
            {
                "required_status_checks": {
                    "contexts": ["a"],
                    "checks": [{"context": "a", "app_id": 15368}],
                }
            },
            "required_status_checks",
            StatusChecks(False, (StatusCheck("a", 15368),)),
        ),
        (
            {"required_pull_request_reviews": {"required_approving_review_count": 0}},
            "required_pull_request_reviews",
            PullRequestReviews(0),
        ),
        (
            {
                "required_pull_request_reviews": {
                    "bypass_pull_request_allowances": {
                        "users": [{"login": "alice"}],
                        "teams": [],
                        "apps": [{"slug": "dependabot"}],
                    }
                }
            },
            "required_pull_request_reviews",
            PullRequestReviews(
                bypass_pull_request_allowances=Actors(("alice",), (), ("dependabot",))
            ),
        ),
    ],
)
def test_parse_classic_fields(data: dict[str, Any], field: str, value: object) -> None:
    classic = parse_classic(data)
    assert classic is not None
    assert getattr(classic, field) == value


def test_parse_classic_of_nothing_is_none() -> None:
    assert parse_classic(None) is None


@pytest.mark.parametrize(
    ("classic", "expected"),
    [
        (None, Requirements()),
        (ClassicProtection(), Requirements(no_force_pushes=True, no_deletions=True)),
        (
            ClassicProtection(allow_force_pushes=True, allow_deletions=True),
            Requirements(),
        ),
        (
            ClassicProtection(
                required_pull_request_reviews=PullRequestReviews(2, True, True, True),
                required_status_checks=StatusChecks(True, (StatusCheck("x", 1),)),
            ),
            Requirements(2, True, True, True, True, (StatusCheck("x", 1),), True, True),
        ),
    ],
)
def test_classic_requirements(classic: ClassicProtection | None, expected: Requirements) -> None:
    assert classic_requirements(classic) == expected


def rule(kind: str, ruleset_id: int = 1, **parameters: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "ruleset_source_type": "Repository",
        "ruleset_source": "org/repo",
        "ruleset_id": ruleset_id,
        **({"parameters": parameters} if parameters else {}),
    }


def ruleset(ruleset_id: int = 1, enforcement: str = "active", *bypass: str) -> dict[str, Any]:
    base: dict[str, Any] = fixture("repository-ruleset.json")
    actors = [{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": m} for m in bypass]
    return base | {"id": ruleset_id, "enforcement": enforcement, "bypass_actors": actors}


PR_RULE = rule(
    "pull_request",
    required_approving_review_count=2,
    dismiss_stale_reviews_on_push=True,
    require_code_owner_review=False,
    require_last_push_approval=True,
    required_review_thread_resolution=False,
)
CHECKS_RULE = rule(
    "required_status_checks",
    strict_required_status_checks_policy=True,
    required_status_checks=[{"context": "CodeQL", "integration_id": 57789}, {"context": "test"}],
)


def test_parse_rules_reads_the_openapi_example_as_no_requirements() -> None:
    rules = fixture("repository-rule-items.json")
    found = parse_rules(rules, {})
    assert found.requirements == Requirements()
    assert found.ruleset_ids == (42, 73)
    assert found.any


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            [PR_RULE],
            Requirements(reviews=2, dismiss_stale_reviews=True, require_last_push_approval=True),
        ),
        (
            [CHECKS_RULE],
            Requirements(strict=True, checks=(StatusCheck("CodeQL", 57789), StatusCheck("test"))),
        ),
        ([rule("non_fast_forward")], Requirements(no_force_pushes=True)),
        ([rule("deletion")], Requirements(no_deletions=True)),
        ([rule("creation")], Requirements()),
        (
            [
                rule("pull_request", 1, required_approving_review_count=1),
                rule("pull_request", 2, required_approving_review_count=3),
            ],
            Requirements(reviews=3),
        ),
    ],
)
def test_parse_rules_requirements(rules: list[dict[str, Any]], expected: Requirements) -> None:
    sets = {1: ruleset(1), 2: ruleset(2)}
    assert parse_rules(rules, sets).requirements == expected


@pytest.mark.parametrize(
    ("sets", "enforce_admins"),
    [
        ({1: ruleset(1)}, True),
        ({1: ruleset(1, "active", "always")}, False),
        ({1: ruleset(1, "active", "exempt")}, False),
        # Merging a pull request without the approvals: the review rule binds no one.
        ({1: ruleset(1, "active", "pull_request")}, False),
        ({}, False),  # unreadable: who may bypass is unknown
    ],
)
def test_parse_rules_admins_bound(sets: dict[int, dict[str, Any]], enforce_admins: bool) -> None:
    found = parse_rules([PR_RULE], sets)
    assert found.enforce_admins is enforce_admins
    assert (found.bound.reviews == 2) is enforce_admins


def test_pull_request_bypass_still_binds_pushes() -> None:
    rules = [PR_RULE, rule("non_fast_forward"), rule("deletion")]
    found = parse_rules(rules, {1: ruleset(1, "active", "pull_request")})
    assert found.bound == Requirements(no_force_pushes=True, no_deletions=True)
    assert found.unknown_ids == ()


@pytest.mark.parametrize(
    "sets",
    [{}, {1: {"id": 1, "enforcement": "active", "rules": []}}],
    ids=["unreadable", "bypass_actors hidden"],
)
def test_a_hidden_bypass_list_is_kept_apart(sets: dict[int, dict[str, Any]]) -> None:
    found = parse_rules([PR_RULE, rule("deletion")], sets)
    assert found.unknown_ids == (1,)
    assert found.bound == Requirements()
    assert found.unknown == Requirements(
        reviews=2, dismiss_stale_reviews=True, require_last_push_approval=True, no_deletions=True
    )
    assert not found.enforce_admins
    protection = BranchProtection("main", None, found)
    assert protection.maybe_binding_requirements == found.unknown


def test_the_openapi_ruleset_example_has_an_always_bypass_team() -> None:
    found = parse_rules([rule("deletion", 42)], {42: fixture("repository-ruleset.json")})
    assert found.requirements.no_deletions
    assert not found.enforce_admins


def test_admins_bound_only_when_every_contributing_ruleset_binds() -> None:
    found = parse_rules(
        [rule("deletion", 1), rule("non_fast_forward", 2)],
        {1: ruleset(1), 2: ruleset(2, "active", "always")},
    )
    assert not found.enforce_admins
    assert found.bound == Requirements(no_deletions=True)


@pytest.mark.parametrize("enforcement", ["evaluate", "disabled"])
def test_rules_of_a_ruleset_not_active_do_not_count(enforcement: str) -> None:
    found = parse_rules([PR_RULE, rule("deletion", 2)], {1: ruleset(1, enforcement), 2: ruleset(2)})
    assert found.requirements == Requirements(no_deletions=True)
    assert found.ruleset_ids == (2,)


def test_ref_include_is_kept_per_ruleset() -> None:
    found = parse_rules([rule("deletion", 42)], {42: fixture("repository-ruleset.json")})
    assert found.include_of(42) == ("refs/heads/main", "refs/heads/master")
    assert found.of(42) == Requirements(no_deletions=True)
    assert found.of(None) is None


def test_branch_protection_unions_both_sources() -> None:
    classic = ClassicProtection(
        enforce_admins=True,
        required_pull_request_reviews=PullRequestReviews(1),
        allow_force_pushes=True,
        allow_deletions=True,
    )
    rulesets = parse_rules(
        [CHECKS_RULE, rule("non_fast_forward")], {1: ruleset(1, "active", "always")}
    )
    protection = BranchProtection("main", classic, rulesets)
    assert protection.requirements == Requirements(
        reviews=1,
        strict=True,
        checks=(StatusCheck("CodeQL", 57789), StatusCheck("test")),
        no_force_pushes=True,
    )
    assert protection.binding_requirements == Requirements(reviews=1)
