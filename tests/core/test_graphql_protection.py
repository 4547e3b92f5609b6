"""GraphQL branch protection rules read into the core's classic model."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.graphql_protection import (
    beyond_rest,
    classic_from_rule,
    pattern_matches,
    rule_for_branch,
)
from bot.core.protection import StatusCheck

RULE = {
    "pattern": "main",
    "requiresApprovingReviews": True,
    "requiredApprovingReviewCount": 2,
    "dismissesStaleReviews": True,
    "requiresCodeOwnerReviews": False,
    "requireLastPushApproval": True,
    "requiresStatusChecks": True,
    "requiresStrictStatusChecks": True,
    "requiredStatusChecks": [
        {"context": "CodeQL", "app": {"databaseId": 57789}},
        {"context": "test", "app": None},
    ],
    "isAdminEnforced": True,
    "allowsForcePushes": False,
    "allowsDeletions": True,
    "requiresLinearHistory": True,
    "requiresConversationResolution": False,
    "lockBranch": False,
    "requiresCommitSignatures": True,
    "restrictsPushes": True,
    "blocksCreations": False,
    "restrictsReviewDismissals": False,
}


def test_rule_reads_every_flag() -> None:
    classic = classic_from_rule(RULE)
    reviews = classic.required_pull_request_reviews
    assert reviews is not None and reviews.required_approving_review_count == 2
    assert reviews.dismiss_stale_reviews and reviews.require_last_push_approval
    checks = classic.required_status_checks
    assert checks is not None and checks.strict
    assert checks.checks == (StatusCheck("CodeQL", 57789), StatusCheck("test", None))
    assert classic.enforce_admins and classic.allow_deletions and not classic.allow_force_pushes
    assert classic.required_linear_history and classic.required_signatures
    assert classic.restrictions is not None


def test_rule_without_reviews_or_checks() -> None:
    classic = classic_from_rule({"pattern": "main", "requiresApprovingReviews": False})
    assert classic.required_pull_request_reviews is None
    assert classic.required_status_checks is None
    assert classic.restrictions is None


@pytest.mark.parametrize(
    ("patterns", "branch", "expected"),
    [
        (["main"], "main", "main"),
        (["release/*", "main"], "main", "main"),
        (["*", "main"], "main", "main"),  # an exact name wins over a wildcard
        (["release/*"], "release/1.0", "release/*"),
        (["release/*"], "release/1.0/hotfix", None),  # * stops at /
        (["release/**"], "release/1.0/hotfix", "release/**"),
        # GitHub: `qa/**/*` takes any number of slashes after qa, one among them.
        (["releases/**/*"], "releases/v1", "releases/**/*"),
        (["releases/**/*"], "releases/v1/hotfix/a", "releases/**/*"),
        (["qa**/**/*"], "qa/foo", "qa**/**/*"),
        (["**/*"], "main", "**/*"),
        (["releases/**/*"], "release/v1", None),
        (["*.*.x"], "1.2.x", "*.*.x"),
        (["v?"], "v1", "v?"),
        (["[mn]ain"], "main", "[mn]ain"),
        (["[!m]ain"], "main", None),
        (["dev"], "main", None),
        ([], "main", None),
    ],
)
def test_rule_for_branch(patterns: list[str], branch: str, expected: str | None) -> None:
    rule = rule_for_branch([{"pattern": p} for p in patterns], branch)
    assert (rule["pattern"] if rule else None) == expected


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("a[/]b", "a/b", False),  # no set matches `/` (FNM_PATHNAME)
        ("x[!y]z", "x/z", False),
        ("[^a-c]x", "^x", True),  # `^` does not complement a set on GitHub: a literal
        ("[^a-c]x", "dx", False),
        ("v[12].*", "v1.0", True),
        ("[z-a]", "z", False),  # a pattern Python's `re` cannot take never matches, never crashes
        ("[]", "x", False),
    ],
)
def test_character_sets(pattern: str, name: str, expected: bool) -> None:
    assert pattern_matches(pattern, name) is expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (None, ()),
        ({"requiresDeployments": False, "requiredDeploymentEnvironments": []}, ()),
        (
            {"requiresDeployments": True, "requiredDeploymentEnvironments": ["prod", "staging"]},
            ("required deployment environments (prod, staging)",),
        ),
        ({"requiresDeployments": True}, ("required deployments",)),
        (
            {"bypassForcePushAllowances": {"totalCount": 2}},
            ("force-push bypass allowances (2)",),
        ),
        ({"bypassForcePushAllowances": {"totalCount": 0}}, ()),
    ],
)
def test_beyond_rest_names_what_a_put_would_drop(
    rule: dict[str, Any] | None, expected: tuple[str, ...]
) -> None:
    assert beyond_rest(rule) == expected
