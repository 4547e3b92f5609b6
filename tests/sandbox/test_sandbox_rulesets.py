"""Ruleset conditions match as GitHub's do: `*` stops at `/`; repositories by name or id."""

from __future__ import annotations

from bot.sandbox.state import State

RULES = [{"type": "deletion"}]


def ruleset(include: list[str], **conditions: object) -> dict:
    return {
        "name": "r",
        "enforcement": "active",
        "conditions": {"ref_name": {"include": include, "exclude": []}, **conditions},
        "rules": RULES,
    }


def test_a_star_does_not_cross_a_slash() -> None:
    state = State()
    repo = state.add_repo("acme", "api", branches=("main", "feature/x", "feature"))
    state.add_ruleset("acme", "api", ruleset(["refs/heads/*"]))
    assert state.rules_for_branch(repo, "feature")
    assert state.rules_for_branch(repo, "feature/x") == []


def test_org_rulesets_select_repositories_by_id() -> None:
    state = State()
    chosen = state.add_repo("acme", "api")
    other = state.add_repo("acme", "web")
    by_id = {"repository_id": {"repository_ids": [chosen.id]}}
    state.add_ruleset("acme", "api", ruleset(["~DEFAULT_BRANCH"], **by_id), org_level=True)
    assert state.rules_for_branch(chosen, "main")
    assert state.rules_for_branch(other, "main") == []
