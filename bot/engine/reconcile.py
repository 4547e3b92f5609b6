"""Read → plan → write for one repository, and what Bulwark remembers of the result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cachetools import LRUCache

from bot.clock import Clock, isoformat
from bot.core.findings import (
    codeql_finding,
    empty_repository,
    held_back,
    no_permission,
    not_supported,
    policy_invalid,
    unsupported_reason,
)
from bot.core.graphql_protection import beyond_rest, rule_for_branch
from bot.core.judge import goes_to_rest, has_branch_patterns, judge
from bot.core.models import REPAIRABLE, Finding, Outcome, RepoStatus
from bot.core.plan import RULESET_NAME, PartialWrite, Plan, partial_write, plan
from bot.core.policy import Mode, Policy, WriteMode, excluded_reason, protected_branches
from bot.core.protection import BranchProtection, parse_classic, parse_rules
from bot.core.reporting import (
    CodeQLState,
    Reported,
    codeql_wanted,
    has_reported_fields,
    reported_from,
    requires_codeql,
)
from bot.engine.codeql import CodeQL, ensure_codeql, read_reported
from bot.engine.event_read import read_node
from bot.engine.policies import PolicyStore
from bot.github.errors import (
    Forbidden,
    GitHubError,
    NotFound,
    NotSupported,
    ProtectionDisabled,
    RateLimited,
)
from bot.github.gateway import Gateway
from bot.store.locks import RepoLocks
from bot.store.statuses import StatusStore

# Deleted, renamed or transferred away: forgotten, not an error.
REPO_GONE = "the repository no longer exists here"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One repository being reconciled: what every branch's read, plan and write share."""

    owner: str
    name: str
    policy: Policy
    write: WriteMode
    default_branch: str
    enforce_with: str  # "classic" or "ruleset"
    actor: str | None
    reported: Reported | None = None  # which checks report here (None: not known)
    # The classic rules GraphQL showed (with what a REST PUT would drop), when it was read.
    graphql_rules: tuple[Mapping[str, Any], ...] | None = None

    @property
    def full(self) -> str:
        """Return `owner/name`."""
        return f"{self.owner}/{self.name}"

    @property
    def writes(self) -> bool:
        """Tell whether this reconciliation writes protection."""
        return self.write.writes(self.policy.mode)


@dataclass(frozen=True)
class BranchRead:
    """What GitHub enforces on one branch, as read."""

    protection: BranchProtection
    unsupported: Finding | None = None
    # Classic protection is disabled for the repository: only a ruleset can protect it.
    ruleset_only: bool = False


@dataclass(frozen=True)
class WriteResult:
    """How one branch's write went: impossible (`stuck`), held back (`held`), or done."""

    stuck: Finding | None = None
    held: tuple[str, ...] = ()  # settings a rewrite would have dropped


class Reconciler:
    """Bring one repository to the policy floor, or report how it falls short."""

    def __init__(
        self,
        policies: PolicyStore,
        statuses: StatusStore,
        clock: Clock,
        locks: RepoLocks | None = None,
    ) -> None:
        self.policies = policies
        self.statuses = statuses
        self.clock = clock
        self.locks = locks or RepoLocks()
        # Writes GitHub refused, and repositories whose classic protection is disabled:
        # remembered until something about the repository changes.
        self._stuck: LRUCache[str, Finding] = LRUCache(maxsize=100_000)
        self._ruleset_only: LRUCache[str, bool] = LRUCache(maxsize=100_000)

    def something_changed(self, repo: str) -> None:
        """Forget that a write was impossible: the next reconciliation tries again."""
        self._stuck.pop(repo.lower(), None)
        self._ruleset_only.pop(repo.lower(), None)

    def retry_refused(self) -> None:
        """Forget every refused write (new permissions accepted, or the periodic resync)."""
        self._stuck.clear()

    async def reconcile(
        self,
        gh: Gateway,
        owner: str,
        name: str,
        *,
        write: WriteMode = WriteMode.FOLLOW_POLICY,
        actor: str | None = None,
        repo_json: Mapping[str, Any] | None = None,
        reported: Reported | None = None,
        graphql_first: bool = False,
    ) -> RepoStatus:
        """Reconcile `owner/name`, writing as `write` says (by default, as the policy's mode).

        `reported`: what reports on it, when the caller read it already (the scan's page).
        `graphql_first`: judge from one GraphQL request (webhook-driven work); REST reads
        only to build a write, or where GraphQL cannot answer.
        """
        full = f"{owner}/{name}"
        if write is WriteMode.ALWAYS:  # a person asked for the fix: try the write again
            self._stuck.pop(full.lower(), None)
        async with self.locks.lock(full):
            try:
                status = None
                if graphql_first:
                    status, seen = await self._from_graphql(gh, owner, name, write, actor)
                    reported = reported or seen
                if status is None:
                    status = await self._reconcile(
                        gh, owner, name, write, actor, repo_json, reported
                    )
            except RateLimited:
                raise  # nothing is wrong with the repository: the whole scan is delayed
            except GitHubError as exc:
                status = await self._failed(gh, owner, name, exc)
            if status.reason == REPO_GONE:
                self.statuses.forget(full)
                log.info("returning: the repository is gone; forgotten", extra={"repo": full})
                return status
            if status.outcome is not Outcome.ERROR or self.statuses.get(full) is None:
                self.statuses.record(status)
            log.info("reconciled: %s", status.outcome.value, extra={"repo": full, "actor": actor})
            return status

    async def _failed(self, gh: Gateway, owner: str, name: str, exc: GitHubError) -> RepoStatus:
        """Tell a repository that went away mid-reconcile (404) from a real failure."""
        full = f"{owner}/{name}"
        try:
            gone = isinstance(exc, NotFound) and await gh.repo(owner, name) is None
        except GitHubError:
            gone = False
        if gone:
            return RepoStatus(full, Outcome.ERROR, reason=REPO_GONE)
        log.warning("reconcile failed: %s", exc, extra={"repo": full})
        return RepoStatus(full, Outcome.ERROR, reason=f"GitHub answered: {exc}")

    async def _reconcile(
        self,
        gh: Gateway,
        owner: str,
        name: str,
        write: WriteMode,
        actor: str | None,
        repo_json: Mapping[str, Any] | None,
        reported: Reported | None = None,
        node: Mapping[str, Any] | None = None,
    ) -> RepoStatus:
        if node is not None:
            repo_json = _repo_from_node(node)
            if has_reported_fields(node):
                reported = reported_from(node)
        repo = repo_json if repo_json is not None else await gh.repo(owner, name)
        full = f"{owner}/{name}"
        if repo is None:
            return RepoStatus(full, Outcome.ERROR, reason=REPO_GONE)
        full = str(repo.get("full_name") or full)
        owner, name = full.split("/", 1)
        private = repo.get("private") is not False  # unknown: private
        policy, errors = await self.policies.for_repo(gh, owner, name)
        mode = write.shown_mode(policy.mode)
        reason = excluded_reason(
            policy, name=name, archived=bool(repo.get("archived")), fork=bool(repo.get("fork"))
        )
        if reason is not None:
            return RepoStatus(full, Outcome.EXCLUDED, mode=mode, reason=reason, private=private)
        invalid = tuple(policy_invalid(e) for e in errors)
        branch_names = (
            _branches_from_node(node)
            if node is not None
            else [b["name"] for b in await gh.branches(owner, name)]
        )
        if not branch_names:
            return replace(empty_repository(mode, full), private=private)
        default = str(repo.get("default_branch") or "main")
        if reported is None:
            reported = await read_reported(gh, owner, name, default)
        target = Target(
            owner,
            name,
            policy,
            write,
            default,
            "ruleset" if self._ruleset_only.get(full.lower()) else policy.enforce_with,
            actor,
            reported,
            None if node is None else _classic_rules(node),
        )
        codeql = await self._codeql(gh, target)
        branches = tuple(protected_branches(policy, default, branch_names))
        status = await self._branches(gh, target, mode, branches, invalid)
        return with_codeql(replace(status, private=private), codeql)

    async def _from_graphql(
        self, gh: Gateway, owner: str, name: str, write: WriteMode, actor: str | None
    ) -> tuple[RepoStatus | None, Reported | None]:
        """Judge from one GraphQL read, reading REST only to write.

        (None, what reports) where only REST can answer: the node still says which
        checks report, so the REST read need not ask again.
        """
        full = f"{owner}/{name}"
        if self._ruleset_only.get(full.lower()):
            return None, None  # classic protection is disabled there: GraphQL cannot tell
        org = await self.policies.org(gh, owner)
        node = await read_node(gh, owner, name, with_refs=has_branch_patterns(org.policy))
        if node is None:
            return None, None
        full = str(node["nameWithOwner"])
        owner, name = full.split("/", 1)
        self.policies.remember_file(owner, name, _policy_text(node))
        verdict = judge(node, org.policy, org.errors)
        if verdict.needs_rest:
            log.info("reading through REST: %s", verdict.why, extra={"repo": full})
            return None, reported_from(node) if has_reported_fields(node) else None
        if goes_to_rest(verdict, write):
            status = await self._reconcile(gh, owner, name, write, actor, None, node=node)
            return status, None
        assert verdict.status is not None
        return await self._judged(gh, node, verdict.status, write), None

    async def _judged(
        self, gh: Gateway, node: Mapping[str, Any], status: RepoStatus, write: WriteMode
    ) -> RepoStatus:
        """Finish a status judged from GraphQL as the REST path would: mode, CodeQL."""
        mode = None if status.mode is None else write.shown_mode(status.mode)
        status = replace(status, mode=mode)
        judged = (Outcome.COMPLIANT, Outcome.DRIFTED)
        if status.outcome not in judged or status.codeql is not None:
            return status
        owner, name = status.repo.split("/", 1)
        policy, _ = await self.policies.for_repo(gh, owner, name)
        if not requires_codeql(policy.checks):
            return status
        languages = reported_from(node).codeql_languages
        writes = write.writes(policy.mode)
        return with_codeql(status, await ensure_codeql(gh, owner, name, languages, writes=writes))

    async def _codeql(self, gh: Gateway, target: Target) -> CodeQL | None:
        """Where CodeQL stands, when the policy requires it; turn default setup on if allowed."""
        policy, reported = target.policy, target.reported or Reported()
        if not requires_codeql(policy.checks):
            return None
        if not codeql_wanted(policy.checks, reported):
            return CodeQL(CodeQLState.REPORTING)
        languages = reported.codeql_languages
        return await ensure_codeql(gh, target.owner, target.name, languages, writes=target.writes)

    async def _branches(
        self,
        gh: Gateway,
        target: Target,
        mode: Mode,
        covered: tuple[str, ...],
        invalid: tuple[Finding, ...],
    ) -> RepoStatus:
        findings: list[Finding] = list(invalid)
        remaining: list[Finding] = list(invalid)
        wrote = False
        for branch in covered:
            read = await self._read(gh, target, branch)
            if read.unsupported is not None:
                return self._unsupported(target.full, mode, read.unsupported, covered)
            if read.ruleset_only:
                target = replace(target, enforce_with="ruleset")
            branch_plan = self._plan(target, read.protection)
            findings.extend(branch_plan.findings)
            if not target.writes or branch_plan.empty:
                remaining.extend(branch_plan.findings)
                continue
            result = await self._write(gh, target, read.protection, branch_plan)
            if result.stuck is not None:
                return self._unsupported(target.full, mode, result.stuck, covered, findings)
            if result.held:
                remaining.extend(_held(branch_plan.findings, result.held))
                continue
            wrote = True
            remaining.extend(f for f in branch_plan.findings if f.kind not in REPAIRABLE)
        return self._status(target.full, mode, findings, remaining, wrote, covered)

    def _plan(self, target: Target, protection: BranchProtection) -> Plan:
        return plan(
            target.policy,
            protection,
            write=target.write,
            enforce_with=target.enforce_with,
            actor=target.actor,
            default_branch=target.default_branch,
            reported=target.reported,
        )

    def _status(
        self,
        full: str,
        mode: Mode,
        findings: list[Finding],
        remaining: list[Finding],
        wrote: bool,
        covered: tuple[str, ...],
    ) -> RepoStatus:
        if remaining:
            outcome = Outcome.DRIFTED
        elif wrote:
            outcome = Outcome.FIXED
        else:
            outcome = Outcome.COMPLIANT
        fixed_at = isoformat(self.clock.time()) if wrote else None
        # A drifted repo shows what is still open; a fixed one, what Bulwark repaired.
        shown = remaining if remaining else findings
        return RepoStatus(full, outcome, tuple(shown), mode, fixed_at, branches=covered)

    def _unsupported(
        self,
        full: str,
        mode: Mode,
        finding: Finding,
        covered: tuple[str, ...],
        findings: Iterable[Finding] = (),
    ) -> RepoStatus:
        others = tuple(f for f in findings if f.kind not in REPAIRABLE)
        return RepoStatus(
            full,
            Outcome.UNSUPPORTED,
            (finding, *others),
            mode,
            reason=unsupported_reason(finding),
            branches=covered,
        )

    async def _read(self, gh: Gateway, target: Target, branch: str) -> BranchRead:
        owner, name = target.owner, target.name
        try:
            # Both at once: one wait on GitHub instead of two.
            (classic, disabled), rules = await asyncio.gather(
                self._classic(gh, target, branch), gh.rules_for_branch(owner, name, branch)
            )
        except NotSupported as exc:
            return BranchRead(_empty_protection(branch), not_supported(branch, str(exc)))
        rulesets = await self._rulesets(gh, owner, name, rules)
        own = next((i for i, r in rulesets.items() if _is_own(r)), None)
        if own is None and (disabled or target.enforce_with == "ruleset"):
            own = await self._own_ruleset_id(gh, owner, name)
            found = None if own is None else await gh.repo_ruleset(owner, name, own)
            if own is not None and found is not None:
                # It covers other branches, not this one: read it so a write keeps them.
                rulesets[own] = found
        protection = BranchProtection(
            branch, parse_classic(classic), parse_rules(rules, rulesets), bulwark_ruleset_id=own
        )
        return BranchRead(protection, ruleset_only=disabled)

    async def _classic(
        self, gh: Gateway, target: Target, branch: str
    ) -> tuple[dict[str, Any] | None, bool]:
        """Read classic protection; (None, True) where the repository has it disabled."""
        try:
            return await gh.branch_protection(target.owner, target.name, branch), False
        except ProtectionDisabled:
            # GitHub answers the GET too: no classic protection here, only rulesets.
            self._ruleset_only[target.full.lower()] = True
            return None, True

    async def _rulesets(
        self, gh: Gateway, owner: str, name: str, rules: list[dict[str, Any]]
    ) -> dict[int, Mapping[str, Any]]:
        found: dict[int, Mapping[str, Any]] = {}
        for rule in rules:
            ruleset_id = rule.get("ruleset_id")
            if not isinstance(ruleset_id, int) or ruleset_id in found:
                continue
            try:
                if rule.get("ruleset_source_type") == "Organization":
                    ruleset = await gh.org_ruleset(owner, ruleset_id)
                else:
                    ruleset = await gh.repo_ruleset(owner, name, ruleset_id)
            except (Forbidden, NotSupported):
                ruleset = None  # unreadable: counted as possibly bypassable
            if ruleset is not None:
                found[ruleset_id] = ruleset
        return found

    async def _own_ruleset_id(self, gh: Gateway, owner: str, name: str) -> int | None:
        """Find the repository ruleset Bulwark owns, by its name (one list request)."""
        for ruleset in await gh.repo_rulesets(owner, name):
            if _is_own(ruleset) and isinstance(ruleset.get("id"), int):
                return int(ruleset["id"])
        return None

    async def _write(
        self, gh: Gateway, target: Target, protection: BranchProtection, branch_plan: Plan
    ) -> WriteResult:
        """Apply one branch's plan; say when the write is impossible or was held back."""
        key = target.full.lower()
        stuck = self._stuck.get(key)
        if stuck is not None:
            return WriteResult(stuck)
        try:
            return WriteResult(held=await self._apply(gh, target, protection, branch_plan))
        except ProtectionDisabled:
            # Disabled since the read: read again for Bulwark's ruleset, which the write keeps.
            self._ruleset_only[key] = True
            by_ruleset = replace(target, enforce_with="ruleset")
            read = await self._read(gh, by_ruleset, protection.branch)
            retry = self._plan(by_ruleset, read.protection)
            return await self._write(gh, by_ruleset, read.protection, retry)
        except NotSupported as exc:
            self._stuck[key] = not_supported(protection.branch, str(exc))
        except Forbidden as exc:
            self._stuck[key] = no_permission(protection.branch, str(exc), archived=exc.archived)
        return WriteResult(self._stuck.get(key))

    async def _apply(
        self, gh: Gateway, target: Target, protection: BranchProtection, branch_plan: Plan
    ) -> tuple[str, ...]:
        """Apply a plan; return the settings that kept Bulwark from writing (none: written)."""
        if branch_plan.classic_write is not None:
            held = await self._write_classic(gh, target, protection, branch_plan)
            if held:
                return held
        if branch_plan.ruleset_write is not None:
            await self._write_ruleset(gh, target, protection, branch_plan.ruleset_write)
        return ()

    async def _write_classic(
        self, gh: Gateway, target: Target, protection: BranchProtection, branch_plan: Plan
    ) -> tuple[str, ...]:
        """Write classic protection; return what a rewrite would drop when none could be made."""
        owner, name, branch = target.owner, target.name, branch_plan.branch
        body = branch_plan.classic_write
        assert body is not None
        current = protection.classic
        # Only existing protection can hold what the PUT would drop: ask GraphQL then.
        beyond = () if current is None else await self._beyond_rest(gh, target, branch)
        if current is not None and beyond:
            partial = partial_write(current, body)
            if partial is None:
                where = {"repo": target.full, "branch": branch}
                log.warning("held back: a rewrite would drop %s", "; ".join(beyond), extra=where)
                return beyond
            await self._write_partial(gh, target, branch, partial)
            return ()
        await gh.put_branch_protection(owner, name, branch, body)
        log.info("wrote branch protection", extra={"repo": target.full, "branch": branch})
        if branch_plan.enable_signatures:
            await gh.enable_required_signatures(owner, name, branch)
        return ()

    async def _beyond_rest(self, gh: Gateway, target: Target, branch: str) -> tuple[str, ...]:
        """Name the branch's settings a REST PUT would drop (one GraphQL query, unless read)."""
        if target.graphql_rules is not None:
            return beyond_rest(rule_for_branch(target.graphql_rules, branch))
        return beyond_rest(await gh.protection_rule(target.owner, target.name, branch))

    async def _write_partial(
        self, gh: Gateway, target: Target, branch: str, partial: PartialWrite
    ) -> None:
        """Write through the sub-endpoints, leaving settings REST cannot carry in place."""
        owner, name = target.owner, target.name
        if partial.enforce_admins:
            await gh.enforce_admins(owner, name, branch)
        if partial.reviews is not None:
            await gh.update_required_reviews(owner, name, branch, partial.reviews)
        if partial.status_checks is not None:
            await gh.update_required_checks(owner, name, branch, partial.status_checks)
        log.info("wrote branch protection in parts", extra={"repo": target.full, "branch": branch})

    async def _write_ruleset(
        self, gh: Gateway, target: Target, protection: BranchProtection, body: dict[str, Any]
    ) -> None:
        # Unknown from the read: look once more, so a lost answer never makes a second one.
        own = protection.bulwark_ruleset_id or await self._own_ruleset_id(
            gh, target.owner, target.name
        )
        if own is None:
            await gh.create_repo_ruleset(target.owner, target.name, body)
        else:
            await gh.update_repo_ruleset(target.owner, target.name, own, body)
        log.info("wrote the Bulwark ruleset", extra={"repo": target.full})


def with_codeql(status: RepoStatus, codeql: CodeQL | None) -> RepoStatus:
    """Say in the status (and its CodeQL finding) where CodeQL's default setup stands."""
    if codeql is None:
        return status
    findings = tuple(codeql_finding(f, codeql.state, codeql.reason) for f in status.findings)
    return replace(status, findings=findings, codeql=codeql.state.value)


def _is_own(ruleset: Mapping[str, Any]) -> bool:
    """Tell whether a ruleset is the one Bulwark owns on a repository."""
    return ruleset.get("name") == RULESET_NAME and ruleset.get("source_type") in (
        None,
        "Repository",
    )


def _held(findings: Iterable[Finding], settings: tuple[str, ...]) -> list[Finding]:
    """Keep a branch's findings open, each repairable one saying why it was not written."""
    return [held_back(f, settings) if f.kind in REPAIRABLE else f for f in findings]


def _repo_from_node(node: Mapping[str, Any]) -> dict[str, Any]:
    """Build the REST repository fields the reconcile reads from a GraphQL node."""
    return {
        "full_name": node["nameWithOwner"],
        "private": node.get("isPrivate"),
        "archived": node.get("isArchived"),
        "fork": node.get("isFork"),
        "default_branch": (node.get("defaultBranchRef") or {}).get("name"),
    }


def _branches_from_node(node: Mapping[str, Any]) -> list[str]:
    """List the branches the node shows: every one when listed, else the default one."""
    if node.get("isEmpty") or not node.get("defaultBranchRef"):
        return []
    refs = [str(r["name"]) for r in (node.get("refs") or {}).get("nodes") or () if r]
    return refs or [str(node["defaultBranchRef"]["name"])]


def _classic_rules(node: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    rules: Sequence[Any] = (node.get("branchProtectionRules") or {}).get("nodes") or ()
    return tuple(r for r in rules if r is not None)


def _policy_text(node: Mapping[str, Any]) -> str | None:
    text = (node.get("policyFile") or {}).get("text")
    return text if isinstance(text, str) else None


def _empty_protection(branch: str) -> BranchProtection:
    return BranchProtection(branch, None, parse_rules([], {}))
