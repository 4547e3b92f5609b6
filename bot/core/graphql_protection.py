"""Classic protection as GraphQL's `BranchProtectionRule` shows it, in the core's model.

The org scan reads protection for 100 repositories a request through GraphQL;
these functions turn a rule node into the same `ClassicProtection` the REST
parser builds, so one planner judges both. GraphQL gives flags, not the exact
actor lists of push and dismissal restrictions: a scan that must write reads
the branch again through REST first (the write carries every setting through).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from bot.core.protection import (
    Actors,
    ClassicProtection,
    PullRequestReviews,
    StatusCheck,
    StatusChecks,
)


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    """Compile a branch protection pattern as GitHub does (fnmatch with FNM_PATHNAME).

    https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/managing-a-branch-protection-rule#about-branch-protection-rules
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            # `**/` starting a segment is zero or more whole segments: `qa/**/*` takes
            # "any number of slashes after qa", qa/foo among them.
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append(_char_set(pattern[i + 1 : end]))
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z")
    except re.error:  # e.g. a reversed range `[z-a]`: a rule GitHub could never apply here
        return re.compile(r"(?!)")


def _char_set(body: str) -> str:
    """Translate an fnmatch `[set]`: `!` negates, `^` is literal, and no set matches `/`."""
    negate = body.startswith("!")
    body = body[1:] if negate else body
    escaped = body.replace("\\", "\\\\").replace("^", "\\^")
    return "(?!/)" + ("[^" if negate else "[") + escaped + "]"


def pattern_matches(pattern: str, name: str) -> bool:
    """Match a name as GitHub matches branch and ruleset patterns (`*` stops at `/`)."""
    return _pattern(pattern).match(name) is not None


def rule_for_branch(rules: Sequence[Mapping[str, Any]], branch: str) -> Mapping[str, Any] | None:
    """Return the rule GitHub applies to `branch`: an exact name first, else the first pattern."""
    for rule in rules:
        if rule.get("pattern") == branch:
            return rule
    for rule in rules:
        pattern = rule.get("pattern")
        if isinstance(pattern, str) and _pattern(pattern).match(branch):
            return rule
    return None


def _checks(node: Mapping[str, Any]) -> StatusChecks | None:
    if not node.get("requiresStatusChecks"):
        return None
    checks = tuple(
        StatusCheck(str(c["context"]), ((c.get("app") or {}).get("databaseId")))
        for c in node.get("requiredStatusChecks") or []
    )
    return StatusChecks(strict=bool(node.get("requiresStrictStatusChecks")), checks=checks)


def _reviews(node: Mapping[str, Any]) -> PullRequestReviews | None:
    if not node.get("requiresApprovingReviews"):
        return None
    return PullRequestReviews(
        required_approving_review_count=int(node.get("requiredApprovingReviewCount") or 0),
        dismiss_stale_reviews=bool(node.get("dismissesStaleReviews")),
        require_code_owner_reviews=bool(node.get("requiresCodeOwnerReviews")),
        require_last_push_approval=bool(node.get("requireLastPushApproval")),
        dismissal_restrictions=Actors() if node.get("restrictsReviewDismissals") else None,
    )


def classic_from_rule(node: Mapping[str, Any]) -> ClassicProtection:
    """Build the classic protection a `BranchProtectionRule` node describes."""
    return ClassicProtection(
        required_status_checks=_checks(node),
        enforce_admins=bool(node.get("isAdminEnforced")),
        required_pull_request_reviews=_reviews(node),
        restrictions=Actors() if node.get("restrictsPushes") else None,
        required_linear_history=bool(node.get("requiresLinearHistory")),
        allow_force_pushes=bool(node.get("allowsForcePushes")),
        allow_deletions=bool(node.get("allowsDeletions")),
        block_creations=bool(node.get("blocksCreations")),
        required_conversation_resolution=bool(node.get("requiresConversationResolution")),
        lock_branch=bool(node.get("lockBranch")),
        required_signatures=bool(node.get("requiresCommitSignatures")),
    )


# The settings of a `BranchProtectionRule` that the REST PUT …/protection body has
# no field for, so a PUT (which replaces the whole configuration) drops them.
# https://docs.github.com/rest/branches/branch-protection#update-branch-protection
# https://docs.github.com/graphql/reference/objects#branchprotectionrule
BEYOND_REST_FIELDS = (
    "requiresDeployments requiredDeploymentEnvironments "
    "bypassForcePushAllowances(first: 1) { totalCount }"
)


def beyond_rest(rule: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Name the settings of a rule that a REST PUT cannot carry (and would drop)."""
    if rule is None:
        return ()
    found: list[str] = []
    environments = [str(e) for e in rule.get("requiredDeploymentEnvironments") or () if e]
    if rule.get("requiresDeployments") or environments:
        names = ", ".join(environments)
        found.append(
            f"required deployment environments ({names})" if names else "required deployments"
        )
    allowances = int((rule.get("bypassForcePushAllowances") or {}).get("totalCount") or 0)
    if allowances:
        found.append(f"force-push bypass allowances ({allowances})")
    return tuple(found)
