"""Compare a branch's protection with the policy: findings and the minimal write.

One diff feeds both "check" and "fix". The policy is a floor: a write only ever
adds what is missing and carries every other existing setting through, because
GitHub's PUT …/protection replaces the whole configuration.
https://docs.github.com/rest/branches/branch-protection#update-branch-protection
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.core.findings import drift, not_reporting
from bot.core.models import Finding, FindingKind
from bot.core.policy import CheckRequirement, Policy, WriteMode
from bot.core.protection import (
    Actors,
    BranchProtection,
    ClassicProtection,
    PullRequestReviews,
    Requirements,
    StatusCheck,
    StatusChecks,
    parse_classic,
    parse_rules,
    replace_ruleset,
)
from bot.core.reporting import Reported

RULESET_NAME = "Bulwark policy"
ANY_APP = -1  # GitHub: a required check any app (or status) may satisfy
# Id given to Bulwark's ruleset in `protection_after` before GitHub assigns one.
NEW_RULESET_ID = -1

Gap = tuple[FindingKind, str | None]


@dataclass(frozen=True)
class Plan:
    """What is wrong with one branch and what to write to repair it."""

    branch: str
    findings: tuple[Finding, ...]
    classic_write: dict[str, Any] | None = None
    enable_signatures: bool = False
    ruleset_write: dict[str, Any] | None = None

    @property
    def empty(self) -> bool:
        """Whether nothing is to be written."""
        return self.classic_write is None and self.ruleset_write is None


def _meets(have: Iterable[StatusCheck], want: CheckRequirement) -> bool:
    return any(c.context == want.context and want.app_id in (None, c.app_id) for c in have)


def gaps(policy: Policy, have: Requirements) -> list[Gap]:
    """List every way `have` falls short of the policy, as (kind, detail)."""
    found: list[Gap] = []
    if have.reviews is None:
        found.append((FindingKind.REVIEWS_MISSING, None))
    else:
        if have.reviews < policy.required_approving_review_count:
            found.append((FindingKind.REVIEWS_TOO_FEW, None))
        for key in ("dismiss_stale_reviews", "require_code_owner_reviews"):
            if getattr(policy, key) and not getattr(have, key):
                found.append((FindingKind.REVIEWS_TOO_FEW, key))
    if policy.strict and not have.strict:
        found.append((FindingKind.CHECK_MISSING, None))
    found += [
        (FindingKind.CHECK_MISSING, c.context) for c in policy.checks if not _meets(have.checks, c)
    ]
    if not policy.allow_force_pushes and not have.no_force_pushes:
        found.append((FindingKind.FORCE_PUSH_ALLOWED, None))
    if not policy.allow_deletions and not have.no_deletions:
        found.append((FindingKind.DELETION_ALLOWED, None))
    return found


def plan(
    policy: Policy,
    protection: BranchProtection,
    *,
    write: WriteMode = WriteMode.FOLLOW_POLICY,
    enforce_with: str = "classic",
    actor: str | None = None,
    default_branch: str | None = None,
    reported: Reported | None = None,
) -> Plan:
    """Find how the branch falls short of the policy and, when `write` allows it, the write.

    `reported` says which checks report on the repository: a policy check that never
    did is left out of the write (requiring it would block every merge) and becomes a
    `check_not_reporting` finding. None: every check counts as reporting.
    """
    writes = write.writes(policy.mode)
    requirable, waiting = split_checks(policy, protection, reported)
    found = _find(requirable, protection)
    findings = tuple(
        drift(
            policy, protection.branch, kind, detail, actor, writes=writes, enforce_with=enforce_with
        )
        for kind, detail in found
    )
    names = reported.names() if reported is not None else ()
    waits = tuple(not_reporting(policy, protection.branch, c.context, names) for c in waiting)
    policy = requirable
    if not findings or not writes:
        return Plan(protection.branch, findings + waits)
    findings += waits
    if enforce_with == "ruleset":
        body = ruleset_body(policy, protection, default_branch=default_branch)
        return Plan(protection.branch, findings, ruleset_write=body)
    classic = _classic_write(policy, protection)
    signatures = classic is not None and bool(
        protection.classic and protection.classic.required_signatures
    )
    return Plan(protection.branch, findings, classic_write=classic, enable_signatures=signatures)


def compliant(
    policy: Policy, protection: BranchProtection, reported: Reported | None = None
) -> bool:
    """Whether the branch meets the policy (a check that never reported is not met)."""
    requirable, waiting = split_checks(policy, protection, reported)
    return not _find(requirable, protection) and not waiting


def split_checks(
    policy: Policy, protection: BranchProtection, reported: Reported | None
) -> tuple[Policy, tuple[CheckRequirement, ...]]:
    """Return the policy narrowed to checks Bulwark may require now, and the checks left out.

    A check the branch already requires stays (the floor); one nothing has reported
    is left out unless the policy says `require_unreported`.
    """
    if reported is None or policy.require_unreported:
        return policy, ()
    have = protection.requirements.checks
    waiting = tuple(c for c in policy.checks if not reported.reports(c) and not _meets(have, c))
    if not waiting:
        return policy, ()
    return replace(policy, checks=tuple(c for c in policy.checks if c not in waiting)), waiting


def _find(policy: Policy, protection: BranchProtection) -> list[Gap]:
    if protection.classic is None and not protection.rulesets.any:
        return [(FindingKind.UNPROTECTED, None)]
    found = gaps(policy, protection.requirements)
    if policy.enforce_admins:
        found += _admin_gaps(policy, protection, found)
    return found


def _admin_gaps(policy: Policy, protection: BranchProtection, found: list[Gap]) -> list[Gap]:
    """Say whether administrators can skip what the branch requires, or cannot be shown not to.

    A requirement that binds admins only if a hidden bypass list is empty is
    `bypass_unknown`, never a false `admins_not_enforced`.
    """
    met = set(found)
    if set(gaps(policy, protection.maybe_binding_requirements)) - met:
        return [(FindingKind.ADMINS_NOT_ENFORCED, None)]
    if set(gaps(policy, protection.binding_requirements)) - met:
        hidden = ",".join(str(i) for i in protection.rulesets.unknown_ids)
        return [(FindingKind.BYPASS_UNKNOWN, hidden or None)]
    return []


# --- the classic write ---------------------------------------------------------


def _classic_write(policy: Policy, protection: BranchProtection) -> dict[str, Any] | None:
    """Return the PUT body that adds what rulesets do not cover, or None when nothing changes."""
    rulesets = protection.rulesets
    covered = rulesets.bound if policy.enforce_admins else rulesets.requirements
    needed = gaps(policy, covered)
    current = protection.classic
    if current is None and not needed:
        return None
    merged = _tighten(policy, current or ClassicProtection(), needed)
    if current is not None and merged == current:
        return None
    return classic_body(merged, any_app=_any_app_checks(current))


def _any_app_checks(classic: ClassicProtection | None) -> frozenset[str]:
    """The contexts GitHub reports with no app (any source may set them)."""
    status = classic.required_status_checks if classic else None
    return (
        frozenset(c.context for c in status.checks if c.app_id is None) if status else frozenset()
    )


def _tighten(policy: Policy, classic: ClassicProtection, needed: list[Gap]) -> ClassicProtection:
    kinds = {kind for kind, _ in needed}
    reviews = classic.required_pull_request_reviews
    if kinds & {FindingKind.REVIEWS_MISSING, FindingKind.REVIEWS_TOO_FEW}:
        reviews = _tighten_reviews(policy, reviews or PullRequestReviews())
    status = classic.required_status_checks
    wanted = [c for c in policy.checks if (FindingKind.CHECK_MISSING, c.context) in needed]
    if FindingKind.CHECK_MISSING in kinds:
        status = status or StatusChecks()
        strict = status.strict or (FindingKind.CHECK_MISSING, None) in needed
        status = StatusChecks(strict=strict, checks=merge_checks(status.checks, wanted))
    return replace(
        classic,
        required_pull_request_reviews=reviews,
        required_status_checks=status,
        enforce_admins=classic.enforce_admins or policy.enforce_admins,
        allow_force_pushes=classic.allow_force_pushes
        and FindingKind.FORCE_PUSH_ALLOWED not in kinds,
        allow_deletions=classic.allow_deletions and FindingKind.DELETION_ALLOWED not in kinds,
    )


def _tighten_reviews(policy: Policy, reviews: PullRequestReviews) -> PullRequestReviews:
    return replace(
        reviews,
        required_approving_review_count=max(
            reviews.required_approving_review_count, policy.required_approving_review_count
        ),
        dismiss_stale_reviews=reviews.dismiss_stale_reviews or policy.dismiss_stale_reviews,
        require_code_owner_reviews=(
            reviews.require_code_owner_reviews or policy.require_code_owner_reviews
        ),
    )


def merge_checks(
    have: Iterable[StatusCheck], wanted: Iterable[CheckRequirement]
) -> tuple[StatusCheck, ...]:
    """Add the wanted checks to `have`; a pinned app_id replaces another app's entry."""
    result = list(have)
    for want in wanted:
        if _meets(result, want):
            continue
        result = [c for c in result if c.context != want.context]
        result.append(StatusCheck(want.context, want.app_id))
    return tuple(result)


def _actors_body(actors: Actors) -> dict[str, list[str]]:
    return {"users": list(actors.users), "teams": list(actors.teams), "apps": list(actors.apps)}


def _reviews_body(reviews: PullRequestReviews) -> dict[str, Any]:
    body: dict[str, Any] = {
        "required_approving_review_count": reviews.required_approving_review_count,
        "dismiss_stale_reviews": reviews.dismiss_stale_reviews,
        "require_code_owner_reviews": reviews.require_code_owner_reviews,
        "require_last_push_approval": reviews.require_last_push_approval,
    }
    if reviews.dismissal_restrictions is not None:
        body["dismissal_restrictions"] = _actors_body(reviews.dismissal_restrictions)
    if reviews.bypass_pull_request_allowances is not None:
        body["bypass_pull_request_allowances"] = _actors_body(
            reviews.bypass_pull_request_allowances
        )
    return body


def _check_body(check: StatusCheck, any_app: frozenset[str]) -> dict[str, Any]:
    if check.app_id is not None:
        return {"context": check.context, "app_id": check.app_id}
    if check.context in any_app:
        # Carried through as it was: -1 keeps "any source"; an omitted app_id would
        # pin the check to the app that reported it last.
        return {"context": check.context, "app_id": ANY_APP}
    return {"context": check.context}  # new: GitHub binds it to the app that reports it


def classic_body(
    classic: ClassicProtection, *, any_app: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Return the PUT …/protection body that sets exactly `classic` (signatures aside).

    `any_app` names the existing checks any source may set; they keep that.
    """
    status = classic.required_status_checks
    reviews = classic.required_pull_request_reviews
    checks = [] if status is None else [_check_body(c, any_app) for c in status.checks]
    return {
        "required_status_checks": None
        if status is None
        else {"strict": status.strict, "checks": checks},
        "enforce_admins": classic.enforce_admins,
        "required_pull_request_reviews": None if reviews is None else _reviews_body(reviews),
        "restrictions": None
        if classic.restrictions is None
        else _actors_body(classic.restrictions),
        "required_linear_history": classic.required_linear_history,
        "allow_force_pushes": classic.allow_force_pushes,
        "allow_deletions": classic.allow_deletions,
        "block_creations": classic.block_creations,
        "required_conversation_resolution": classic.required_conversation_resolution,
        "lock_branch": classic.lock_branch,
        "allow_fork_syncing": classic.allow_fork_syncing,
    }


# --- the narrower writes ------------------------------------------------------
# Where the branch has settings the PUT body cannot carry, the sub-endpoints change
# one part and leave the rest alone:
# https://docs.github.com/rest/branches/branch-protection#set-admin-branch-protection
# https://docs.github.com/rest/branches/branch-protection#update-pull-request-review-protection
# https://docs.github.com/rest/branches/branch-protection#update-status-check-protection


@dataclass(frozen=True)
class PartialWrite:
    """The sub-endpoint writes that make classic protection what a PUT body would."""

    enforce_admins: bool = False
    reviews: dict[str, Any] | None = None  # PATCH …/required_pull_request_reviews
    status_checks: dict[str, Any] | None = None  # PATCH …/required_status_checks


_SUB_ENDPOINT_PARTS = ("enforce_admins", "required_pull_request_reviews", "required_status_checks")


def partial_write(current: ClassicProtection, body: dict[str, Any]) -> PartialWrite | None:
    """Return the sub-endpoint writes that reach `body` from `current`, or None if none can."""
    wanted = parse_classic(body)
    assert wanted is not None
    others = {f: getattr(wanted, f) for f in _OTHER_FIELDS}
    if others != {f: getattr(current, f) for f in _OTHER_FIELDS}:
        return None  # e.g. force pushes or deletions: only the PUT sets them
    reviews, checks = wanted.required_pull_request_reviews, wanted.required_status_checks
    have_reviews, have_checks = (
        current.required_pull_request_reviews,
        current.required_status_checks,
    )
    if (reviews is None) != (have_reviews is None) or (checks is None) != (have_checks is None):
        return None  # turning a part on or off takes the PUT
    return PartialWrite(
        enforce_admins=wanted.enforce_admins and not current.enforce_admins,
        reviews=None if reviews == have_reviews else _review_patch(body),
        status_checks=None
        if _any_source(checks) == _any_source(have_checks)
        else body["required_status_checks"],
    )


def _any_source(checks: StatusChecks | None) -> StatusChecks | None:
    """Read the PUT body's `app_id: -1` ("any source") as GET shows it (no app)."""
    if checks is None:
        return None
    found = tuple(replace(c, app_id=None) if c.app_id == ANY_APP else c for c in checks.checks)
    return replace(checks, checks=found)


_OTHER_FIELDS = tuple(
    f
    for f in ClassicProtection.__dataclass_fields__
    if f not in (*_SUB_ENDPOINT_PARTS, "required_signatures")
)


def _review_patch(body: dict[str, Any]) -> dict[str, Any]:
    reviews = body["required_pull_request_reviews"]
    keys = (
        "required_approving_review_count",
        "dismiss_stale_reviews",
        "require_code_owner_reviews",
    )
    return {key: reviews[key] for key in keys}


# --- the ruleset write ---------------------------------------------------------
# A PUT …/rulesets/{id} replaces `rules`, `conditions` and `bypass_actors` whole:
# https://docs.github.com/rest/repos/rules#update-a-repository-ruleset
# so, as with classic protection, the body carries every existing rule and
# parameter through and only raises what the policy requires.

_PULL_REQUEST_DEFAULTS = {
    "required_approving_review_count": 0,
    "dismiss_stale_reviews_on_push": False,
    "require_code_owner_review": False,
    "require_last_push_approval": False,
    "required_review_thread_resolution": False,
}


def ruleset_body(
    policy: Policy, protection: BranchProtection, *, default_branch: str | None = None
) -> dict[str, Any]:
    """Return the body of Bulwark's own ruleset: everything it had, raised to the policy."""
    existing = protection.rulesets.raw_of(protection.bulwark_ruleset_id) or {}
    ref = (
        "~DEFAULT_BRANCH"
        if protection.branch == default_branch
        else f"refs/heads/{protection.branch}"
    )
    return {
        "name": RULESET_NAME,
        "target": "branch",
        "enforcement": "active",
        "bypass_actors": _bypass_actors(policy, existing),
        "conditions": _conditions(existing, ref),
        "rules": raise_rules(policy, existing.get("rules") or []),
    }


def _bypass_actors(policy: Policy, existing: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Keep the bypass list unless the policy binds admins: then nobody may skip the rules."""
    if policy.enforce_admins:
        return []  # every bypass mode (always, exempt, pull_request) skips a policy rule
    return [dict(actor) for actor in existing.get("bypass_actors") or ()]


def _conditions(existing: Mapping[str, Any], ref: str) -> dict[str, Any]:
    """Return the ruleset's conditions with `ref` included (and not excluded)."""
    conditions = copy.deepcopy(dict(existing.get("conditions") or {}))
    ref_name = dict(conditions.get("ref_name") or {})
    include = [str(i) for i in ref_name.get("include") or ()]
    ref_name["include"] = sorted({*include, ref})
    ref_name["exclude"] = [e for e in ref_name.get("exclude") or () if e != ref]
    conditions["ref_name"] = ref_name
    return conditions


def raise_rules(policy: Policy, rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return `rules` with every rule and parameter kept, raised to what the policy requires."""
    result = [copy.deepcopy(dict(rule)) for rule in rules]
    for wanted in _policy_rules(policy):
        found = next((r for r in result if r.get("type") == wanted["type"]), None)
        if found is None:
            result.append(wanted)
        elif wanted["type"] == "pull_request":
            found["parameters"] = _raise_reviews(policy, found.get("parameters") or {})
        elif wanted["type"] == "required_status_checks":
            found["parameters"] = _raise_checks(policy, found.get("parameters") or {})
    return result


def _policy_rules(policy: Policy) -> list[dict[str, Any]]:
    """Return the rules the policy asks for, in the order a new ruleset lists them."""
    rules: list[dict[str, Any]] = [
        {"type": "pull_request", "parameters": _raise_reviews(policy, {})}
    ]
    if policy.checks:  # strictness takes effect only with a check to require
        rules.append({"type": "required_status_checks", "parameters": _raise_checks(policy, {})})
    if not policy.allow_force_pushes:
        rules.append({"type": "non_fast_forward"})
    if not policy.allow_deletions:
        rules.append({"type": "deletion"})
    return rules


def _raise_reviews(policy: Policy, params: Mapping[str, Any]) -> dict[str, Any]:
    raised = {**_PULL_REQUEST_DEFAULTS, **copy.deepcopy(dict(params))}
    raised["required_approving_review_count"] = max(
        int(raised["required_approving_review_count"] or 0),
        policy.required_approving_review_count,
    )
    raised["dismiss_stale_reviews_on_push"] = bool(
        raised["dismiss_stale_reviews_on_push"] or policy.dismiss_stale_reviews
    )
    raised["require_code_owner_review"] = bool(
        raised["require_code_owner_review"] or policy.require_code_owner_reviews
    )
    return raised


def _raise_checks(policy: Policy, params: Mapping[str, Any]) -> dict[str, Any]:
    raised = copy.deepcopy(dict(params))
    entries = [dict(c) for c in raised.get("required_status_checks") or ()]
    have = tuple(StatusCheck(str(c["context"]), c.get("integration_id")) for c in entries)
    merged = merge_checks(have, policy.checks)
    kept = [c for c in entries if StatusCheck(str(c["context"]), c.get("integration_id")) in merged]
    added = [_rule_check(c) for c in merged if c not in have]
    raised["required_status_checks"] = kept + added
    raised["strict_required_status_checks_policy"] = bool(
        raised.get("strict_required_status_checks_policy") or policy.strict
    )
    return raised


def _rule_check(check: StatusCheck) -> dict[str, Any]:
    return {"context": check.context} | (
        {} if check.app_id is None else {"integration_id": check.app_id}
    )


# --- what a write leaves behind ------------------------------------------------


def protection_after(protection: BranchProtection, result: Plan) -> BranchProtection:
    """Return the protection the plan's writes would leave on the branch."""
    after = protection
    if result.classic_write is not None:
        classic = parse_classic(result.classic_write)
        assert classic is not None
        signatures = result.enable_signatures or bool(classic.required_signatures)
        after = replace(after, classic=replace(classic, required_signatures=signatures))
    if result.ruleset_write is not None:
        ruleset_id = protection.bulwark_ruleset_id or NEW_RULESET_ID
        requirements = _ruleset_requirements(result.ruleset_write)
        rulesets = replace_ruleset(after.rulesets, ruleset_id, requirements, binding=True)
        after = replace(after, rulesets=rulesets, bulwark_ruleset_id=ruleset_id)
    return after


def _ruleset_requirements(body: dict[str, Any]) -> Requirements:
    return parse_rules(body["rules"], {}).requirements
