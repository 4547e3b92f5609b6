"""Compare a branch's protection with the policy: findings and the minimal write.

One diff feeds both "check" and "fix". The policy is a floor: a write only ever
adds what is missing and carries every other existing setting through, because
GitHub's PUT …/protection replaces the whole configuration.
https://docs.github.com/rest/branches/branch-protection#update-branch-protection
"""

from __future__ import annotations

from collections.abc import Iterable
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


def policy_requirements(policy: Policy) -> Requirements:
    """Return what the policy demands of a protected branch."""
    return Requirements(
        reviews=policy.required_approving_review_count,
        dismiss_stale_reviews=policy.dismiss_stale_reviews,
        require_code_owner_reviews=policy.require_code_owner_reviews,
        strict=policy.strict,
        checks=tuple(StatusCheck(c.context, c.app_id) for c in policy.checks),
        no_force_pushes=not policy.allow_force_pushes,
        no_deletions=not policy.allow_deletions,
    )


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
        drift(policy, protection.branch, kind, detail, actor, writes=writes)
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
    bypassable = set(gaps(policy, protection.binding_requirements)) - set(found)
    if policy.enforce_admins and bypassable:
        found.append((FindingKind.ADMINS_NOT_ENFORCED, None))
    return found


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


# --- the ruleset write ---------------------------------------------------------


def ruleset_body(
    policy: Policy, protection: BranchProtection, *, default_branch: str | None = None
) -> dict[str, Any]:
    """Return the body of Bulwark's own ruleset: what it had, raised to the policy."""
    rulesets = protection.rulesets
    own = protection.bulwark_ruleset_id
    have = rulesets.of(own) or rulesets.declared_of(own) or Requirements()
    want = policy_requirements(policy)
    merged = have.union(replace(want, checks=()))
    checks = merge_checks(have.checks, policy.checks)
    ref = (
        "~DEFAULT_BRANCH"
        if protection.branch == default_branch
        else f"refs/heads/{protection.branch}"
    )
    include = sorted({*rulesets.include_of(protection.bulwark_ruleset_id), ref})
    return {
        "name": RULESET_NAME,
        "target": "branch",
        "enforcement": "active",
        "bypass_actors": [],
        "conditions": {"ref_name": {"include": include, "exclude": []}},
        "rules": _rules(replace(merged, checks=checks)),
    }


def _rules(req: Requirements) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if req.reviews is not None:
        params = {
            "required_approving_review_count": req.reviews,
            "dismiss_stale_reviews_on_push": req.dismiss_stale_reviews,
            "require_code_owner_review": req.require_code_owner_reviews,
            "require_last_push_approval": req.require_last_push_approval,
            "required_review_thread_resolution": False,
        }
        rules.append({"type": "pull_request", "parameters": params})
    if req.checks:
        checks = [
            {"context": c.context} | ({} if c.app_id is None else {"integration_id": c.app_id})
            for c in req.checks
        ]
        params_checks = {
            "strict_required_status_checks_policy": req.strict,
            "required_status_checks": checks,
        }
        rules.append({"type": "required_status_checks", "parameters": params_checks})
    if req.no_force_pushes:
        rules.append({"type": "non_fast_forward"})
    if req.no_deletions:
        rules.append({"type": "deletion"})
    return rules


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
