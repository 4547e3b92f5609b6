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
    RulesetProtection,
    StatusCheck,
    StatusChecks,
    parse_rules,
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


# --- rulesets ------------------------------------------------------------------

# GraphQL's rule parameters, as REST's snake_case names (GET …/rules/branches/{b}).
_PARAMETERS = {
    "requiredApprovingReviewCount": "required_approving_review_count",
    "dismissStaleReviewsOnPush": "dismiss_stale_reviews_on_push",
    "requireCodeOwnerReview": "require_code_owner_review",
    "requireLastPushApproval": "require_last_push_approval",
    "requiredReviewThreadResolution": "required_review_thread_resolution",
    "allowedMergeMethods": "allowed_merge_methods",
    "strictRequiredStatusChecksPolicy": "strict_required_status_checks_policy",
    "doNotEnforceOnCreate": "do_not_enforce_on_create",
}
# GraphQL's bypass actor flags, as REST's `actor_type`.
_ACTOR_FLAGS = {
    "organizationAdmin": "OrganizationAdmin",
    "enterpriseOwner": "EnterpriseOwner",
    "deployKey": "DeployKey",
}
_ACTOR_TYPES = {"App": "Integration", "Team": "Team"}


def _nodes(connection: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [n for n in (connection or {}).get("nodes") or () if n is not None]


def _truncated(connection: Mapping[str, Any] | None) -> bool:
    if connection is None:
        return False
    return int(connection.get("totalCount") or 0) > len(_nodes(connection))


def rulesets_unjudgeable(node: Mapping[str, Any]) -> str | None:
    """Say why a repository's rulesets cannot be judged from its GraphQL node, or None.

    The page asks a few rulesets, rules and bypass actors each: a longer list was not
    seen whole. A branch ruleset without a `ref_name` condition targets nothing GitHub
    documents, so REST's answer (the rules that reach the branch) decides.
    """
    connection = node.get("rulesets")
    if _truncated(connection):
        return "rulesets_truncated"
    for ruleset in _nodes(connection):
        if _truncated(ruleset.get("rules")) or _truncated(ruleset.get("bypassActors")):
            return "ruleset_rules_truncated"
        if ((ruleset.get("conditions") or {}).get("refName")) is None:
            return "ruleset_without_ref_condition"
    return None


def _ref_matches(ruleset: Mapping[str, Any], branch: str, default: str) -> bool:
    """Tell whether a ruleset's `ref_name` condition targets `branch`.

    `~ALL` targets every branch, `~DEFAULT_BRANCH` the default one; patterns match the
    full ref (`refs/heads/…`) as branch protection patterns do.
    https://docs.github.com/en/rest/repos/rules#create-a-repository-ruleset
    """
    ref_name = (ruleset.get("conditions") or {}).get("refName") or {}
    ref = f"refs/heads/{branch}"

    def hit(pattern: str) -> bool:
        if pattern == "~ALL":
            return True
        if pattern == "~DEFAULT_BRANCH":
            return branch == default
        return pattern_matches(pattern, ref)

    include = ref_name.get("include") or ()
    exclude = ref_name.get("exclude") or ()
    return any(map(hit, include)) and not any(map(hit, exclude))


def _rest_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (parameters or {}).items():
        if key == "requiredStatusChecks":
            out["required_status_checks"] = [
                {"context": c["context"], "integration_id": c.get("integrationId")}
                for c in value or ()
            ]
        elif key in _PARAMETERS:
            out[_PARAMETERS[key]] = value
    return out


def _rest_actor(actor: Mapping[str, Any]) -> dict[str, Any]:
    mode = str(actor.get("bypassMode") or "ALWAYS").lower()
    for flag, kind in _ACTOR_FLAGS.items():
        if actor.get(flag):
            return {"actor_id": None, "actor_type": kind, "bypass_mode": mode}
    if actor.get("repositoryRoleDatabaseId") is not None:
        role = actor["repositoryRoleDatabaseId"]
        return {"actor_id": role, "actor_type": "RepositoryRole", "bypass_mode": mode}
    who = actor.get("actor") or {}
    kind = _ACTOR_TYPES.get(str(who.get("__typename")), str(who.get("__typename")))
    return {"actor_id": who.get("databaseId"), "actor_type": kind, "bypass_mode": mode}


def rest_ruleset(ruleset: Mapping[str, Any]) -> dict[str, Any]:
    """Build the REST shape of a `RepositoryRuleset` node (GET …/rulesets/{id}).

    `bypass_actors` is left out when GitHub hid it (a null connection), as REST leaves
    it out for callers who may not write the ruleset.
    """
    source = ruleset.get("source") or {}
    org = source.get("__typename") == "Organization"
    ref_name = (ruleset.get("conditions") or {}).get("refName") or {}
    out: dict[str, Any] = {
        "id": int(ruleset["databaseId"]),
        "name": ruleset.get("name"),
        "target": "branch",
        "source_type": "Organization" if org else "Repository",
        "source": source.get("login") if org else source.get("nameWithOwner"),
        "enforcement": str(ruleset.get("enforcement") or "").lower(),
        "conditions": {
            "ref_name": {
                "include": list(ref_name.get("include") or ()),
                "exclude": list(ref_name.get("exclude") or ()),
            }
        },
        "rules": [
            {"type": str(r["type"]).lower(), "parameters": _rest_parameters(r.get("parameters"))}
            for r in _nodes(ruleset.get("rules"))
        ],
    }
    if ruleset.get("bypassActors") is not None:
        out["bypass_actors"] = [_rest_actor(a) for a in _nodes(ruleset["bypassActors"])]
    return out


def ruleset_protection(
    rulesets: Sequence[Mapping[str, Any]], branch: str, default: str
) -> RulesetProtection:
    """Combine the rulesets that reach `branch`, as REST's rules for the branch would.

    REST's `GET …/rules/branches/{b}` lists the rules of active rulesets whose
    conditions target the branch; the same rules, with their rulesets, go to the same
    parser, so both paths judge alike.
    """
    rules: list[dict[str, Any]] = []
    found: dict[int, Mapping[str, Any]] = {}
    for node in rulesets:
        if str(node.get("enforcement")) != "ACTIVE" or not _ref_matches(node, branch, default):
            continue
        ruleset = rest_ruleset(node)
        for rule in ruleset["rules"]:
            rules.append({**rule, "ruleset_id": ruleset["id"]})
            found[ruleset["id"]] = ruleset
    return parse_rules(rules, found)
