"""Tests for policy loading, validation and merging."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.core.policy import (
    DEFAULT_POLICY,
    CheckRequirement,
    Exclusion,
    Mode,
    Policy,
    PolicyError,
    WriteMode,
    excluded_reason,
    load_policy_file,
    org_policy,
    policy_as_dict,
    protected_branches,
    repo_policy,
)

COUNT = (
    "pull_request_reviews.required_approving_review_count: expected an integer from 0 to 6, got "
)
DEFAULT_YAML = """\
mode: enforce
branches: [default]
pull_request_reviews:
  required_approving_review_count: 1
  dismiss_stale_reviews: false
  require_code_owner_reviews: false
required_status_checks:
  strict: false
  checks:
    - context: CodeQL
    - context: test
enforce_admins: true
allow_force_pushes: false
allow_deletions: false
exclude:
  archived: true
  forks: true
  repositories: []
report:
  repository: .github
"""


def load(text: str) -> dict[str, Any]:
    doc, errors = load_policy_file(text, "repo-protection.yml")
    assert errors == []
    assert doc is not None
    return doc


def test_default_policy_matches_the_design_document() -> None:
    assert org_policy(load(DEFAULT_YAML)) == DEFAULT_POLICY
    assert org_policy(None) == DEFAULT_POLICY


def test_policy_as_dict_round_trips_through_yaml() -> None:
    policy = org_policy(
        load(
            "required_status_checks: {checks: [{context: CodeQL, app_id: 57789}, test]}\n"
            "exclude: {repositories: [{name: junk, reason: throwaway}]}\n"
            "enforce_with: ruleset\n"
        )
    )
    text = yaml.safe_dump(policy_as_dict(policy))
    assert org_policy(load(text)) == policy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("# only a comment\n", {}),
        ("mode: report\n", {"mode": "report"}),
        (
            "branches: [default, 'release/*', '*.*.x']\n",
            {"branches": ["default", "release/*", "*.*.x"]},
        ),
        (
            "required_status_checks:\n  checks: [CodeQL, {context: test, app_id: 15368}]\n",
            {
                "required_status_checks": {
                    "checks": [{"context": "CodeQL"}, {"context": "test", "app_id": 15368}]
                }
            },
        ),
        (
            "pull_request_reviews: {required_approving_review_count: 6}\n",
            {"pull_request_reviews": {"required_approving_review_count": 6}},
        ),
        (
            "required_status_checks: {test_check: ci / test}\n",
            {"required_status_checks": {"test_check": "ci / test"}},
        ),
        (
            "exclude: {repositories: [{name: sandbox, reason: experiments}]}\n",
            {"exclude": {"repositories": [{"name": "sandbox", "reason": "experiments"}]}},
        ),
    ],
)
def test_load_returns_only_the_keys_the_file_sets(text: str, expected: dict[str, Any]) -> None:
    assert load(text) == expected


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "mode: enforce\npull_request_reviews:\n  required_approving_review_count: two\n",
            3,
            COUNT + "'two'",
        ),
        (
            "pull_request_reviews: {required_approving_review_count: 7}\n",
            1,
            COUNT + "7",
        ),
        (
            "pull_request_reviews:\n  required_approving_review_count: true\n",
            2,
            COUNT + "true",
        ),
        ("mode: strictest\n", 1, "mode: expected 'enforce' or 'report', got 'strictest'"),
        ("enforce_with: magic\n", 1, "enforce_with: expected 'classic' or 'ruleset', got 'magic'"),
        (
            "\n\nenforce_admins: yes please\n",
            3,
            "enforce_admins: expected true or false, got 'yes please'",
        ),
        (
            "branches: main\n",
            1,
            "branches: expected a list of branch names or patterns, got 'main'",
        ),
        ("branches:\n  - main\n  - ''\n", 3, "branches[1]: expected a non-empty string, got ''"),
        ("branches:\n  - main\n  - 3\n", 3, "branches[1]: expected a non-empty string, got 3"),
        (
            "required_status_checks:\n  checks:\n    - context: x\n      app_id: abc\n",
            4,
            "required_status_checks.checks[0].app_id: expected an integer app id, got 'abc'",
        ),
        (
            "required_status_checks:\n  checks:\n    - 5\n",
            3,
            "required_status_checks.checks[0]: expected a check name or "
            "{context: name, app_id: integer}, got 5",
        ),
        (
            "required_status_checks:\n  checks:\n    - {context: x, name: y}\n",
            3,
            "required_status_checks.checks[0]: unknown key 'name'; allowed keys: context, app_id",
        ),
        (
            "exclude:\n  repositories:\n    - name: x\n",
            3,
            "exclude.repositories[0]: expected {name: repository, reason: why}: missing reason",
        ),
        ("report: .github\n", 1, "report: expected a mapping, got '.github'"),
        ("- mode\n", None, "expected a mapping of policy keys, got a list"),
    ],
)
def test_load_rejects_wrong_values_with_their_line(
    text: str, line: int | None, message: str
) -> None:
    doc, errors = load_policy_file(text, "p.yml")
    assert doc is None
    assert errors == [PolicyError("p.yml", line, message)]


@pytest.mark.parametrize(
    ("text", "line", "key", "allowed"),
    [
        ("mode: enforce\nreviewers: 2\n", 2, "reviewers", "mode, branches, pull_request_reviews"),
        (
            "pull_request_reviews:\n  count: 2\n",
            2,
            "pull_request_reviews.count",
            "required_approving_review_count, dismiss_stale_reviews",
        ),
        (
            "required_status_checks:\n\n  contexts: [a]\n",
            3,
            "required_status_checks.contexts",
            "strict, checks, test_check",
        ),
        ("exclude:\n  private: true\n", 2, "exclude.private", "archived, forks, repositories"),
    ],
)
def test_load_names_unknown_keys_and_the_allowed_ones(
    text: str, line: int, key: str, allowed: str
) -> None:
    doc, errors = load_policy_file(text, "p.yml")
    assert doc is None
    assert len(errors) == 1
    assert errors[0].line == line
    assert errors[0].message.startswith(f"{key}: unknown key")
    assert allowed in errors[0].message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("mode: [enforce\n", 2),
        ("mode: enforce\n  branches: x\n", 2),
        ("a: 'open\n", 2),
        ("mode: enforce\n\tbranches: []\n", 2),
    ],
)
def test_load_reports_bad_yaml_with_its_line(text: str, line: int) -> None:
    doc, errors = load_policy_file(text, "p.yml")
    assert doc is None
    assert len(errors) == 1
    assert errors[0].line == line
    assert errors[0].message.startswith("invalid YAML")


def test_load_collects_every_error() -> None:
    doc, errors = load_policy_file("mode: x\nenforce_admins: 1\nfoo: 2\n", "p.yml")
    assert doc is None
    assert [e.line for e in errors] == [1, 2, 3]


def test_policy_error_prints_file_and_line() -> None:
    assert str(PolicyError("a.yml", 4, "bad")) == "a.yml:4: bad"
    assert str(PolicyError("a.yml", None, "bad")) == "a.yml: bad"


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("mode: report\n", "mode", "report"),
        ("branches: [main, 'release/*']\n", "branches", ("main", "release/*")),
        (
            "pull_request_reviews: {required_approving_review_count: 0}\n",
            "required_approving_review_count",
            0,
        ),
        ("pull_request_reviews: {dismiss_stale_reviews: true}\n", "dismiss_stale_reviews", True),
        ("required_status_checks: {strict: true}\n", "strict", True),
        ("required_status_checks: {checks: []}\n", "checks", ()),
        (
            "required_status_checks: {test_check: pytest}\n",
            "checks",
            (CheckRequirement("CodeQL"), CheckRequirement("pytest")),
        ),
        ("enforce_admins: false\n", "enforce_admins", False),
        ("allow_force_pushes: true\n", "allow_force_pushes", True),
        ("exclude: {archived: false}\n", "exclude_archived", False),
        ("exclude: {forks: false}\n", "exclude_forks", False),
        (
            "exclude: {repositories: [{name: junk, reason: old}]}\n",
            "exclude_repositories",
            (Exclusion("junk", "old"),),
        ),
        ("report: {repository: governance}\n", "report_repository", "governance"),
        ("enforce_with: ruleset\n", "enforce_with", "ruleset"),
    ],
)
def test_org_file_overlays_the_default(text: str, field: str, value: object) -> None:
    policy = org_policy(load(text))
    assert getattr(policy, field) == value
    assert policy.branches == value if field == "branches" else policy.branches == ("default",)


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("mode: enforce\n", "mode", "enforce"),
        ("branches: [default, 'release/*']\n", "branches", ("default", "release/*")),
        ("branches: [default, '*.*.x']\n", "branches", ("default", "*.*.x")),
        (
            "pull_request_reviews: {required_approving_review_count: 2}\n",
            "required_approving_review_count",
            2,
        ),
        ("pull_request_reviews: {dismiss_stale_reviews: true}\n", "dismiss_stale_reviews", True),
        (
            "pull_request_reviews: {require_code_owner_reviews: true}\n",
            "require_code_owner_reviews",
            True,
        ),
        ("required_status_checks: {strict: true}\n", "strict", True),
        (
            "required_status_checks: {checks: [CodeQL, test, lint]}\n",
            "checks",
            (CheckRequirement("CodeQL"), CheckRequirement("test"), CheckRequirement("lint")),
        ),
        (
            "required_status_checks: {checks: [CodeQL, {context: test, app_id: 15368}]}\n",
            "checks",
            (CheckRequirement("CodeQL"), CheckRequirement("test", 15368)),
        ),
        (
            "required_status_checks: {test_check: ci / test}\n",
            "checks",
            (CheckRequirement("CodeQL"), CheckRequirement("ci / test")),
        ),
        (
            "required_status_checks: {test_check: pytest, checks: [CodeQL, pytest, lint]}\n",
            "checks",
            (CheckRequirement("CodeQL"), CheckRequirement("pytest"), CheckRequirement("lint")),
        ),
        ("enforce_admins: true\n", "enforce_admins", True),
        ("allow_force_pushes: false\n", "allow_force_pushes", False),
        ("allow_deletions: false\n", "allow_deletions", False),
    ],
)
def test_repo_file_may_tighten(text: str, field: str, value: object) -> None:
    policy, errors = repo_policy(DEFAULT_POLICY, load(text), "repo-protection.yml")
    assert errors == []
    assert getattr(policy, field) == value


def test_repo_may_switch_report_to_enforce() -> None:
    org = org_policy(load("mode: report\n"))
    policy, errors = repo_policy(org, load("mode: enforce\n"), "r.yml")
    assert errors == []
    assert policy.mode == "enforce"


def test_repo_check_without_app_id_inherits_the_org_pin() -> None:
    org = org_policy(load("required_status_checks: {checks: [{context: CodeQL, app_id: 57789}]}\n"))
    policy, errors = repo_policy(
        org, load("required_status_checks: {checks: [CodeQL, lint]}\n"), "r.yml"
    )
    assert errors == []
    assert policy.checks == (CheckRequirement("CodeQL", 57789), CheckRequirement("lint"))


def test_renamed_test_check_keeps_its_pin() -> None:
    org = org_policy(load("required_status_checks: {checks: [{context: test, app_id: 15368}]}\n"))
    policy, errors = repo_policy(
        org, load("required_status_checks: {test_check: pytest}\n"), "r.yml"
    )
    assert errors == []
    assert policy.checks == (CheckRequirement("pytest", 15368),)
    assert policy.test_check == "pytest"


@pytest.mark.parametrize(
    ("org_text", "repo_text", "line", "key", "why"),
    [
        ("mode: enforce\n", "mode: report\n", 1, "mode", "enforce to report"),
        (
            "branches: [default, 'release/*']\n",
            "branches: [default]\n",
            1,
            "branches",
            "missing release/*",
        ),
        (
            "pull_request_reviews: {required_approving_review_count: 2}\n",
            "\npull_request_reviews:\n  required_approving_review_count: 1\n",
            3,
            "pull_request_reviews.required_approving_review_count",
            "lower than the org's 2",
        ),
        (
            "pull_request_reviews: {dismiss_stale_reviews: true}\n",
            "pull_request_reviews: {dismiss_stale_reviews: false}\n",
            1,
            "pull_request_reviews.dismiss_stale_reviews",
            "may not turn it off",
        ),
        (
            "pull_request_reviews: {require_code_owner_reviews: true}\n",
            "pull_request_reviews:\n  require_code_owner_reviews: false\n",
            2,
            "pull_request_reviews.require_code_owner_reviews",
            "may not turn it off",
        ),
        (
            "required_status_checks: {strict: true}\n",
            "required_status_checks: {strict: false}\n",
            1,
            "required_status_checks.strict",
            "may not turn it off",
        ),
        ("", "enforce_admins: false\n", 1, "enforce_admins", "may not turn it off"),
        ("", "allow_force_pushes: true\n", 1, "allow_force_pushes", "may not allow it"),
        ("", "mode: enforce\nallow_deletions: true\n", 2, "allow_deletions", "may not allow it"),
        (
            "",
            "required_status_checks: {checks: [CodeQL]}\n",
            1,
            "required_status_checks.checks",
            "required check 'test'",
        ),
        (
            "required_status_checks: {checks: [{context: CodeQL, app_id: 1}]}\n",
            "required_status_checks: {checks: [{context: CodeQL, app_id: 2}]}\n",
            1,
            "required_status_checks.checks",
            "app_id 1",
        ),
        (
            "",
            "required_status_checks: {test_check: pytest, checks: [pytest]}\n",
            1,
            "required_status_checks.checks",
            "required check 'CodeQL'",
        ),
        ("", "exclude: {forks: false}\n", 1, "exclude", "only the org policy"),
        ("", "mode: enforce\nreport: {repository: mine}\n", 2, "report", "only the org policy"),
        ("", "enforce_with: ruleset\n", 1, "enforce_with", "only the org policy"),
    ],
)
def test_repo_file_may_not_weaken(
    org_text: str, repo_text: str, line: int, key: str, why: str
) -> None:
    org = org_policy(load(org_text))
    policy, errors = repo_policy(org, load(repo_text), "r.yml")
    assert policy == org
    assert len(errors) == 1
    assert errors[0].file == "r.yml"
    assert errors[0].line == line
    assert errors[0].message.startswith(f"{key}: ")
    assert why in errors[0].message


def test_repo_weakening_reports_every_key_and_applies_nothing() -> None:
    text = (
        "pull_request_reviews: {required_approving_review_count: 3}\n"
        "enforce_admins: false\nallow_deletions: true\n"
    )
    policy, errors = repo_policy(DEFAULT_POLICY, load(text), "r.yml")
    assert policy == DEFAULT_POLICY
    assert [e.line for e in errors] == [2, 3]


@pytest.mark.parametrize("doc", [None, {}])
def test_repo_without_a_file_gets_the_org_policy(doc: dict[str, Any] | None) -> None:
    org = org_policy(load("mode: report\n"))
    assert repo_policy(org, doc, "r.yml") == (org, [])


POLICY_WITH_EXCLUSIONS = Policy(
    exclude_repositories=(Exclusion("Sandbox", "throwaway experiments"),)
)


@pytest.mark.parametrize(
    ("policy", "name", "archived", "fork", "expected"),
    [
        (DEFAULT_POLICY, "org/app", False, False, None),
        (DEFAULT_POLICY, "org/app", True, False, "archived"),
        (DEFAULT_POLICY, "org/app", False, True, "fork"),
        (Policy(exclude_archived=False), "org/app", True, False, None),
        (Policy(exclude_forks=False), "org/app", False, True, None),
        (
            POLICY_WITH_EXCLUSIONS,
            "org/sandbox",
            False,
            False,
            "excluded by policy: throwaway experiments",
        ),
        (
            POLICY_WITH_EXCLUSIONS,
            "sandbox",
            False,
            False,
            "excluded by policy: throwaway experiments",
        ),
        (POLICY_WITH_EXCLUSIONS, "org/sandbox-2", False, False, None),
    ],
)
def test_excluded_reason(
    policy: Policy, name: str, archived: bool, fork: bool, expected: str | None
) -> None:
    assert excluded_reason(policy, name=name, archived=archived, fork=fork) == expected


BRANCHES = ["main", "dev", "release/1.0", "release/2.0", "release/x/y", "1.2.x", "1.x", "v1.2.x"]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (("default",), ["main"]),
        (("default", "release/*"), ["main", "release/1.0", "release/2.0", "release/x/y"]),
        (("default", "*.*.x"), ["main", "1.2.x", "v1.2.x"]),
        (
            ("release/*", "default", "release/1.0"),
            ["main", "release/1.0", "release/2.0", "release/x/y"],
        ),
        (("dev",), ["dev"]),
        (("Main",), []),
        (("hotfix/*",), []),
        (
            ("*",),
            ["main", "1.2.x", "1.x", "dev", "release/1.0", "release/2.0", "release/x/y", "v1.2.x"],
        ),
    ],
)
def test_protected_branches(patterns: tuple[str, ...], expected: list[str]) -> None:
    assert protected_branches(Policy(branches=patterns), "main", BRANCHES) == expected


def test_default_branch_counts_even_when_not_listed() -> None:
    assert protected_branches(DEFAULT_POLICY, "trunk", []) == ["trunk"]


def test_yaml_aliases_are_refused_before_they_can_expand() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 8):  # 10**8 nodes if expanded
        levels.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]")
    doc, errors = load_policy_file("\n".join(levels) + "\n", "bomb.yml")
    assert doc is None
    assert [(e.line, "aliases" in e.message) for e in errors] == [(2, True)]


def test_a_huge_file_is_refused() -> None:
    doc, errors = load_policy_file("mode: enforce\n" + "#" * 70_000 + "\n", "big.yml")
    assert doc is None and "too large" in errors[0].message


def test_a_repo_cannot_rename_its_test_check_onto_another_required_check() -> None:
    doc, errors = load_policy_file("required_status_checks:\n  test_check: CodeQL\n", "r.yml")
    assert not errors
    policy, errors = repo_policy(DEFAULT_POLICY, doc, "r.yml")
    assert policy == DEFAULT_POLICY
    assert [e.line for e in errors] == [2] and "already required" in errors[0].message


@pytest.mark.parametrize(
    ("write", "mode", "writes", "shown"),
    [
        (WriteMode.FOLLOW_POLICY, Mode.ENFORCE, True, Mode.ENFORCE),
        (WriteMode.FOLLOW_POLICY, Mode.REPORT, False, Mode.REPORT),
        (WriteMode.NEVER, Mode.ENFORCE, False, Mode.ENFORCE),
        (WriteMode.NEVER, Mode.REPORT, False, Mode.REPORT),
        (WriteMode.ALWAYS, Mode.ENFORCE, True, Mode.ENFORCE),
        (WriteMode.ALWAYS, Mode.REPORT, True, Mode.ENFORCE),
    ],
)
def test_write_mode_decides_the_write_and_the_mode_shown(
    write: WriteMode, mode: Mode, writes: bool, shown: Mode
) -> None:
    assert write.writes(mode) is writes
    assert write.shown_mode(mode) is shown


def test_a_policy_file_mode_becomes_the_enum() -> None:
    doc, errors = load_policy_file("mode: report\n", "f")
    assert not errors
    assert org_policy(doc).mode is Mode.REPORT
    assert policy_as_dict(org_policy(doc))["mode"] == "report"
    assert type(policy_as_dict(org_policy(doc))["mode"]) is str  # safe for yaml.safe_dump
