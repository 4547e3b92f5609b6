"""End to end through signed webhooks: an org converges to the policy and stays there."""

from __future__ import annotations

from bot.cli.embedded import Embedded
from bot.clock import FakeClock
from tests.fixtures import (
    compliant_protection,
    compliant_rules,
    install,
    strong_protection,
    weak_protection,
)


def _checks(protection: dict) -> set[str]:
    return {c["context"] for c in protection["required_status_checks"]["checks"]}


async def test_installation_converges_a_mixed_org(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "bare")
    state.add_repo("acme", "weak")
    state.set_protection("acme", "weak", "main", weak_protection())
    state.add_repo("acme", "strong")
    state.set_protection("acme", "strong", "main", strong_protection())
    state.add_repo("acme", "old", archived=True)
    state.add_repo("acme", "copy", fork=True)

    await install(bulwark)

    for name in ("bare", "weak", ".github"):
        got = state.protection("acme", name, "main")
        assert got is not None, name
        assert got["required_pull_request_reviews"]["required_approving_review_count"] == 1
        assert {"CodeQL", "test"} <= _checks(got)
        assert got["enforce_admins"]["enabled"] is True
        assert got["allow_force_pushes"]["enabled"] is False
    assert bulwark.sandbox.writes("acme", "old") == []
    assert bulwark.sandbox.writes("acme", "copy") == []


async def test_stricter_settings_survive(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    strong = strong_protection(enforce_admins=False)  # one gap, everything else stricter
    state.add_repo("acme", "strong")
    state.set_protection("acme", "strong", "main", strong)

    await install(bulwark)

    got = state.protection("acme", "strong", "main")
    assert got is not None
    assert got["enforce_admins"]["enabled"] is True
    reviews = got["required_pull_request_reviews"]
    assert reviews["required_approving_review_count"] == 2
    assert reviews["dismiss_stale_reviews"] and reviews["require_code_owner_reviews"]
    assert got["required_status_checks"]["strict"] is True
    assert _checks(got) == {"CodeQL", "test", "lint"}
    pinned = [c for c in got["required_status_checks"]["checks"] if c["context"] == "CodeQL"]
    assert pinned[0]["app_id"] == 57789
    assert [u["login"] for u in got["restrictions"]["users"]] == ["alice"]
    assert got["required_linear_history"]["enabled"] is True
    assert got["required_conversation_resolution"]["enabled"] is True


async def test_second_resync_writes_nothing(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "weak")
    state.set_protection("acme", "weak", "main", weak_protection())
    installation_id = await install(bulwark)
    bulwark.sandbox.requests.clear()

    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()

    writes = [r for r in bulwark.sandbox.requests if r.method in {"PUT", "POST", "PATCH", "DELETE"}]
    assert [w for w in writes if "/protection" in w.path] == []


async def test_a_periodic_resync_asks_for_each_installation_once(bulwark: Embedded) -> None:
    installation_id = await install(bulwark)
    bulwark.sandbox.requests.clear()

    assert await bulwark.runtime.resync_all() == 1
    await bulwark.settle()

    paths = [r.path for r in bulwark.sandbox.requests]
    assert paths.count("/app/installations") == 1
    # The listing names each installation's account: no second ask per installation.
    assert f"/app/installations/{installation_id}" not in paths


async def test_deleted_protection_is_restored_after_the_webhook(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    assert state.protection("acme", "api", "main") is not None

    state.set_protection("acme", "api", "main", None)
    payload = bulwark.sandbox.payloads.branch_protection_rule(
        "deleted", "acme", "api", "main", "bob"
    )
    assert await bulwark.deliver("branch_protection_rule", payload) == 202
    await bulwark.settle()

    assert state.protection("acme", "api", "main") is not None
    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None and any(f.actor == "bob" for f in status.findings)


async def test_ruleset_only_repo_gets_no_classic_write(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "ruled")
    state.add_ruleset(
        "acme",
        "ruled",
        {
            "name": "org standard",
            "target": "branch",
            "enforcement": "active",
            "bypass_actors": [],
            "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
            "rules": compliant_rules(),
        },
    )
    await install(bulwark)
    assert bulwark.sandbox.writes("acme", "ruled") == []
    status = bulwark.runtime.statuses.get("acme/ruled")
    assert status is not None and status.outcome.value == "compliant"


async def test_report_mode_writes_nothing_and_reports(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "weak")
    state.set_protection("acme", "weak", "main", weak_protection())
    await install(bulwark)
    assert bulwark.sandbox.writes("acme", "weak") == []
    status = bulwark.runtime.statuses.get("acme/weak")
    assert status is not None and status.outcome.value == "drifted"
    kinds = {f.kind.value for f in status.findings}
    assert {"reviews_missing", "admins_not_enforced", "force_push_allowed"} <= kinds


async def test_checks_keep_their_source_through_a_write(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    sha = state.repo("acme", "api").branches["main"]
    for name, app in (("lint", 15368), ("CodeQL", 57789)):
        state.add_check_run("acme", "api", {"name": name, "head_sha": sha}, app_id=app)
    state.set_protection(
        "acme",
        "api",
        "main",
        {
            "required_status_checks": {
                "strict": False,
                "checks": [{"context": "lint", "app_id": -1}],
            },
            "enforce_admins": True,
            "required_pull_request_reviews": {"required_approving_review_count": 1},
            "restrictions": None,
        },
    )

    await install(bulwark)

    checks = {
        c["context"]: c["app_id"]
        for c in state.protection("acme", "api", "main")["required_status_checks"]["checks"]
    }
    # lint stays "any source"; the new CodeQL check is bound to the app that reports it.
    assert checks == {"lint": None, "CodeQL": 57789, "test": None}


async def test_a_failed_delivery_runs_again_when_github_redelivers_it(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    state.set_protection("acme", "api", "main", None)
    payload = bulwark.sandbox.payloads.branch_protection_rule(
        "deleted", "acme", "api", "main", "bob"
    )

    bulwark.sandbox.faults.configure(1.0, kinds=("502",))  # GitHub is down
    assert await bulwark.deliver("branch_protection_rule", payload, delivery_id="d-1") == 202
    await bulwark.settle()
    bulwark.sandbox.faults.clear()
    assert state.protection("acme", "api", "main") is None

    # The operator clicks "Redeliver" on GitHub: same delivery id, and this time it runs.
    assert await bulwark.deliver("branch_protection_rule", payload, delivery_id="d-1") == 202
    await bulwark.settle()
    assert state.protection("acme", "api", "main") is not None


async def test_a_full_resync_forgets_repositories_that_are_gone(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.add_repo("acme", "old")
    installation_id = await install(bulwark)
    assert bulwark.runtime.statuses.get("acme/old") is not None

    state.delete_repo("acme", "old")  # and the `repository.deleted` delivery was lost
    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()

    assert bulwark.runtime.statuses.get("acme/old") is None
    assert bulwark.runtime.statuses.get("acme/api") is not None


async def test_bypass_allowances_and_dismissal_restrictions_survive_a_write(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.set_protection(
        "acme",
        "api",
        "main",
        {
            "required_status_checks": None,
            "enforce_admins": False,
            "required_pull_request_reviews": {
                "required_approving_review_count": 1,
                "dismissal_restrictions": {"users": ["alice"], "teams": ["leads"]},
                "bypass_pull_request_allowances": {"users": ["release-bot"], "teams": ["sre"]},
            },
            "restrictions": {"users": ["alice"], "teams": [], "apps": ["deployer"]},
        },
    )

    await install(bulwark)

    reviews = state.protection("acme", "api", "main")["required_pull_request_reviews"]
    allowances = reviews["bypass_pull_request_allowances"]
    assert [u["login"] for u in allowances["users"]] == ["release-bot"]
    assert [t["slug"] for t in allowances["teams"]] == ["sre"]
    dismissal = reviews["dismissal_restrictions"]
    assert [u["login"] for u in dismissal["users"]] == ["alice"]
    assert [t["slug"] for t in dismissal["teams"]] == ["leads"]
    restrictions = state.protection("acme", "api", "main")["restrictions"]
    assert [a["slug"] for a in restrictions["apps"]] == ["deployer"]


async def test_a_fix_is_remembered_while_the_repo_stays_compliant(
    bulwark: Embedded, clock: FakeClock
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    installation_id = await install(bulwark)
    fixed = bulwark.runtime.statuses.get("acme/api")
    assert fixed is not None and fixed.outcome.value == "fixed"

    clock.advance(7200)
    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="later")
    await bulwark.settle()

    later = bulwark.runtime.statuses.get("acme/api")
    assert later is not None and later.outcome.value == "fixed"
    assert later.fixed_at == fixed.fixed_at and later.findings == fixed.findings


def _rule_queries(bulwark: Embedded) -> list[object]:
    """The GraphQL reads of one branch's rule (what REST cannot carry)."""
    return [
        r
        for r in bulwark.sandbox.requests
        if r.path == "/graphql" and "qualifiedName" in str((r.body or {}).get("query"))
    ]


async def test_a_required_deployment_environment_survives_the_repair(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", compliant_protection(enforce_admins=False))
    state.set_beyond_rest("acme", "api", "main", deployment_environments=["production"])

    await install(bulwark)

    stored = state.repo("acme", "api").protections["main"]
    assert stored["enforce_admins"] is True
    assert stored["required_deployment_environments"] == ["production"]
    writes = [(w.method, w.path.rsplit("/", 1)[-1]) for w in bulwark.sandbox.writes("acme", "api")]
    assert writes == [("POST", "enforce_admins")]  # the sub-endpoint, never the PUT
    assert len(_rule_queries(bulwark)) == 1
    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None and status.outcome.value == "fixed"
    assert bulwark.sandbox.state.violations == []


async def test_a_repair_only_the_put_could_make_is_reported_not_written(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", compliant_protection(allow_force_pushes=True))
    state.set_beyond_rest(
        "acme", "api", "main", deployment_environments=["production"], force_push_bypass=["bob"]
    )

    await install(bulwark)

    assert bulwark.sandbox.writes("acme", "api") == []
    stored = state.repo("acme", "api").protections["main"]
    assert stored["required_deployment_environments"] == ["production"]
    assert stored["force_push_bypass"] == ["bob"]
    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None and status.outcome.value == "drifted"
    [finding] = status.findings
    assert finding.kind.value == "force_push_allowed"
    assert "Bulwark did not write" in finding.remedy
    assert "required deployment environments (production)" in finding.remedy
    assert "force-push bypass allowances (1)" in finding.remedy


async def test_the_rule_is_read_only_when_a_classic_write_is_about_to_happen(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", compliant_protection())
    state.set_beyond_rest("acme", "api", "main", deployment_environments=["production"])
    state.add_repo("acme", "bare")

    await install(bulwark)

    assert _rule_queries(bulwark) == []  # compliant, and unprotected (nothing to drop)
    assert state.protection("acme", "bare", "main") is not None
