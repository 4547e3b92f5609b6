"""Tests for the drift plan: findings and the minimal write."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.core.models import FindingKind
from bot.core.plan import (
    RULESET_NAME,
    PartialWrite,
    compliant,
    partial_write,
    plan,
    protection_after,
)
from bot.core.policy import DEFAULT_POLICY, CheckRequirement, Policy
from bot.core.protection import (
    Actors,
    BranchProtection,
    ClassicProtection,
    PullRequestReviews,
    RulesetProtection,
    StatusCheck,
    StatusChecks,
    parse_classic,
    parse_rules,
)

K = FindingKind
GOOD = ClassicProtection(
    required_status_checks=StatusChecks(False, (StatusCheck("CodeQL"), StatusCheck("test"))),
    enforce_admins=True,
    required_pull_request_reviews=PullRequestReviews(1),
)
REPORT = replace(DEFAULT_POLICY, mode="report")


def branch(
    classic: ClassicProtection | None, rulesets: RulesetProtection | None = None
) -> BranchProtection:
    return BranchProtection("main", classic, rulesets or RulesetProtection())


def rule(kind: str, ruleset_id: int = 1, **parameters: Any) -> dict[str, Any]:
    return {"type": kind, "ruleset_id": ruleset_id, "parameters": parameters}


def ruleset(
    ruleset_id: int = 1, enforcement: str = "active", bypass: str | None = None
) -> dict[str, Any]:
    actors = (
        []
        if bypass is None
        else [{"actor_id": 1, "actor_type": "OrganizationAdmin", "bypass_mode": bypass}]
    )
    return {"id": ruleset_id, "enforcement": enforcement, "bypass_actors": actors}


FULL_RULES = [
    rule("pull_request", required_approving_review_count=1),
    rule(
        "required_status_checks",
        required_status_checks=[{"context": "CodeQL"}, {"context": "test"}],
    ),
    rule("non_fast_forward"),
    rule("deletion"),
]


def rulesets(rules: list[dict[str, Any]], *sets: dict[str, Any]) -> RulesetProtection:
    return parse_rules(rules, {s["id"]: s for s in sets} if sets else {1: ruleset(1)})


def kinds(policy: Policy, protection: BranchProtection) -> list[tuple[FindingKind, str | None]]:
    return [(f.kind, f.detail) for f in plan(policy, protection).findings]


@pytest.mark.parametrize(
    ("classic", "expected"),
    [
        (None, [(K.UNPROTECTED, None)]),
        (GOOD, []),
        (replace(GOOD, required_pull_request_reviews=None), [(K.REVIEWS_MISSING, None)]),
        (
            replace(GOOD, required_pull_request_reviews=PullRequestReviews(0)),
            [(K.REVIEWS_TOO_FEW, None)],
        ),
        (
            replace(GOOD, required_status_checks=None),
            [(K.CHECK_MISSING, "CodeQL"), (K.CHECK_MISSING, "test")],
        ),
        (
            replace(GOOD, required_status_checks=StatusChecks(True, (StatusCheck("test"),))),
            [(K.CHECK_MISSING, "CodeQL")],
        ),
        (replace(GOOD, enforce_admins=False), [(K.ADMINS_NOT_ENFORCED, None)]),
        (replace(GOOD, allow_force_pushes=True), [(K.FORCE_PUSH_ALLOWED, None)]),
        (replace(GOOD, allow_deletions=True), [(K.DELETION_ALLOWED, None)]),
        (
            ClassicProtection(allow_force_pushes=True),
            [
                (K.REVIEWS_MISSING, None),
                (K.CHECK_MISSING, "CodeQL"),
                (K.CHECK_MISSING, "test"),
                (K.FORCE_PUSH_ALLOWED, None),
                (K.ADMINS_NOT_ENFORCED, None),
            ],
        ),
    ],
)
def test_findings_against_the_default_policy(
    classic: ClassicProtection | None, expected: list[tuple[FindingKind, str | None]]
) -> None:
    assert kinds(DEFAULT_POLICY, branch(classic)) == expected
    assert compliant(DEFAULT_POLICY, branch(classic)) is (expected == [])


@pytest.mark.parametrize(
    ("policy", "classic", "expected"),
    [
        (
            replace(DEFAULT_POLICY, dismiss_stale_reviews=True),
            GOOD,
            [(K.REVIEWS_TOO_FEW, "dismiss_stale_reviews")],
        ),
        (
            replace(DEFAULT_POLICY, require_code_owner_reviews=True),
            GOOD,
            [(K.REVIEWS_TOO_FEW, "require_code_owner_reviews")],
        ),
        (replace(DEFAULT_POLICY, strict=True), GOOD, [(K.CHECK_MISSING, None)]),
        (
            replace(DEFAULT_POLICY, checks=(CheckRequirement("CodeQL", 57789),)),
            GOOD,
            [(K.CHECK_MISSING, "CodeQL")],
        ),
        (replace(DEFAULT_POLICY, enforce_admins=False), replace(GOOD, enforce_admins=False), []),
        (
            replace(DEFAULT_POLICY, allow_force_pushes=True),
            replace(GOOD, allow_force_pushes=True),
            [],
        ),
    ],
)
def test_findings_against_stricter_or_looser_policies(
    policy: Policy, classic: ClassicProtection, expected: list[tuple[FindingKind, str | None]]
) -> None:
    assert kinds(policy, branch(classic)) == expected


def test_finding_sentences_say_what_is_wrong_and_the_remedy() -> None:
    weak = replace(GOOD, required_pull_request_reviews=None)
    enforce = plan(DEFAULT_POLICY, branch(weak), actor="mallory").findings[0]
    assert enforce.message == (
        "main does not require a pull request review, so code can reach it without anyone "
        "else approving it."
    )
    assert enforce.remedy == "Bulwark will require 1 approving review on main."
    assert enforce.actor == "mallory"
    assert enforce.branch == "main"
    report = plan(REPORT, branch(weak)).findings[0]
    assert (
        report.remedy
        == "Ask an admin to require 1 approving review on main, or run /protection fix."
    )
    assert report.actor is None


def test_pinned_check_sentence_names_the_app() -> None:
    policy = replace(DEFAULT_POLICY, checks=(CheckRequirement("CodeQL", 57789),))
    finding = plan(policy, branch(GOOD)).findings[0]
    assert "'CodeQL' from app 57789" in finding.message


def test_unprotected_branch_gets_the_whole_policy() -> None:
    result = plan(DEFAULT_POLICY, branch(None))
    assert result.classic_write == {
        "required_status_checks": {
            "strict": False,
            "checks": [{"context": "CodeQL"}, {"context": "test"}],
        },
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "required_approving_review_count": 1,
            "dismiss_stale_reviews": False,
            "require_code_owner_reviews": False,
            "require_last_push_approval": False,
        },
        "restrictions": None,
        "required_linear_history": False,
        "allow_force_pushes": False,
        "allow_deletions": False,
        "block_creations": False,
        "required_conversation_resolution": False,
        "lock_branch": False,
        "allow_fork_syncing": False,
    }
    assert result.ruleset_write is None
    assert not result.enable_signatures
    assert not result.empty


def test_compliant_branch_plans_no_write() -> None:
    result = plan(DEFAULT_POLICY, branch(GOOD))
    assert result.findings == ()
    assert result.empty


def test_report_mode_finds_but_never_writes() -> None:
    result = plan(REPORT, branch(None))
    assert [f.kind for f in result.findings] == [K.UNPROTECTED]
    assert result.empty
    assert plan(REPORT, branch(None), enforce_with="ruleset").empty


STRICTER = ClassicProtection(
    required_status_checks=StatusChecks(True, (StatusCheck("test", 15368), StatusCheck("lint"))),
    enforce_admins=False,
    required_pull_request_reviews=PullRequestReviews(2, dismiss_stale_reviews=True),
)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("required_pull_request_reviews", "required_approving_review_count"), 2),
        (("required_pull_request_reviews", "dismiss_stale_reviews"), True),
        (("required_status_checks", "strict"), True),
        (
            ("required_status_checks", "checks"),
            [
                {"context": "test", "app_id": 15368},
                {"context": "lint", "app_id": -1},
                {"context": "CodeQL"},
            ],
        ),
        (("enforce_admins",), True),
    ],
)
def test_stricter_settings_are_kept(path: tuple[str, ...], value: object) -> None:
    write = plan(DEFAULT_POLICY, branch(STRICTER)).classic_write
    assert write is not None
    for key in path:
        write = write[key]
    assert write == value


def test_pinned_policy_check_replaces_another_apps_entry() -> None:
    policy = replace(DEFAULT_POLICY, checks=(CheckRequirement("CodeQL", 57789),))
    classic = replace(GOOD, required_status_checks=StatusChecks(False, (StatusCheck("CodeQL", 1),)))
    write = plan(policy, branch(classic)).classic_write
    assert write is not None
    assert write["required_status_checks"]["checks"] == [{"context": "CodeQL", "app_id": 57789}]


ALICE = Actors(("alice",), ("core",), ("deploy-bot",))


@pytest.mark.parametrize(
    ("change", "path", "value"),
    [
        (
            {"restrictions": ALICE},
            ("restrictions",),
            {"users": ["alice"], "teams": ["core"], "apps": ["deploy-bot"]},
        ),
        ({"required_linear_history": True}, ("required_linear_history",), True),
        ({"required_conversation_resolution": True}, ("required_conversation_resolution",), True),
        ({"lock_branch": True}, ("lock_branch",), True),
        ({"allow_fork_syncing": True}, ("allow_fork_syncing",), True),
        ({"block_creations": True}, ("block_creations",), True),
        (
            {
                "required_pull_request_reviews": PullRequestReviews(
                    1, require_last_push_approval=True
                )
            },
            ("required_pull_request_reviews", "require_last_push_approval"),
            True,
        ),
        (
            {
                "required_pull_request_reviews": PullRequestReviews(
                    1, require_code_owner_reviews=True
                )
            },
            ("required_pull_request_reviews", "require_code_owner_reviews"),
            True,
        ),
        (
            {"required_pull_request_reviews": PullRequestReviews(1, dismiss_stale_reviews=True)},
            ("required_pull_request_reviews", "dismiss_stale_reviews"),
            True,
        ),
        (
            {"required_pull_request_reviews": PullRequestReviews(1, dismissal_restrictions=ALICE)},
            ("required_pull_request_reviews", "dismissal_restrictions"),
            {"users": ["alice"], "teams": ["core"], "apps": ["deploy-bot"]},
        ),
        (
            {
                "required_pull_request_reviews": PullRequestReviews(
                    1, bypass_pull_request_allowances=ALICE
                )
            },
            ("required_pull_request_reviews", "bypass_pull_request_allowances"),
            {"users": ["alice"], "teams": ["core"], "apps": ["deploy-bot"]},
        ),
    ],
)
def test_every_existing_setting_is_carried_through_the_put(
    change: dict[str, Any], path: tuple[str, ...], value: object
) -> None:
    classic = replace(GOOD, allow_deletions=True, **change)  # drift forces a write
    write: Any = plan(DEFAULT_POLICY, branch(classic)).classic_write
    assert write is not None
    assert write["allow_deletions"] is False
    for key in path:
        write = write[key]
    assert write == value


def test_legacy_contexts_are_written_as_checks_never_both() -> None:
    classic = parse_classic(
        {"required_status_checks": {"strict": False, "contexts": ["ci/travis"]}}
    )
    assert classic is not None
    write = plan(DEFAULT_POLICY, branch(classic)).classic_write
    assert write is not None
    status = write["required_status_checks"]
    assert "contexts" not in status
    assert status["checks"] == [
        {"context": "ci/travis", "app_id": -1},  # any source, as it was
        {"context": "CodeQL"},  # new: GitHub binds it to the app that reports it
        {"context": "test"},
    ]


@pytest.mark.parametrize("required_signatures", [True, False])
def test_signatures_are_reasserted_after_a_put(required_signatures: bool) -> None:
    classic = replace(GOOD, allow_force_pushes=True, required_signatures=required_signatures)
    result = plan(DEFAULT_POLICY, branch(classic))
    assert result.classic_write is not None
    assert result.enable_signatures is required_signatures


def test_ruleset_only_compliance_writes_nothing() -> None:
    result = plan(DEFAULT_POLICY, branch(None, rulesets(FULL_RULES)))
    assert result.findings == ()
    assert result.empty


def test_ruleset_partial_cover_writes_only_the_missing_parts() -> None:
    partial = rulesets(
        [
            rule("pull_request", required_approving_review_count=1),
            rule("non_fast_forward"),
            rule("deletion"),
        ]
    )
    result = plan(DEFAULT_POLICY, branch(None, partial))
    assert [(f.kind, f.detail) for f in result.findings] == [
        (K.CHECK_MISSING, "CodeQL"),
        (K.CHECK_MISSING, "test"),
    ]
    write = result.classic_write
    assert write is not None
    assert write["required_pull_request_reviews"] is None
    assert write["restrictions"] is None
    assert write["required_status_checks"] == {
        "strict": False,
        "checks": [{"context": "CodeQL"}, {"context": "test"}],
    }
    assert write["enforce_admins"] is True


def test_evaluate_ruleset_does_not_count() -> None:
    found = rulesets(FULL_RULES, ruleset(1, "evaluate"))
    assert kinds(DEFAULT_POLICY, branch(None, found)) == [(K.UNPROTECTED, None)]


@pytest.mark.parametrize(
    ("bypass", "expected"),
    [
        ("always", [(K.ADMINS_NOT_ENFORCED, None)]),
        ("exempt", [(K.ADMINS_NOT_ENFORCED, None)]),
        # May merge a pull request without its approval and checks: admins are not bound.
        ("pull_request", [(K.ADMINS_NOT_ENFORCED, None)]),
        (None, []),
    ],
)
def test_bypass_actors(bypass: str | None, expected: list[tuple[FindingKind, str | None]]) -> None:
    found = rulesets(FULL_RULES, ruleset(1, "active", bypass))
    assert kinds(DEFAULT_POLICY, branch(None, found)) == expected


def test_unreadable_ruleset_leaves_the_bypass_unknown() -> None:
    found = parse_rules(FULL_RULES, {})
    assert kinds(DEFAULT_POLICY, branch(None, found)) == [(K.BYPASS_UNKNOWN, "1")]


HIDDEN = {"id": 1, "enforcement": "active"}  # an org ruleset read without write access to it
ONLY_DELETION = [rule("deletion")]


@pytest.mark.parametrize(
    ("policy", "classic", "rules", "expected"),
    [
        (DEFAULT_POLICY, None, FULL_RULES, [(K.BYPASS_UNKNOWN, "1")]),
        # Classic protection that includes admins binds them whatever the hidden list says.
        (DEFAULT_POLICY, GOOD, FULL_RULES, []),
        (
            DEFAULT_POLICY,
            replace(GOOD, enforce_admins=False),
            FULL_RULES,
            [(K.BYPASS_UNKNOWN, "1")],
        ),
        # Only part of what the policy asks could bind admins: they can provably skip the rest.
        (
            DEFAULT_POLICY,
            replace(GOOD, enforce_admins=False),
            ONLY_DELETION,
            [(K.ADMINS_NOT_ENFORCED, None)],
        ),
        (replace(DEFAULT_POLICY, enforce_admins=False), None, FULL_RULES, []),
    ],
)
def test_a_hidden_bypass_list_is_unknown_not_bypassable(
    policy: Policy,
    classic: ClassicProtection | None,
    rules: list[dict[str, Any]],
    expected: list[tuple[FindingKind, str | None]],
) -> None:
    found = parse_rules(rules, {1: HIDDEN})
    assert kinds(policy, branch(classic, found)) == expected


@pytest.mark.parametrize(("enforce_with", "says"), [("classic", "classic"), ("ruleset", "own")])
def test_bypass_unknown_says_what_would_let_bulwark_see_and_what_binds_admins(
    enforce_with: str, says: str
) -> None:
    found = parse_rules(FULL_RULES, {1: HIDDEN})
    [finding] = plan(REPORT, branch(None, found), enforce_with=enforce_with).findings
    assert "organization_administration: write" in finding.message
    assert says in finding.remedy and "/protection fix" in finding.remedy


@pytest.mark.parametrize("enforce_with", ["classic", "ruleset"])
def test_the_write_for_a_hidden_bypass_list_binds_admins(enforce_with: str) -> None:
    protection = branch(None, parse_rules(FULL_RULES, {1: HIDDEN}))
    result = plan(DEFAULT_POLICY, protection, enforce_with=enforce_with, default_branch="main")
    if enforce_with == "classic":
        assert result.classic_write is not None
        assert result.classic_write["enforce_admins"] is True
        assert result.classic_write["required_pull_request_reviews"] is not None
    assert compliant(DEFAULT_POLICY, protection_after(protection, result))


def test_bypassable_ruleset_is_backed_by_classic_protection() -> None:
    found = rulesets(FULL_RULES, ruleset(1, "active", "always"))
    write = plan(DEFAULT_POLICY, branch(None, found)).classic_write
    assert write is not None
    assert write["enforce_admins"] is True
    assert write["required_pull_request_reviews"]["required_approving_review_count"] == 1


def test_ruleset_enforcement_writes_bulwarks_ruleset() -> None:
    result = plan(DEFAULT_POLICY, branch(None), enforce_with="ruleset", default_branch="main")
    assert result.classic_write is None
    assert result.ruleset_write == {
        "name": RULESET_NAME,
        "target": "branch",
        "enforcement": "active",
        "bypass_actors": [],
        "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
        "rules": [
            {
                "type": "pull_request",
                "parameters": {
                    "required_approving_review_count": 1,
                    "dismiss_stale_reviews_on_push": False,
                    "require_code_owner_review": False,
                    "require_last_push_approval": False,
                    "required_review_thread_resolution": False,
                },
            },
            {
                "type": "required_status_checks",
                "parameters": {
                    "strict_required_status_checks_policy": False,
                    "required_status_checks": [{"context": "CodeQL"}, {"context": "test"}],
                },
            },
            {"type": "non_fast_forward"},
            {"type": "deletion"},
        ],
    }


def test_ruleset_enforcement_keeps_what_bulwarks_ruleset_had() -> None:
    existing = [
        rule("pull_request", 7, required_approving_review_count=3, require_last_push_approval=True),
        rule(
            "required_status_checks",
            7,
            strict_required_status_checks_policy=True,
            required_status_checks=[{"context": "lint", "integration_id": 9}],
        ),
    ]
    sets = {7: ruleset(7) | {"conditions": {"ref_name": {"include": ["refs/heads/release/1"]}}}}
    protection = BranchProtection(
        "release/2", None, parse_rules(existing, sets), bulwark_ruleset_id=7
    )
    body = plan(
        DEFAULT_POLICY, protection, enforce_with="ruleset", default_branch="main"
    ).ruleset_write
    assert body is not None
    assert body["conditions"]["ref_name"]["include"] == [
        "refs/heads/release/1",
        "refs/heads/release/2",
    ]
    pull_request, checks = body["rules"][0]["parameters"], body["rules"][1]["parameters"]
    assert pull_request["required_approving_review_count"] == 3
    assert pull_request["require_last_push_approval"] is True
    assert checks["strict_required_status_checks_policy"] is True
    assert checks["required_status_checks"] == [
        {"context": "lint", "integration_id": 9},
        {"context": "CodeQL"},
        {"context": "test"},
    ]


POLICIES = [
    DEFAULT_POLICY,
    replace(
        DEFAULT_POLICY, required_approving_review_count=2, strict=True, dismiss_stale_reviews=True
    ),
    replace(DEFAULT_POLICY, checks=(CheckRequirement("CodeQL", 57789), CheckRequirement("pytest"))),
    replace(DEFAULT_POLICY, require_code_owner_reviews=True, enforce_admins=False),
]
PROTECTIONS = [
    branch(None),
    branch(STRICTER),
    branch(replace(GOOD, allow_force_pushes=True, required_signatures=True, restrictions=ALICE)),
    branch(ClassicProtection(allow_deletions=True)),
    branch(None, rulesets(FULL_RULES, ruleset(1, "active", "always"))),
    branch(None, rulesets(FULL_RULES[:1])),
    branch(GOOD, rulesets(FULL_RULES[2:], ruleset(1, "evaluate"))),
]


@pytest.mark.parametrize("enforce_with", ["classic", "ruleset"])
@pytest.mark.parametrize("protection", PROTECTIONS)
@pytest.mark.parametrize("policy", POLICIES)
def test_planning_again_after_the_write_finds_nothing(
    policy: Policy, protection: BranchProtection, enforce_with: str
) -> None:
    first = plan(policy, protection, enforce_with=enforce_with)
    after = protection_after(protection, first)
    second = plan(policy, after, enforce_with=enforce_with)
    assert second.findings == ()
    assert second.empty
    if protection.classic is not None and protection.classic.required_signatures and after.classic:
        assert after.classic.required_signatures


ADMIN_RULES = [
    {"type": "required_signatures"},
    {
        "type": "pull_request",
        "parameters": {
            "required_approving_review_count": 0,
            "dismiss_stale_reviews_on_push": True,
            "require_code_owner_review": False,
            "require_last_push_approval": True,
            "required_review_thread_resolution": True,
            "allowed_merge_methods": ["squash"],
        },
    },
    {
        "type": "required_status_checks",
        "parameters": {
            "strict_required_status_checks_policy": True,
            "do_not_enforce_on_create": True,
            "required_status_checks": [{"context": "lint", "integration_id": 9}],
        },
    },
    {"type": "required_linear_history"},
]
ACTORS = [{"actor_id": 5, "actor_type": "Team", "bypass_mode": "pull_request"}]


def own_ruleset(rules: list[dict[str, Any]], **extra: Any) -> BranchProtection:
    """Bulwark's ruleset (id 7) as an admin left it, read from GitHub."""
    body = {
        "id": 7,
        "name": RULESET_NAME,
        "enforcement": "active",
        "bypass_actors": ACTORS,
        "conditions": {"ref_name": {"include": ["refs/heads/release/*"], "exclude": []}},
        "rules": rules,
    } | extra
    branch_rules = [r | {"ruleset_id": 7} for r in rules]
    return BranchProtection(
        "main", None, parse_rules(branch_rules, {7: body}), bulwark_ruleset_id=7
    )


def own_body(policy: Policy, protection: BranchProtection) -> dict[str, Any]:
    body = plan(policy, protection, enforce_with="ruleset", default_branch="main").ruleset_write
    assert body is not None
    return body


def test_a_rewrite_of_bulwarks_ruleset_keeps_every_rule_and_parameter() -> None:
    body = own_body(DEFAULT_POLICY, own_ruleset(ADMIN_RULES))
    rules = {r["type"]: r.get("parameters") for r in body["rules"]}
    assert list(rules) == [
        "required_signatures",
        "pull_request",
        "required_status_checks",
        "required_linear_history",
        "non_fast_forward",
        "deletion",
    ]
    assert rules["pull_request"] == {
        "required_approving_review_count": 1,  # raised to the policy
        "dismiss_stale_reviews_on_push": True,
        "require_code_owner_review": False,
        "require_last_push_approval": True,
        "required_review_thread_resolution": True,
        "allowed_merge_methods": ["squash"],
    }
    assert rules["required_status_checks"] == {
        "strict_required_status_checks_policy": True,
        "do_not_enforce_on_create": True,
        "required_status_checks": [
            {"context": "lint", "integration_id": 9},
            {"context": "CodeQL"},
            {"context": "test"},
        ],
    }
    assert body["conditions"]["ref_name"]["include"] == ["refs/heads/release/*", "~DEFAULT_BRANCH"]


@pytest.mark.parametrize(
    ("policy", "actors"),
    [
        (DEFAULT_POLICY, []),  # the policy binds admins: nobody may skip its rules
        (replace(DEFAULT_POLICY, enforce_admins=False), ACTORS),
    ],
)
def test_bulwarks_ruleset_keeps_its_bypass_list_unless_admins_must_be_bound(
    policy: Policy, actors: list[dict[str, Any]]
) -> None:
    assert own_body(policy, own_ruleset([]))["bypass_actors"] == actors


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (
            {"ref_name": {"include": ["refs/heads/a"], "exclude": ["~DEFAULT_BRANCH", "b"]}},
            {"ref_name": {"include": ["refs/heads/a", "~DEFAULT_BRANCH"], "exclude": ["b"]}},
        ),
        ({}, {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}}),
    ],
)
def test_bulwarks_ruleset_covers_the_branch_and_keeps_its_other_conditions(
    conditions: dict[str, Any], expected: dict[str, Any]
) -> None:
    body = own_body(DEFAULT_POLICY, own_ruleset([], conditions=conditions))
    assert body["conditions"] == expected


def test_a_stricter_ruleset_is_not_lowered_and_a_pinned_check_replaces_another_apps() -> None:
    rules = [
        {
            "type": "pull_request",
            "parameters": {"required_approving_review_count": 3, "require_code_owner_review": True},
        },
        {
            "type": "required_status_checks",
            "parameters": {
                "strict_required_status_checks_policy": False,
                "required_status_checks": [{"context": "CodeQL", "integration_id": 1}],
            },
        },
    ]
    policy = replace(DEFAULT_POLICY, checks=(CheckRequirement("CodeQL", 57789),), strict=True)
    body = own_body(policy, own_ruleset(rules))
    params = {r["type"]: r.get("parameters") for r in body["rules"]}
    assert params["pull_request"]["required_approving_review_count"] == 3
    assert params["pull_request"]["require_code_owner_review"] is True
    assert params["required_status_checks"] == {
        "strict_required_status_checks_policy": True,
        "required_status_checks": [{"context": "CodeQL", "integration_id": 57789}],
    }


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (replace(GOOD, enforce_admins=False), PartialWrite(enforce_admins=True)),
        (
            replace(GOOD, required_pull_request_reviews=PullRequestReviews(0, True)),
            PartialWrite(
                reviews={
                    "required_approving_review_count": 1,
                    "dismiss_stale_reviews": True,
                    "require_code_owner_reviews": False,
                }
            ),
        ),
        (
            replace(GOOD, required_status_checks=StatusChecks(True, (StatusCheck("lint"),))),
            PartialWrite(
                status_checks={
                    "strict": True,
                    "checks": [
                        {"context": "lint", "app_id": -1},
                        {"context": "CodeQL"},
                        {"context": "test"},
                    ],
                }
            ),
        ),
        # Only the PUT turns a part on, or blocks force pushes and deletions.
        (replace(GOOD, required_pull_request_reviews=None), None),
        (replace(GOOD, required_status_checks=None), None),
        (replace(GOOD, allow_force_pushes=True), None),
        (replace(GOOD, allow_deletions=True, enforce_admins=False), None),
    ],
)
def test_partial_write_reaches_the_put_body_through_sub_endpoints(
    current: ClassicProtection, expected: PartialWrite | None
) -> None:
    result = plan(DEFAULT_POLICY, branch(current))
    assert result.classic_write is not None
    assert partial_write(current, result.classic_write) == expected


def test_a_check_that_never_reported_is_not_written_but_found() -> None:
    from bot.core.models import FindingKind
    from bot.core.plan import plan
    from bot.core.policy import Policy
    from bot.core.protection import BranchProtection, parse_rules
    from bot.core.reporting import Reported, Reporter

    reported = Reported(frozenset({Reporter("unit", 15368, "github-actions"), Reporter("CodeQL")}))
    result = plan(Policy(), BranchProtection("main", None, parse_rules([], {})), reported=reported)
    assert result.classic_write is not None
    checks = result.classic_write["required_status_checks"]["checks"]
    assert [c["context"] for c in checks] == ["CodeQL"]
    [waiting] = [f for f in result.findings if f.kind is FindingKind.CHECK_NOT_REPORTING]
    assert waiting.detail == "test" and "'unit'" in waiting.message


def test_require_unreported_writes_every_check() -> None:
    from bot.core.plan import plan
    from bot.core.policy import Policy
    from bot.core.protection import BranchProtection, parse_rules
    from bot.core.reporting import Reported

    policy = Policy(require_unreported=True)
    result = plan(policy, BranchProtection("main", None, parse_rules([], {})), reported=Reported())
    assert result.classic_write is not None
    checks = result.classic_write["required_status_checks"]["checks"]
    assert {c["context"] for c in checks} == {"CodeQL", "test"}
