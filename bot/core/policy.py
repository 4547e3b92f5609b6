"""The protection policy: load, validate, merge (DESIGN.md section 2).

A policy file is YAML in the shape of section 2's default. The org file (in the
org's `.github` repository) overlays the default; a repository's own file may
then only tighten the org policy:

- more reviewers; `dismiss_stale_reviews`, `require_code_owner_reviews`,
  `strict` and `enforce_admins` may be turned on, never off;
- `allow_force_pushes` / `allow_deletions` may be turned off, never on;
- `mode` may go from report to enforce, never from enforce to report;
- lists are whole lists: a repo's `branches` or `required_status_checks.checks`
  must keep every entry of the org's and may add more. A check written without
  `app_id` inherits the org's pin; a different pin is an error;
- `exclude`, `report` and `enforce_with` are org-only keys.

A repository names its own test check with `required_status_checks.test_check`:

    required_status_checks:
      test_check: "ci / test"

This renames the policy's `test` check (keeping its `app_id` pin) to that
context; if the policy has no `test` check, the named check is added. The org
file may set it too, to rename `test` for every repository.

A policy check is required only once it has reported on the repository (see
`core.reporting`): requiring a check nothing runs blocks every merge.
`required_status_checks.require_unreported: true` requires every policy check at
once, reported or not. Its risk: on every repository where a check does not run
yet, each pull request waits forever for it and nobody can merge until someone
adds the CI job (or removes the requirement). A repository may turn it on; only
the org may turn it off again.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import yaml

POLICY_PATH = ".github/repo-protection.yml"
ORG_POLICY_REPO = ".github"  # the org's repository; its policy file is the org policy


class Mode(StrEnum):
    """What a policy asks of Bulwark about drift: repair it, or only report it."""

    ENFORCE = "enforce"
    REPORT = "report"


class WriteMode(StrEnum):
    """Whether one reconciliation may write protection; decided once, by whoever asks for it."""

    FOLLOW_POLICY = "follow_policy"  # webhooks and the resync: write when the mode is enforce
    NEVER = "never"  # only read and plan: a pull request's check, `status`, a read-only scan
    ALWAYS = "always"  # a person asked for the fix: `/protection fix`, the Fix button, `--apply`

    def writes(self, mode: Mode) -> bool:
        """Tell whether a repository whose policy is in `mode` gets written."""
        if self is WriteMode.FOLLOW_POLICY:
            return mode == Mode.ENFORCE
        return self is WriteMode.ALWAYS

    def shown_mode(self, mode: Mode) -> Mode:
        """Return the mode a status reports: a fix a person asked for is enforcement."""
        return Mode.ENFORCE if self is WriteMode.ALWAYS else mode


MODES = tuple(m.value for m in Mode)
ENFORCE_WITH = ("classic", "ruleset")
MAX_REVIEWS = 6
MAX_FILE_CHARS = 64 * 1024  # a policy file is a few lines; anything larger is refused
TEST_CHECK = "test"
ORG_ONLY_KEYS = ("exclude", "report", "enforce_with")


@dataclass(frozen=True)
class CheckRequirement:
    """A status check that must pass; `app_id` pins the app that may report it."""

    context: str
    app_id: int | None = None


@dataclass(frozen=True)
class Exclusion:
    """A repository the policy does not apply to, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Policy:
    """The effective policy for one repository (or the org)."""

    mode: Mode = Mode.ENFORCE
    branches: tuple[str, ...] = ("default",)
    required_approving_review_count: int = 1
    dismiss_stale_reviews: bool = False
    require_code_owner_reviews: bool = False
    strict: bool = False
    checks: tuple[CheckRequirement, ...] = (
        CheckRequirement("CodeQL"),
        CheckRequirement(TEST_CHECK),
    )
    enforce_admins: bool = True
    allow_force_pushes: bool = False
    allow_deletions: bool = False
    exclude_archived: bool = True
    exclude_forks: bool = True
    exclude_repositories: tuple[Exclusion, ...] = ()
    report_repository: str = ".github"
    enforce_with: str = "classic"
    test_check: str | None = None
    max_org_owners: int = 5  # `bulwark evidence`: the few_admins promise's limit
    require_unreported: bool = False


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class PolicyError:
    """One problem in a policy file, with the line it is on when known."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class PolicyDoc(dict[str, Any]):
    """A validated override document that remembers the line of each key."""

    def __init__(self, data: Mapping[str, Any], lines: Mapping[str, int]) -> None:
        super().__init__(data)
        self.lines = dict(lines)


# --- loading -----------------------------------------------------------------


def load_policy_file(text: str, filename: str) -> tuple[dict[str, Any] | None, list[PolicyError]]:
    """Parse and validate a policy file; return its override document or the errors."""
    if len(text) > MAX_FILE_CHARS:
        size = f"{len(text):,} characters; at most {MAX_FILE_CHARS:,} are read"
        return None, [PolicyError(filename, None, f"the file is too large ({size})")]
    try:
        alias = _first_alias(text)
        if alias is not None:
            # Aliases can multiply a few hundred bytes into gigabytes: a policy needs none.
            message = "YAML anchors and aliases are not allowed in a policy file"
            return None, [PolicyError(filename, alias, message)]
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [PolicyError(filename, line, f"invalid YAML: {problem}")]
    if data is None:
        return PolicyDoc({}, {}), []
    lines: dict[str, int] = {}
    try:
        _collect_lines(node, "", lines)
    except DuplicateKey as dup:
        message = f"{dup.path}: given twice (the first one would be ignored)"
        return None, [PolicyError(filename, dup.line, message)]
    checker = _Checker(filename, lines)
    doc = checker.document(data)
    if checker.errors:
        return None, checker.errors
    return PolicyDoc(doc, lines), []


class DuplicateKey(Exception):
    """A key given twice in one mapping: YAML keeps the last silently; a policy may not."""

    def __init__(self, path: str, line: int) -> None:
        super().__init__(path)
        self.path = path
        self.line = line


def _first_alias(text: str) -> int | None:
    """Return the 1-based line of the first alias (`*name`) in a YAML text, if any."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            return mark.line + 1 if mark is not None else 1
    return None


def _collect_lines(node: yaml.Node | None, path: str, lines: dict[str, int]) -> None:
    """Record the 1-based line of every mapping key and list item under `path`."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = f"{path}.{key.value}" if path else str(key.value)
            if sub in lines:
                raise DuplicateKey(sub, key.start_mark.line + 1)
            lines[sub] = key.start_mark.line + 1
            _collect_lines(value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = f"{path}[{index}]"
            lines[sub] = item.start_mark.line + 1
            _collect_lines(item, sub, lines)


def _show(value: object) -> str:
    """Render a YAML value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_SECTIONS: dict[str, tuple[str, ...]] = {
    "": (
        "mode",
        "branches",
        "pull_request_reviews",
        "required_status_checks",
        "enforce_admins",
        "allow_force_pushes",
        "allow_deletions",
        "exclude",
        "report",
        "enforce_with",
        "evidence",
    ),
    "pull_request_reviews": (
        "required_approving_review_count",
        "dismiss_stale_reviews",
        "require_code_owner_reviews",
    ),
    "required_status_checks": ("strict", "checks", "test_check", "require_unreported"),
    "exclude": ("archived", "forks", "repositories"),
    "report": ("repository",),
    "evidence": ("max_org_owners",),
}

_BOOLEANS = frozenset(
    {
        "enforce_admins",
        "allow_force_pushes",
        "allow_deletions",
        "pull_request_reviews.dismiss_stale_reviews",
        "pull_request_reviews.require_code_owner_reviews",
        "required_status_checks.strict",
        "required_status_checks.require_unreported",
        "exclude.archived",
        "exclude.forks",
    }
)


class _Checker:
    """Validate a parsed policy document against section 2's schema."""

    def __init__(self, filename: str, lines: Mapping[str, int]) -> None:
        self.filename = filename
        self.lines = lines
        self.errors: list[PolicyError] = []

    def error(self, path: str, message: str) -> None:
        line = self.lines.get(path)
        while line is None and path:
            path = path.rpartition(".")[0] if "." in path else ""
            line = self.lines.get(path)
        label = f"{path}: " if path else ""
        self.errors.append(PolicyError(self.filename, line, f"{label}{message}"))

    def document(self, data: object) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            self.error("", f"expected a mapping of policy keys, got {_show(data)}")
            return {}
        return self.section("", data)

    def section(self, path: str, data: Mapping[Any, Any]) -> dict[str, Any]:
        allowed = _SECTIONS[path]
        out: dict[str, Any] = {}
        for key, value in data.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in allowed:
                self.error(sub, f"unknown key {key!r}; allowed keys: {', '.join(allowed)}")
                continue
            checked = self.value(sub, value)
            if checked is not None:
                out[str(key)] = checked
        return out

    def value(self, path: str, value: object) -> Any:
        if path in _SECTIONS:
            if isinstance(value, Mapping):
                return self.section(path, value)
            self.fail(path, "a mapping", value)
            return None
        if path in _BOOLEANS:
            if isinstance(value, bool):
                return value
            self.fail(path, "true or false", value)
            return None
        return _LEAVES[path](self, path, value)

    def fail(self, path: str, expected: str, value: object) -> None:
        self.error(path, f"expected {expected}, got {_show(value)}")

    def choice(self, path: str, value: object, options: Sequence[str]) -> str | None:
        if isinstance(value, str) and value in options:
            return value
        self.fail(path, " or ".join(repr(o) for o in options), value)
        return None

    def count(self, path: str, value: object) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REVIEWS:
            return value
        self.fail(path, f"an integer from 0 to {MAX_REVIEWS}", value)
        return None

    def name(self, path: str, value: object) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.fail(path, "a non-empty string", value)
        return None

    def items(self, path: str, value: object, what: str) -> list[tuple[str, object]] | None:
        if not isinstance(value, list):
            self.fail(path, f"a list of {what}", value)
            return None
        return [(f"{path}[{i}]", item) for i, item in enumerate(value)]

    def branches(self, path: str, value: object) -> list[str] | None:
        items = self.items(path, value, "branch names or patterns")
        if items is None:
            return None
        out = [self.name(sub, item) for sub, item in items]
        return [b for b in out if b is not None] if None not in out else None

    def checks(self, path: str, value: object) -> list[dict[str, Any]] | None:
        items = self.items(path, value, "checks ({context: name, app_id: integer})")
        if items is None:
            return None
        out = [self.check(sub, item) for sub, item in items]
        return [c for c in out if c is not None] if None not in out else None

    def check(self, path: str, value: object) -> dict[str, Any] | None:
        if isinstance(value, str):
            value = {"context": value}
        if not isinstance(value, Mapping):
            self.fail(path, "a check name or {context: name, app_id: integer}", value)
            return None
        unknown = sorted(str(k) for k in value if k not in ("context", "app_id"))
        if unknown:
            self.error(path, f"unknown key {unknown[0]!r}; allowed keys: context, app_id")
            return None
        context = self.name(f"{path}.context", value.get("context"))
        app_id = value.get("app_id")
        if app_id is not None and not _is_int(app_id):
            self.fail(f"{path}.app_id", "an integer app id", app_id)
            return None
        if context is None:
            return None
        return {"context": context} if app_id is None else {"context": context, "app_id": app_id}

    def repositories(self, path: str, value: object) -> list[dict[str, str]] | None:
        items = self.items(path, value, "{name, reason} entries")
        if items is None:
            return None
        out = [self.exclusion(sub, item) for sub, item in items]
        return [e for e in out if e is not None] if None not in out else None

    def exclusion(self, path: str, value: object) -> dict[str, str] | None:
        if not isinstance(value, Mapping):
            self.fail(path, "{name: repository, reason: why}", value)
            return None
        if set(value) != {"name", "reason"}:
            missing = sorted({"name", "reason"} - set(value))
            extra = sorted(set(map(str, value)) - {"name", "reason"})
            problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"
            self.error(path, f"expected {{name: repository, reason: why}}: {problem}")
            return None
        name = self.name(f"{path}.name", value["name"])
        reason = self.name(f"{path}.reason", value["reason"])
        return {"name": name, "reason": reason} if name and reason else None


_LEAVES: dict[str, Any] = {
    "mode": lambda c, p, v: c.choice(p, v, MODES),
    "enforce_with": lambda c, p, v: c.choice(p, v, ENFORCE_WITH),
    "branches": _Checker.branches,
    "pull_request_reviews.required_approving_review_count": _Checker.count,
    "required_status_checks.checks": _Checker.checks,
    "required_status_checks.test_check": _Checker.name,
    "exclude.repositories": _Checker.repositories,
    "report.repository": _Checker.name,
    "evidence.max_org_owners": lambda c, p, v: (
        v
        if isinstance(v, int) and not isinstance(v, bool) and v >= 1
        else c.fail(p, "an integer of 1 or more", v)
    ),
}


# --- merging -----------------------------------------------------------------


def _section(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, Mapping) else {}


def _rename_test(
    checks: Iterable[CheckRequirement], name: str | None
) -> tuple[CheckRequirement, ...]:
    """Rename the `test` check to `name`, or add `name` when there is no `test` check."""
    checks = tuple(checks)
    if name is None:
        return checks
    renamed = tuple(replace(c, context=name) if c.context == TEST_CHECK else c for c in checks)
    if all(c.context != name for c in renamed):
        renamed += (CheckRequirement(name),)
    return _unique_checks(renamed)


def _unique_checks(checks: Iterable[CheckRequirement]) -> tuple[CheckRequirement, ...]:
    seen: dict[str, CheckRequirement] = {}
    for check in checks:
        if check.context not in seen or seen[check.context].app_id is None:
            seen[check.context] = check
    return tuple(seen.values())


def _overlay(base: Policy, doc: Mapping[str, Any]) -> Policy:
    """Return `base` with every key `doc` sets replaced."""
    reviews = _section(doc, "pull_request_reviews")
    status = _section(doc, "required_status_checks")
    exclude = _section(doc, "exclude")
    changes: dict[str, Any] = {k: doc[k] for k in _TOP_LEVEL if k in doc}
    if "mode" in changes:
        changes["mode"] = Mode(changes["mode"])
    changes.update({k: reviews[k] for k in _REVIEW_KEYS if k in reviews})
    if "branches" in doc:
        changes["branches"] = tuple(dict.fromkeys(doc["branches"]))
    if "strict" in status:
        changes["strict"] = status["strict"]
    if "checks" in status:
        changes["checks"] = _unique_checks(
            CheckRequirement(c["context"], c.get("app_id")) for c in status["checks"]
        )
    if "test_check" in status:
        changes["test_check"] = status["test_check"]
    if "require_unreported" in status:
        changes["require_unreported"] = status["require_unreported"]
    if "archived" in exclude:
        changes["exclude_archived"] = exclude["archived"]
    if "forks" in exclude:
        changes["exclude_forks"] = exclude["forks"]
    if "repositories" in exclude:
        changes["exclude_repositories"] = tuple(
            Exclusion(e["name"], e["reason"]) for e in exclude["repositories"]
        )
    if "repository" in _section(doc, "report"):
        changes["report_repository"] = doc["report"]["repository"]
    if "max_org_owners" in _section(doc, "evidence"):
        changes["max_org_owners"] = doc["evidence"]["max_org_owners"]
    merged = replace(base, **changes)
    return replace(merged, checks=_rename_test(merged.checks, merged.test_check))


_TOP_LEVEL = ("mode", "enforce_admins", "allow_force_pushes", "allow_deletions", "enforce_with")
_REVIEW_KEYS = (
    "required_approving_review_count",
    "dismiss_stale_reviews",
    "require_code_owner_reviews",
)


def org_policy(doc: Mapping[str, Any] | None) -> Policy:
    """Return the default policy overlaid by the org file's keys."""
    return _overlay(DEFAULT_POLICY, doc or {})


def repo_policy(
    org: Policy, doc: Mapping[str, Any] | None, filename: str
) -> tuple[Policy, list[PolicyError]]:
    """Tighten the org policy by a repo file; any weakening is an error and changes nothing."""
    if not doc:
        return org, []
    lines: Mapping[str, int] = getattr(doc, "lines", {})

    def error(path: str, message: str) -> PolicyError:
        return PolicyError(filename, lines.get(path), f"{path}: {message}")

    errors = [
        error(key, "only the org policy may set this key, not a repository's file")
        for key in ORG_ONLY_KEYS
        if key in doc
    ]
    test_check = _section(doc, "required_status_checks").get("test_check")
    others = {c.context for c in org.checks if c.context != (org.test_check or TEST_CHECK)}
    if test_check in others:
        # Renaming the test check onto another required check would drop one of them.
        errors.append(
            error(
                "required_status_checks.test_check",
                f"{test_check!r} is already required; name the check your test suite reports",
            )
        )
    base = replace(org, checks=_rename_test(org.checks, test_check))
    candidate = _inherit_pins(_overlay(org, doc), base)
    errors += [error(path, why) for path, why in _weakenings(base, candidate)]
    return (org, errors) if errors else (candidate, [])


def _inherit_pins(policy: Policy, org: Policy) -> Policy:
    """Give a repo check written without `app_id` the org's pin for that context."""
    pins = {c.context: c.app_id for c in org.checks}
    checks = tuple(
        replace(c, app_id=pins.get(c.context)) if c.app_id is None else c for c in policy.checks
    )
    return replace(policy, checks=checks)


def _weakenings(org: Policy, repo: Policy) -> list[tuple[str, str]]:
    """List (key, why) for every way `repo` is weaker than `org`."""
    found: list[tuple[str, str]] = []
    if org.mode == Mode.ENFORCE and repo.mode == Mode.REPORT:
        found.append(("mode", "may not change enforce to report; only the org policy may"))
    missing = [b for b in org.branches if b not in repo.branches]
    if missing:
        found.append(("branches", f"must keep the org's branches; missing {', '.join(missing)}"))
    reviews = "pull_request_reviews"
    if repo.required_approving_review_count < org.required_approving_review_count:
        found.append(
            (
                f"{reviews}.required_approving_review_count",
                f"may not be lower than the org's {org.required_approving_review_count}",
            )
        )
    for key, path in _MUST_STAY_ON:
        if getattr(org, key) and not getattr(repo, key):
            found.append((path, "the org policy requires true; a repository may not turn it off"))
    for key in ("allow_force_pushes", "allow_deletions"):
        if not getattr(org, key) and getattr(repo, key):
            found.append((key, "the org policy requires false; a repository may not allow it"))
    found += _check_weakenings(org.checks, repo.checks)
    return found


_MUST_STAY_ON = (
    ("dismiss_stale_reviews", "pull_request_reviews.dismiss_stale_reviews"),
    ("require_code_owner_reviews", "pull_request_reviews.require_code_owner_reviews"),
    ("strict", "required_status_checks.strict"),
    ("require_unreported", "required_status_checks.require_unreported"),
    ("enforce_admins", "enforce_admins"),
)


def _check_weakenings(
    org: Sequence[CheckRequirement], repo: Sequence[CheckRequirement]
) -> list[tuple[str, str]]:
    path = "required_status_checks.checks"
    mine = {c.context: c for c in repo}
    found: list[tuple[str, str]] = []
    for check in org:
        if check.context not in mine:
            found.append((path, f"must keep the org's required check {check.context!r}"))
        elif check.app_id is not None and mine[check.context].app_id != check.app_id:
            found.append(
                (path, f"check {check.context!r} must keep the org's app_id {check.app_id}")
            )
    return found


# --- applying ----------------------------------------------------------------


def excluded_reason(policy: Policy, *, name: str, archived: bool, fork: bool) -> str | None:
    """Say why the policy does not apply to a repository, or None when it does."""
    short = name.rpartition("/")[2].casefold()
    for exclusion in policy.exclude_repositories:
        if exclusion.name.casefold() in (short, name.casefold()):
            return f"excluded by policy: {exclusion.reason}"
    if archived and policy.exclude_archived:
        return "archived"
    if fork and policy.exclude_forks:
        return "fork"
    return None


def protected_branches(
    policy: Policy, default_branch: str, branch_names: Iterable[str]
) -> list[str]:
    """Return the branches the policy covers: the default first, then the rest sorted."""
    names = set(branch_names) | {default_branch}
    found: set[str] = set()
    for pattern in policy.branches:
        if pattern == "default":
            found.add(default_branch)
        else:
            found.update(n for n in names if fnmatch.fnmatchcase(n, pattern))
    rest = sorted(found - {default_branch})
    return [default_branch, *rest] if default_branch in found else rest


def policy_as_dict(policy: Policy) -> dict[str, Any]:
    """Return the policy in the YAML shape of DESIGN.md section 2."""
    status: dict[str, Any] = {
        "strict": policy.strict,
        "checks": [_check_as_dict(c) for c in policy.checks],
    }
    if policy.test_check is not None:
        status["test_check"] = policy.test_check
    status["require_unreported"] = policy.require_unreported
    return {
        "mode": policy.mode.value,
        "branches": list(policy.branches),
        "pull_request_reviews": {k: getattr(policy, k) for k in _REVIEW_KEYS},
        "required_status_checks": status,
        "enforce_admins": policy.enforce_admins,
        "allow_force_pushes": policy.allow_force_pushes,
        "allow_deletions": policy.allow_deletions,
        "exclude": {
            "archived": policy.exclude_archived,
            "forks": policy.exclude_forks,
            "repositories": [
                {"name": e.name, "reason": e.reason} for e in policy.exclude_repositories
            ],
        },
        "report": {"repository": policy.report_repository},
        "enforce_with": policy.enforce_with,
        "evidence": {"max_org_owners": policy.max_org_owners},
    }


def _check_as_dict(check: CheckRequirement) -> dict[str, Any]:
    if check.app_id is None:
        return {"context": check.context}
    return {"context": check.context, "app_id": check.app_id}
