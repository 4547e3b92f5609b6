"""Judgements of plain data: a GraphQL repository node against the policy, a status narrowed.

The org scan reads pages of repository nodes (`engine.scan`); what each node
says about the repository is decided here, with no I/O: a status, or "only
REST can answer". A slash command speaks of one branch; `branch_status` narrows
a repository's status to it; `for_branch` keeps the findings a pull request's
check run and comment show about its base branch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.core.findings import codeql_finding, empty_repository, policy_invalid
from bot.core.graphql_protection import (
    classic_from_rule,
    rule_for_branch,
    ruleset_protection,
    rulesets_unjudgeable,
)
from bot.core.models import REPAIRABLE, WAITING, Finding, FindingKind, Outcome, RepoStatus
from bot.core.plan import plan
from bot.core.policy import (
    ORG_POLICY_REPO,
    POLICY_PATH,
    Policy,
    PolicyError,
    WriteMode,
    excluded_reason,
    load_policy_file,
    protected_branches,
    repo_policy,
)
from bot.core.protection import BranchProtection
from bot.core.render import DEFAULT_TERMS, PolicyTerms
from bot.core.reporting import (
    CODEQL_CHECK,
    CodeQLState,
    Reported,
    Unavailable,
    codeql_wanted,
    has_reported_fields,
    reported_from,
    requires_codeql,
)


@dataclass(frozen=True)
class Verdict:
    """What the GraphQL page says of one repository: a status, or 'ask REST'."""

    status: RepoStatus | None
    needs_rest: bool = False
    why: str | None = None  # why only REST can answer (see `rest_reason`)


def has_branch_patterns(policy: Policy) -> bool:
    """Tell whether the policy covers branches beyond the default one (the page must list them)."""
    return any(b != "default" for b in policy.branches)


def _connection(node: Mapping[str, Any], name: str) -> tuple[list[Any], int]:
    found = node.get(name) or {}
    nodes = list(found.get("nodes") or [])
    return nodes, int(found.get("totalCount") or len(nodes))


def judge(
    node: Mapping[str, Any], org_policy: Policy, org_errors: Iterable[PolicyError]
) -> Verdict:
    """Judge one GraphQL repository node against the policy, with no I/O."""
    verdict = _judge(node, org_policy, org_errors)
    if verdict.status is None:
        return verdict
    # Unknown visibility (a null field) counts as private: never named where the public reads.
    private = node.get("isPrivate") is not False
    return replace(verdict, status=replace(verdict.status, private=private))


def _judge(
    node: Mapping[str, Any], org_policy: Policy, org_errors: Iterable[PolicyError]
) -> Verdict:
    full = str(node["nameWithOwner"])
    name = str(node["name"])
    policy, errors = _policy_for(node, org_policy, full)
    errors = [*org_errors, *errors]
    reason = excluded_reason(
        policy, name=name, archived=bool(node.get("isArchived")), fork=bool(node.get("isFork"))
    )
    if reason is not None:
        return Verdict(RepoStatus(full, Outcome.EXCLUDED, mode=policy.mode, reason=reason))
    if node.get("isEmpty") or not node.get("defaultBranchRef"):
        return Verdict(empty_repository(policy.mode, full))
    why = rest_reason(node)
    if why is None and has_branch_patterns(policy) and node.get("refs") is None:
        why = "branches_not_listed"  # a repo file added branch patterns the page did not list
    if why is not None:
        return Verdict(None, needs_rest=True, why=why)
    rules, _ = _connection(node, "branchProtectionRules")
    default = str(node["defaultBranchRef"]["name"])
    refs = [str(r["name"]) for r in _connection(node, "refs")[0]] or [default]
    reported = reported_from(node) if has_reported_fields(node) else None
    rulesets, _ = _connection(node, "rulesets")
    status = _status(full, policy, errors, default, refs, rules, rulesets, reported)
    return Verdict(_codeql_from_page(status, policy, reported))


def _codeql_from_page(status: RepoStatus, policy: Policy, reported: Reported | None) -> RepoStatus:
    """Say what the page alone tells of CodeQL: reporting, or no language to analyse.

    Whether default setup can run otherwise takes REST (the reconcile asks).
    """
    if reported is None or not requires_codeql(policy.checks):
        return status
    if not codeql_wanted(policy.checks, reported):
        return replace(status, codeql=CodeQLState.REPORTING.value)
    if reported.codeql_languages:
        return status
    state, reason = CodeQLState.UNAVAILABLE, Unavailable.NO_LANGUAGE
    findings = tuple(codeql_finding(f, state, reason) for f in status.findings)
    return replace(status, findings=findings, codeql=state.value)


def needs_rest(node: Mapping[str, Any]) -> bool:
    """Tell whether GraphQL cannot answer for this repository and REST must."""
    return rest_reason(node) is not None


def rest_reason(node: Mapping[str, Any]) -> str | None:
    """Say why GraphQL cannot answer for this repository and REST must, or None.

    Truncated lists: the page did not show every classic rule, branch, ruleset,
    rule or bypass actor. A private repository without classic rules may sit on a
    plan without branch protection (REST answers 403, a `not_supported` finding).
    Active rulesets are judged from the page as REST's rules for the branch are.
    """
    rules, rule_count = _connection(node, "branchProtectionRules")
    refs, ref_count = _connection(node, "refs")
    if rule_count > len(rules):
        return "classic_rules_truncated"
    if ref_count > len(refs):
        return "branches_truncated"
    if "rulesets" in node and node["rulesets"] is None:
        return "rulesets_unanswered"
    found = rulesets_unjudgeable(node)
    if found is not None:
        return found
    if bool(node.get("isPrivate")) and not rules:
        return "private_without_classic_rules"
    return None


def _status(
    full: str,
    policy: Policy,
    errors: list[PolicyError],
    default: str,
    refs: list[str],
    rules: list[Mapping[str, Any]],
    rulesets: list[Mapping[str, Any]],
    reported: Reported | None = None,
) -> RepoStatus:
    findings = [policy_invalid(e) for e in errors]
    branches = tuple(protected_branches(policy, default, refs))
    for branch in branches:
        rule = rule_for_branch(rules, branch)
        classic = classic_from_rule(rule) if rule is not None else None
        protection = BranchProtection(
            branch, classic, ruleset_protection(rulesets, branch, default)
        )
        found = plan(
            policy, protection, write=WriteMode.NEVER, default_branch=default, reported=reported
        )
        findings.extend(found.findings)
    outcome = Outcome.DRIFTED if findings else Outcome.COMPLIANT
    return RepoStatus(full, outcome, tuple(findings), policy.mode, branches=branches)


def _policy_for(
    node: Mapping[str, Any], org_policy: Policy, full: str
) -> tuple[Policy, list[PolicyError]]:
    if str(node["name"]).lower() == ORG_POLICY_REPO:
        return org_policy, []  # its file is the org policy itself
    text = ((node.get("policyFile") or {}) or {}).get("text")
    if not isinstance(text, str):
        return org_policy, []
    filename = f"{full}:{POLICY_PATH}"
    doc, errors = load_policy_file(text, filename)
    if errors or doc is None:
        return org_policy, errors
    policy, weakening = repo_policy(org_policy, doc, filename)
    return policy, weakening


def goes_to_rest(verdict: Verdict, write: WriteMode) -> bool:
    """Tell whether a judged repository must still go to the REST reconcile, which writes."""
    status = verdict.status
    if verdict.needs_rest:
        return True
    if status is None or status.outcome is not Outcome.DRIFTED:
        return False
    waits_only = bool(status.findings) and all(_only_waits(f) for f in status.findings)
    return write.writes(status.mode) and not waits_only


def _only_waits(finding: Finding) -> bool:
    """Tell whether a finding only waits for a check to report: REST could do nothing for it.

    CodeQL is the exception: the reconcile may turn its default setup on.
    """
    if finding.kind is FindingKind.CHECK_NOT_REPORTING:
        return finding.detail != CODEQL_CHECK
    return finding.kind in WAITING


def branch_status(status: RepoStatus, branch: str) -> RepoStatus:
    """Narrow a repository's status to the branch a command speaks of."""
    judged = (Outcome.COMPLIANT, Outcome.FIXED, Outcome.DRIFTED)
    if status.outcome not in judged or (status.branches and branch not in status.branches):
        return status  # excluded, unsupported, failed, or a branch the policy does not cover
    findings = tuple(f for f in status.findings if f.branch in (None, branch))
    wrote = status.fixed_at is not None
    remaining = [f for f in findings if f.kind not in REPAIRABLE] if wrote else list(findings)
    outcome = Outcome.DRIFTED if remaining else Outcome.FIXED if findings else Outcome.COMPLIANT
    fixed_at = status.fixed_at if outcome is not Outcome.COMPLIANT else None
    return replace(
        status, outcome=outcome, findings=findings, fixed_at=fixed_at, branches=(branch,)
    )


@dataclass(frozen=True)
class BranchVerdict:
    """The base branch's standing: the repo's status and the findings about that branch."""

    status: RepoStatus
    branch: str
    findings: tuple[Finding, ...]
    terms: PolicyTerms = DEFAULT_TERMS

    @property
    def can_fix(self) -> bool:
        """Tell whether a protection write could repair what is wrong."""
        return self.status.outcome is not Outcome.UNSUPPORTED and any(
            f.kind in REPAIRABLE for f in self.findings
        )


def for_branch(status: RepoStatus, branch: str) -> BranchVerdict:
    """Keep the findings that concern `branch` (or the whole repository)."""
    if status.branches and branch not in status.branches:
        return BranchVerdict(status, branch, ())
    findings = tuple(
        f
        for f in status.findings
        if f.branch in (None, branch)
        # Once Bulwark repaired the branch, only what a write cannot repair is still open.
        and (status.outcome is not Outcome.FIXED or f.kind not in REPAIRABLE)
    )
    return BranchVerdict(status, branch, findings)


def waits_for(status: RepoStatus, check: str) -> bool:
    """Tell whether Bulwark left `check` unrequired on this repository until it reports."""
    if check == CODEQL_CHECK and status.codeql in (CodeQLState.ENABLED, CodeQLState.PENDING):
        return True
    return any(f.kind in WAITING and f.detail == check for f in status.findings)
