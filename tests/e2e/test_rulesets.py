"""Enforcing through Bulwark's own repository ruleset: one ruleset, edited in place."""

from __future__ import annotations

from bot.cli.embedded import Embedded
from tests.fixtures import compliant_rules, install

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


def _org_ruleset(bulwark: Embedded) -> int:
    """An org ruleset on `api` that nobody may bypass; GitHub hides that list from the App."""
    body = {
        "name": "org standard",
        "enforcement": "active",
        "bypass_actors": [],
        "conditions": {
            "ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []},
            "repository_name": {"include": ["api"], "exclude": []},
        },
        "rules": compliant_rules(),
    }
    return bulwark.sandbox.state.add_ruleset("acme", "", body, org_level=True)


async def test_a_hidden_org_bypass_list_is_reported_as_unknown(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    ruleset_id = _org_ruleset(bulwark)

    await install(bulwark)

    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None and status.outcome.value == "drifted"
    assert [(f.kind.value, f.detail) for f in status.findings] == [
        ("bypass_unknown", str(ruleset_id))
    ]
    assert bulwark.sandbox.writes("acme", "api") == []
    [report] = [i for i in state.issues("acme", ".github") if i["via_app"]]
    body = report["body"].replace("\\", "")  # markdown escapes
    assert "organization_administration: write" in body
    assert "classic protection including administrators" in body


async def test_classic_protection_binds_admins_past_a_hidden_org_bypass_list(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    _org_ruleset(bulwark)
    installation_id = await install(bulwark)

    classic = state.protection("acme", "api", "main")
    assert classic is not None and classic["enforce_admins"]["enabled"] is True
    assert classic["required_pull_request_reviews"]["required_approving_review_count"] == 1
    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None and status.outcome.value == "fixed"
    assert {f.kind.value for f in status.findings} == {"bypass_unknown"}

    bulwark.sandbox.requests.clear()
    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()
    assert bulwark.sandbox.writes("acme", "api") == []  # admins are bound: nothing to prove


async def test_what_an_admin_adds_to_bulwarks_ruleset_survives_a_rewrite(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", BY_RULESET)
    state.add_repo("acme", "api")
    installation_id = await install(bulwark)
    [own] = _own(bulwark, "api")
    stored = state.repo("acme", "api").rulesets[own["id"]]

    # An admin requires signed commits and resolved threads in Bulwark's ruleset ...
    stored["rules"].append({"type": "required_signatures"})
    [pull_request] = [r for r in stored["rules"] if r["type"] == "pull_request"]
    pull_request["parameters"]["required_review_thread_resolution"] = True
    # ... and later someone lowers the approvals it asks for: drift Bulwark repairs.
    pull_request["parameters"]["required_approving_review_count"] = 0
    bulwark.sandbox.requests.clear()
    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()

    assert [w.method for w in bulwark.sandbox.writes("acme", "api")] == ["PUT"]
    [own] = _own(bulwark, "api")
    types = [r["type"] for r in own["rules"]]
    assert "required_signatures" in types
    [params] = [r["parameters"] for r in own["rules"] if r["type"] == "pull_request"]
    assert params["required_review_thread_resolution"] is True
    assert params["required_approving_review_count"] == 1
    assert bulwark.sandbox.state.violations == []
