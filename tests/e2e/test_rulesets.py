"""Enforcing through Bulwark's own repository ruleset: one ruleset, edited in place."""

from __future__ import annotations

from bot.cli.embedded import Embedded
from tests.fixtures import install

BY_RULESET = "enforce_with: ruleset\n"


def _own(bulwark: Embedded, repo: str) -> list[dict]:
    return [
        r for r in bulwark.sandbox.state.rulesets("acme", repo) if r["name"] == "Bulwark policy"
    ]


async def test_org_policy_enforces_through_one_ruleset(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", BY_RULESET)
    state.add_repo("acme", "api")
    installation_id = await install(bulwark)

    assert len(_own(bulwark, "api")) == 1
    assert state.protection("acme", "api", "main") is None  # no classic write

    # Weaken the ruleset by hand: the next resync edits it in place, no second one.
    ruleset = _own(bulwark, "api")[0]
    state.repo("acme", "api").rulesets[ruleset["id"]]["rules"] = []
    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()

    own = _own(bulwark, "api")
    assert len(own) == 1 and own[0]["id"] == ruleset["id"]
    assert {r["type"] for r in own[0]["rules"]} >= {"pull_request", "required_status_checks"}


async def test_a_lost_answer_to_creating_the_ruleset_leaves_one(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", BY_RULESET)
    state.add_repo("acme", "api")
    bulwark.sandbox.faults.configure(1.0, kinds=("lost",), methods=("POST",), limit=1)
    bulwark.sandbox.faults.exempt(["/app/installations/{installation_id}/access_tokens"])
    installation_id = await install(bulwark)
    bulwark.sandbox.faults.clear()

    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()
    assert len(_own(bulwark, "api")) == 1


async def test_one_ruleset_covers_every_protected_branch(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    policy = "enforce_with: ruleset\nbranches: [default, 'release/*']\n"
    state.add_file("acme", ".github", ".github/repo-protection.yml", policy)
    state.add_repo("acme", "api", branches=("main", "release/1", "release/2"))
    installation_id = await install(bulwark)

    [own] = _own(bulwark, "api")
    include = set(own["conditions"]["ref_name"]["include"])
    assert include == {"~DEFAULT_BRANCH", "refs/heads/release/1", "refs/heads/release/2"}
    for branch in ("main", "release/1", "release/2"):
        rules = state.rules_for_branch(state.repo("acme", "api"), branch)
        assert {r["type"] for r in rules} >= {"pull_request", "required_status_checks"}, branch

    bulwark.sandbox.requests.clear()
    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()
    assert bulwark.sandbox.writes("acme", "api") == []  # converged: nothing rewritten
