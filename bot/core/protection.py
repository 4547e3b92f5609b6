"""One plain model of what GitHub enforces on a branch: classic protection plus rulesets.

Each source is reduced to `Requirements` (what a change must pass to land), so the
planner compares the policy with one shape. A requirement met by either source
is met (DESIGN.md section 2). `binding_requirements` keeps only what binds
administrators too: classic protection with `enforce_admins`, and what rulesets
enforce on everyone. A bypass actor in `always` or `exempt` mode skips every rule
of its ruleset; one in `pull_request` mode may merge a pull request without the
approvals and checks (it still cannot push directly, force-push or delete).
https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/creating-rulesets-for-a-repository#granting-bypass-permissions-for-your-branch-or-tag-ruleset
A ruleset whose bypass list GitHub does not show (it shows it only to callers
who may edit the ruleset) binds no one Bulwark can prove: its requirements are
kept apart in `unknown`, so the planner says "bypass unknown", not "bypassable".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Bypass modes that let an actor skip the rules outright (not only through a pull request).
ALWAYS_BYPASS = frozenset({"always", "exempt"})
# A bypass mode that lets an actor merge a pull request without its approvals and checks.
PULL_REQUEST_BYPASS = "pull_request"


@dataclass(frozen=True)
class StatusCheck:
    """A required status check; `app_id` None means any app may report it."""

    context: str
    app_id: int | None = None


@dataclass(frozen=True)
class Actors:
    """Users (logins), teams (slugs) and apps (slugs), as the PUT body lists them."""

    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusChecks:
    """Classic `required_status_checks`."""

    strict: bool = False
    checks: tuple[StatusCheck, ...] = ()


@dataclass(frozen=True)
class PullRequestReviews:
    """Classic `required_pull_request_reviews`."""

    required_approving_review_count: int = 0
    dismiss_stale_reviews: bool = False
    require_code_owner_reviews: bool = False
    require_last_push_approval: bool = False
    dismissal_restrictions: Actors | None = None
    bypass_pull_request_allowances: Actors | None = None


@dataclass(frozen=True)
class ClassicProtection:
    """Classic branch protection: every setting the PUT body carries and GET returns."""

    required_status_checks: StatusChecks | None = None
    enforce_admins: bool = False
    required_pull_request_reviews: PullRequestReviews | None = None
    restrictions: Actors | None = None
    required_linear_history: bool = False
    allow_force_pushes: bool = False
    allow_deletions: bool = False
    block_creations: bool = False
    required_conversation_resolution: bool = False
    lock_branch: bool = False
    allow_fork_syncing: bool = False
    required_signatures: bool = False


@dataclass(frozen=True)
class Requirements:
    """What a change must pass to land on a branch, whatever enforces it."""

    reviews: int | None = None  # approving reviews a pull request needs; None: no PR required
    dismiss_stale_reviews: bool = False
    require_code_owner_reviews: bool = False
    require_last_push_approval: bool = False
    strict: bool = False
    checks: tuple[StatusCheck, ...] = ()
    no_force_pushes: bool = False
    no_deletions: bool = False

    def union(self, other: Requirements) -> Requirements:
        """Return what either set of requirements demands."""
        reviews = [r for r in (self.reviews, other.reviews) if r is not None]
        return Requirements(
            reviews=max(reviews) if reviews else None,
            dismiss_stale_reviews=self.dismiss_stale_reviews or other.dismiss_stale_reviews,
            require_code_owner_reviews=(
                self.require_code_owner_reviews or other.require_code_owner_reviews
            ),
            require_last_push_approval=(
                self.require_last_push_approval or other.require_last_push_approval
            ),
            strict=self.strict or other.strict,
            checks=_unique((*self.checks, *other.checks)),
            no_force_pushes=self.no_force_pushes or other.no_force_pushes,
            no_deletions=self.no_deletions or other.no_deletions,
        )


@dataclass(frozen=True)
class RulesetProtection:
    """The rules that rulesets apply to a branch, combined.

    `enforce_admins` is true only when rules apply and every ruleset they come
    from binds everyone to all its rules. `bound` holds what binds administrators
    too; `unknown` what rulesets with a hidden bypass list require (`unknown_ids`);
    `by_ruleset` each ruleset's own requirements (to merge into Bulwark's own
    ruleset); `ref_include` the branch conditions of the rulesets that could be read.
    """

    requirements: Requirements = field(default_factory=Requirements)
    enforce_admins: bool = False
    ruleset_ids: tuple[int, ...] = ()
    bound: Requirements = field(default_factory=Requirements)
    by_ruleset: tuple[tuple[int, Requirements], ...] = ()
    ref_include: tuple[tuple[int, tuple[str, ...]], ...] = ()
    bound_ids: tuple[int, ...] = ()
    # What each readable ruleset declares, whether or not it applies to this branch
    # (Bulwark's own ruleset may cover other branches: its body keeps what it had).
    declared: tuple[tuple[int, Requirements], ...] = ()
    # Per ruleset with a visible bypass list: the part of its requirements that binds admins.
    bound_by: tuple[tuple[int, Requirements], ...] = ()
    unknown_ids: tuple[int, ...] = ()
    # Each readable ruleset as GitHub returned it (its `rules` filled in from the
    # branch's rules when the answer had none): a rewrite carries all of it through.
    raw: tuple[tuple[int, Mapping[str, Any]], ...] = ()

    @property
    def unknown(self) -> Requirements:
        """Return what the rulesets whose bypass list is hidden require."""
        per = dict(self.by_ruleset)
        return _union(per[i] for i in self.unknown_ids if i in per)

    @property
    def any(self) -> bool:
        """Whether any ruleset applies a rule to the branch."""
        return bool(self.ruleset_ids)

    def of(self, ruleset_id: int | None) -> Requirements | None:
        """Return one ruleset's requirements, or None when it applies none."""
        return dict(self.by_ruleset).get(ruleset_id) if ruleset_id is not None else None

    def raw_of(self, ruleset_id: int | None) -> Mapping[str, Any] | None:
        """Return a readable ruleset as GitHub returned it, or None."""
        return dict(self.raw).get(ruleset_id) if ruleset_id is not None else None

    def include_of(self, ruleset_id: int | None) -> tuple[str, ...]:
        """Return one ruleset's `conditions.ref_name.include`."""
        return dict(self.ref_include).get(ruleset_id, ()) if ruleset_id is not None else ()


@dataclass(frozen=True)
class BranchProtection:
    """Everything GitHub enforces on one branch."""

    branch: str
    classic: ClassicProtection | None
    rulesets: RulesetProtection = field(default_factory=RulesetProtection)
    bulwark_ruleset_id: int | None = None

    @property
    def requirements(self) -> Requirements:
        """Return what the branch demands from either source."""
        return classic_requirements(self.classic).union(self.rulesets.requirements)

    @property
    def binding_requirements(self) -> Requirements:
        """Return what the branch provably demands of administrators too."""
        classic = self.classic if self.classic and self.classic.enforce_admins else None
        return classic_requirements(classic).union(self.rulesets.bound)

    @property
    def maybe_binding_requirements(self) -> Requirements:
        """Return what may bind administrators: also rulesets whose bypass list is hidden."""
        return self.binding_requirements.union(self.rulesets.unknown)


# --- classic -------------------------------------------------------------------


def _enabled(data: Mapping[str, Any], key: str) -> bool:
    """Read a GET flag: `{enabled: bool}`, a bare bool, or absent (off)."""
    value = data.get(key)
    if isinstance(value, Mapping):
        return bool(value.get("enabled", False))
    return bool(value)


def _actors(data: object) -> Actors | None:
    """Read users/teams/apps lists of objects (GET) or of names (PUT) into names."""
    if not isinstance(data, Mapping):
        return None
    return Actors(
        users=_names(data.get("users"), "login"),
        teams=_names(data.get("teams"), "slug"),
        apps=_names(data.get("apps"), "slug"),
    )


def _names(items: object, key: str) -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(str(i[key]) if isinstance(i, Mapping) else str(i) for i in items)


def _status_checks(data: object) -> StatusChecks | None:
    if not isinstance(data, Mapping):
        return None
    checks = data.get("checks")
    if checks is None:  # legacy shape: contexts only, any app
        found = tuple(StatusCheck(str(c)) for c in data.get("contexts") or ())
    else:
        found = tuple(StatusCheck(str(c["context"]), c.get("app_id")) for c in checks)
    return StatusChecks(strict=bool(data.get("strict", False)), checks=found)


def _reviews(data: object) -> PullRequestReviews | None:
    if not isinstance(data, Mapping):
        return None
    return PullRequestReviews(
        required_approving_review_count=int(data.get("required_approving_review_count") or 0),
        dismiss_stale_reviews=bool(data.get("dismiss_stale_reviews", False)),
        require_code_owner_reviews=bool(data.get("require_code_owner_reviews", False)),
        require_last_push_approval=bool(data.get("require_last_push_approval", False)),
        dismissal_restrictions=_actors(data.get("dismissal_restrictions")),
        bypass_pull_request_allowances=_actors(data.get("bypass_pull_request_allowances")),
    )


_FLAGS = (
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
    "required_signatures",
)


def parse_classic(data: Mapping[str, Any] | None) -> ClassicProtection | None:
    """Read GitHub's GET …/branches/{b}/protection answer (None: not protected)."""
    if data is None:
        return None
    return ClassicProtection(
        required_status_checks=_status_checks(data.get("required_status_checks")),
        enforce_admins=_enabled(data, "enforce_admins"),
        required_pull_request_reviews=_reviews(data.get("required_pull_request_reviews")),
        restrictions=_actors(data.get("restrictions")),
        **{flag: _enabled(data, flag) for flag in _FLAGS},
    )


def classic_requirements(classic: ClassicProtection | None) -> Requirements:
    """Reduce classic protection to the requirements it enforces."""
    if classic is None:
        return Requirements()
    reviews = classic.required_pull_request_reviews
    status = classic.required_status_checks
    return Requirements(
        reviews=reviews.required_approving_review_count if reviews else None,
        dismiss_stale_reviews=bool(reviews and reviews.dismiss_stale_reviews),
        require_code_owner_reviews=bool(reviews and reviews.require_code_owner_reviews),
        require_last_push_approval=bool(reviews and reviews.require_last_push_approval),
        strict=bool(status and status.strict),
        checks=status.checks if status else (),
        no_force_pushes=not classic.allow_force_pushes,
        no_deletions=not classic.allow_deletions,
    )


# --- rulesets ------------------------------------------------------------------


def _rule_requirements(rule: Mapping[str, Any]) -> Requirements:
    """Reduce one rule (`{type, parameters}`) to the requirements it enforces."""
    kind = rule.get("type")
    params: Mapping[str, Any] = rule.get("parameters") or {}
    if kind == "pull_request":
        return Requirements(
            reviews=int(params.get("required_approving_review_count") or 0),
            dismiss_stale_reviews=bool(params.get("dismiss_stale_reviews_on_push", False)),
            require_code_owner_reviews=bool(params.get("require_code_owner_review", False)),
            require_last_push_approval=bool(params.get("require_last_push_approval", False)),
        )
    if kind == "required_status_checks":
        checks = params.get("required_status_checks") or ()
        return Requirements(
            strict=bool(params.get("strict_required_status_checks_policy", False)),
            checks=tuple(StatusCheck(str(c["context"]), c.get("integration_id")) for c in checks),
        )
    if kind == "non_fast_forward":
        return Requirements(no_force_pushes=True)
    if kind == "deletion":
        return Requirements(no_deletions=True)
    return Requirements()


def bypass_hidden(ruleset: Mapping[str, Any] | None) -> bool:
    """Whether GitHub did not show who may bypass a ruleset (or the ruleset itself)."""
    # GitHub shows bypass actors only to callers who may write the ruleset: an App
    # with organization_administration: read sees an org ruleset without them.
    # https://docs.github.com/rest/orgs/rules#get-an-organization-repository-ruleset
    return ruleset is None or "bypass_actors" not in ruleset


def _admin_bound(ruleset: Mapping[str, Any], requirements: Requirements) -> Requirements:
    """Return the part of a readable ruleset's requirements that binds administrators."""
    if ruleset.get("enforcement") != "active":
        return Requirements()
    modes = {a.get("bypass_mode", "always") for a in ruleset.get("bypass_actors") or ()}
    if modes & ALWAYS_BYPASS:
        return Requirements()
    if PULL_REQUEST_BYPASS in modes:
        # Merging a pull request past its approvals and checks; pushes stay bound.
        return Requirements(
            no_force_pushes=requirements.no_force_pushes, no_deletions=requirements.no_deletions
        )
    return requirements


def _include(ruleset: Mapping[str, Any] | None) -> tuple[str, ...]:
    conditions = (ruleset or {}).get("conditions") or {}
    return tuple((conditions.get("ref_name") or {}).get("include") or ())


def parse_rules(
    rules: Sequence[Mapping[str, Any]], rulesets: Mapping[int, Mapping[str, Any]]
) -> RulesetProtection:
    """Combine GET …/rules/branches/{b} with the rulesets it names (id → ruleset JSON)."""
    per: dict[int, Requirements] = {}
    for rule in rules:
        ruleset_id = int(rule.get("ruleset_id", 0))
        ruleset = rulesets.get(ruleset_id)
        if ruleset is not None and ruleset.get("enforcement") != "active":
            continue  # evaluate/disabled rulesets enforce nothing
        per[ruleset_id] = per.get(ruleset_id, Requirements()).union(_rule_requirements(rule))
    unknown = tuple(i for i in per if bypass_hidden(rulesets.get(i)))
    bound_by = {i: _admin_bound(rulesets[i], reqs) for i, reqs in per.items() if i not in unknown}
    binding = [i for i, part in bound_by.items() if part == per[i]]
    return RulesetProtection(
        requirements=_union(per.values()),
        enforce_admins=bool(per) and len(binding) == len(per),
        ruleset_ids=tuple(per),
        bound=_union(bound_by.values()),
        by_ruleset=tuple(per.items()),
        ref_include=tuple((i, _include(r)) for i, r in rulesets.items()),
        bound_ids=tuple(binding),
        declared=tuple(
            (i, _union(_rule_requirements(rule) for rule in r.get("rules") or ()))
            for i, r in rulesets.items()
        ),
        bound_by=tuple(bound_by.items()),
        unknown_ids=unknown,
        raw=tuple((i, _with_rules(r, i, rules)) for i, r in rulesets.items()),
    )


_RULE_SOURCE = ("ruleset_source_type", "ruleset_source", "ruleset_id")


def _with_rules(
    ruleset: Mapping[str, Any], ruleset_id: int, rules: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any]:
    """Return the ruleset with its `rules`; from the branch's rules when it came without."""
    if "rules" in ruleset:
        return ruleset
    own = [
        {k: v for k, v in rule.items() if k not in _RULE_SOURCE}
        for rule in rules
        if rule.get("ruleset_id") == ruleset_id
    ]
    return {**ruleset, "rules": own}


def replace_ruleset(
    rulesets: RulesetProtection, ruleset_id: int, requirements: Requirements, *, binding: bool
) -> RulesetProtection:
    """Return `rulesets` with one ruleset's requirements replaced (or added)."""
    per = dict(rulesets.by_ruleset)
    per[ruleset_id] = requirements
    bound_by = dict(rulesets.bound_by)
    bound_by[ruleset_id] = requirements if binding else Requirements()
    bound_ids = [i for i in rulesets.bound_ids if i != ruleset_id] + (
        [ruleset_id] if binding else []
    )
    return RulesetProtection(
        requirements=_union(per.values()),
        enforce_admins=len(bound_ids) == len(per),
        ruleset_ids=tuple(per),
        bound=_union(bound_by.values()),
        by_ruleset=tuple(per.items()),
        ref_include=rulesets.ref_include,
        bound_ids=tuple(bound_ids),
        declared=rulesets.declared,
        bound_by=tuple(bound_by.items()),
        unknown_ids=tuple(i for i in rulesets.unknown_ids if i != ruleset_id),
        raw=rulesets.raw,
    )


def _union(items: Iterable[Requirements]) -> Requirements:
    total = Requirements()
    for item in items:
        total = total.union(item)
    return total


def _unique(checks: Iterable[StatusCheck]) -> tuple[StatusCheck, ...]:
    return tuple(dict.fromkeys(checks))
