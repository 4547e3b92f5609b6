"""Branch protection, rules and rulesets as GitHub answers them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from tests.manifest import APP_PERMISSIONS

PATH = "/repos/acme/web/branches/main/protection"
BODY: dict[str, Any] = {
    "required_status_checks": {
        "strict": False,
        "checks": [{"context": "CodeQL"}, {"context": "test", "app_id": 15368}],
    },
    "enforce_admins": True,
    "required_pull_request_reviews": {"required_approving_review_count": 1},
    "restrictions": None,
}


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    sb.state.add_org("acme")
    sb.state.add_repo("acme", "web", branches=("main", "release/1.0"))
    sb.state.add_org("free", plan="free")
    sb.state.add_repo("free", "closed", private=True)
    sb.state.add_repo("free", "open")
    await sb.start()
    yield sb
    await sb.stop()


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    sandbox.state.install("acme")
    sandbox.state.install("free")
    tokens = [sandbox.state.create_token(i).token for i in sandbox.state.installations]
    # One token per org: route by owner in the request helper below.
    async with aiohttp.ClientSession(sandbox.url) as session:
        session.headers["Authorization"] = f"token {tokens[0]}"
        session.free_token = tokens[1]  # type: ignore[attr-defined]
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    headers = {}
    if path.startswith("/repos/free/"):
        headers["Authorization"] = f"token {http.free_token}"  # type: ignore[attr-defined]
    async with http.request(method, path, json=body, headers=headers) as response:
        text = await response.text()
        return response.status, (await response.json() if text else None)


async def test_unprotected_branch_answers_404(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", PATH)
    assert status == 404
    assert body == {
        "message": "Branch not protected",
        "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection",
        "status": "404",
    }


async def test_put_then_get_has_githubs_shape(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, _ = await call(http, "PUT", PATH, BODY)
    assert status == 200
    status, body = await call(http, "GET", PATH)
    assert status == 200
    assert body["enforce_admins"] == {"url": f"{sandbox.url}{PATH}/enforce_admins", "enabled": True}
    assert body["required_status_checks"]["contexts"] == ["CodeQL", "test"]
    assert body["required_status_checks"]["checks"] == [
        {"context": "CodeQL", "app_id": None},
        {"context": "test", "app_id": 15368},
    ]
    assert body["allow_force_pushes"] == {"enabled": False}
    assert body["required_pull_request_reviews"]["required_approving_review_count"] == 1
    assert "restrictions" not in body
    assert sandbox.state.protection("acme", "web", "main") == body


async def test_delete_removes_protection(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sandbox.state.set_protection("acme", "web", "main", BODY)
    status, _ = await call(http, "DELETE", PATH)
    assert status == 204
    assert sandbox.state.protection("acme", "web", "main") is None


async def test_put_keeps_required_signatures(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sandbox.state.set_protection("acme", "web", "main", BODY)
    assert (await call(http, "POST", PATH + "/required_signatures"))[0] == 200
    await call(http, "PUT", PATH, BODY)
    protection = sandbox.state.protection("acme", "web", "main")
    assert protection is not None and protection["required_signatures"]["enabled"] is True


async def test_branch_with_a_slash(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    status, _ = await call(http, "PUT", "/repos/acme/web/branches/release/1.0/protection", BODY)
    assert status == 200
    assert sandbox.state.protection("acme", "web", "release/1.0") is not None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b.pop("restrictions"), id="no-restrictions"),
        pytest.param(
            lambda b: b["required_status_checks"].update(contexts=["CodeQL"]),
            id="contexts-and-checks",
        ),
        pytest.param(lambda b: b["required_status_checks"].pop("checks"), id="neither"),
    ],
)
async def test_invalid_put_is_422(
    sandbox: Sandbox, http: aiohttp.ClientSession, change: Any
) -> None:
    body = {**BODY, "required_status_checks": dict(BODY["required_status_checks"])}
    change(body)
    status, answer = await call(http, "PUT", PATH, body)
    assert status == 422, answer
    assert sandbox.state.protection("acme", "web", "main") is None


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_free_plan_private_repo_is_403(http: aiohttp.ClientSession, method: str) -> None:
    status, body = await call(http, method, "/repos/free/closed/branches/main/protection", BODY)
    assert status == 403
    assert (
        body["message"]
        == "Upgrade to GitHub Pro or make this repository public to enable this feature."
    )


async def test_free_plan_public_repo_can_be_protected(http: aiohttp.ClientSession) -> None:
    status, _ = await call(http, "PUT", "/repos/free/open/branches/main/protection", BODY)
    assert status == 200


async def test_free_plan_private_rulesets_are_403(http: aiohttp.ClientSession) -> None:
    status, _ = await call(http, "GET", "/repos/free/closed/rulesets")
    assert status == 403


async def test_archived_repo_refuses_writes(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sandbox.state.archive_repo("acme", "web")
    status, body = await call(http, "PUT", PATH, BODY)
    assert (status, body["message"]) == (403, "Repository was archived so is read-only.")
    assert (await call(http, "GET", PATH))[0] == 404


async def test_protection_disabled(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sandbox.state.add_repo("acme", "locked", protection_disabled=True)
    status, body = await call(http, "PUT", "/repos/acme/locked/branches/main/protection", BODY)
    assert (status, body["message"]) == (
        404,
        "Branch protection has been disabled on this repository",
    )


@pytest.mark.parametrize("suffix", ["", "/enforce_admins", "/required_status_checks"])
async def test_protection_disabled_answers_the_get_too(
    sandbox: Sandbox, http: aiohttp.ClientSession, suffix: str
) -> None:
    sandbox.state.add_repo("acme", "locked", protection_disabled=True)
    path = "/repos/acme/locked/branches/main/protection" + suffix
    status, body = await call(http, "GET", path)
    assert (status, body["message"]) == (
        404,
        "Branch protection has been disabled on this repository",
    )


async def test_enforce_admins_sub_resource(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sandbox.state.set_protection("acme", "web", "main", {**BODY, "enforce_admins": False})
    assert (await call(http, "POST", PATH + "/enforce_admins"))[1]["enabled"] is True
    assert (await call(http, "DELETE", PATH + "/enforce_admins"))[0] == 204
    assert (await call(http, "GET", PATH + "/enforce_admins"))[1]["enabled"] is False


RULES = [{"type": "pull_request", "parameters": {"required_approving_review_count": 1}}]


async def test_rules_for_branch_skip_evaluate_and_unmatched(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.state
    main_only = {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}}
    active = state.add_ruleset(
        "acme", "web", {"name": "a", "conditions": main_only, "rules": RULES}
    )
    state.add_ruleset(
        "acme",
        "web",
        {
            "name": "e",
            "enforcement": "evaluate",
            "conditions": main_only,
            "rules": [{"type": "deletion"}],
        },
    )
    state.add_ruleset(
        "acme",
        "web",
        {
            "name": "r",
            "rules": [{"type": "non_fast_forward"}],
            "conditions": {"ref_name": {"include": ["refs/heads/release/*"], "exclude": []}},
        },
    )
    org = state.add_ruleset(
        "acme",
        "",
        {
            "name": "o",
            "rules": [{"type": "required_signatures"}],
            "conditions": {
                "ref_name": {"include": ["~ALL"], "exclude": []},
                "repository_name": {"include": ["~ALL"], "exclude": []},
            },
        },
        org_level=True,
    )
    status, rules = await call(http, "GET", "/repos/acme/web/rules/branches/main")
    assert status == 200
    assert [(r["type"], r["ruleset_id"], r["ruleset_source_type"]) for r in rules] == [
        ("pull_request", active, "Repository"),
        ("required_signatures", org, "Organization"),
    ]
    assert rules[0]["ruleset_source"] == "acme/web"
    status, rules = await call(http, "GET", "/repos/acme/web/rules/branches/release/1.0")
    assert {r["type"] for r in rules} == {"non_fast_forward", "required_signatures"}


async def test_ruleset_detail_has_bypass_actors(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    actors = [{"actor_id": sandbox.app_id, "actor_type": "Integration", "bypass_mode": "always"}]
    ruleset = sandbox.state.add_ruleset(
        "acme", "web", {"name": "a", "bypass_actors": actors, "rules": RULES}
    )
    status, body = await call(http, "GET", f"/repos/acme/web/rulesets/{ruleset}")
    assert status == 200
    assert body["bypass_actors"] == actors
    assert body["current_user_can_bypass"] == "always"
    assert body["enforcement"] == "active"


async def test_collaborator_permission(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    state = sandbox.state
    state.add_collaborator("acme", "web", "mia", "maintain")
    state.add_user("nobody")
    state.add_org_owner("acme", "boss")
    answers = {}
    for login in ("mia", "nobody", "boss"):
        status, body = await call(http, "GET", f"/repos/acme/web/collaborators/{login}/permission")
        assert status == 200
        answers[login] = (body["permission"], body["role_name"])
    assert answers == {
        "mia": ("write", "maintain"),
        "nobody": ("none", "none"),
        "boss": ("admin", "admin"),
    }


async def test_contents_respect_ref(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    import base64

    sandbox.state.add_file("acme", "web", ".github/x.yml", "main: 1\n")
    sandbox.state.add_file("acme", "web", ".github/x.yml", "rel: 1\n", branch="release/1.0")
    status, body = await call(http, "GET", "/repos/acme/web/contents/.github/x.yml")
    assert (status, body["encoding"]) == (200, "base64")
    assert base64.b64decode(body["content"]).decode() == "main: 1\n"
    status, body = await call(http, "GET", "/repos/acme/web/contents/.github/x.yml?ref=release/1.0")
    assert base64.b64decode(body["content"]).decode() == "rel: 1\n"
    assert (await call(http, "GET", "/repos/acme/web/contents/missing.yml"))[0] == 404


RULE_QUERY = """
query($ref: String!) { repository(owner: "acme", name: "web") {
  ref(qualifiedName: $ref) { branchProtectionRule {
    requiresDeployments requiredDeploymentEnvironments
    bypassForcePushAllowances(first: 1) { totalCount } } } } }
"""


async def _rule(http: aiohttp.ClientSession) -> Any:
    status, body = await call(
        http, "POST", "/graphql", {"query": RULE_QUERY, "variables": {"ref": "refs/heads/main"}}
    )
    assert status == 200 and "errors" not in body, body
    return body["data"]["repository"]["ref"]["branchProtectionRule"]


def _beyond_rest(sandbox: Sandbox) -> None:
    sandbox.state.set_protection("acme", "web", "main", BODY)
    sandbox.state.set_beyond_rest(
        "acme", "web", "main", deployment_environments=["prod"], force_push_bypass=["bob"]
    )


async def test_graphql_shows_what_rest_cannot_carry(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    _beyond_rest(sandbox)
    assert await _rule(http) == {
        "requiresDeployments": True,
        "requiredDeploymentEnvironments": ["prod"],
        "bypassForcePushAllowances": {"totalCount": 1},
    }


async def test_a_put_drops_what_its_body_cannot_carry(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    _beyond_rest(sandbox)
    assert (await call(http, "PUT", PATH, BODY))[0] == 200
    rule = await _rule(http)
    assert rule["requiredDeploymentEnvironments"] == []
    assert rule["bypassForcePushAllowances"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("suffix", "body", "field", "value"),
    [
        (
            "/required_pull_request_reviews",
            {"required_approving_review_count": 2, "dismiss_stale_reviews": True},
            "required_approving_review_count",
            2,
        ),
        ("/required_status_checks", {"strict": True, "checks": [{"context": "x"}]}, "strict", True),
    ],
)
async def test_sub_endpoints_change_one_part_and_keep_the_rest(
    sandbox: Sandbox, http: aiohttp.ClientSession, suffix: str, body: Any, field: str, value: Any
) -> None:
    _beyond_rest(sandbox)
    status, answer = await call(http, "PATCH", PATH + suffix, body)
    assert (status, answer[field]) == (200, value)
    rule = await _rule(http)
    assert rule["requiredDeploymentEnvironments"] == ["prod"]
    assert rule["bypassForcePushAllowances"]["totalCount"] == 1
    assert sandbox.state.protection("acme", "web", "main")["enforce_admins"]["enabled"] is True
    assert sandbox.state.violations == []


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("/required_pull_request_reviews", "Pull request reviews not enabled"),
        ("/required_status_checks", "Required status checks not enabled"),
    ],
)
async def test_sub_endpoints_answer_404_where_the_part_is_off(
    sandbox: Sandbox, http: aiohttp.ClientSession, suffix: str, message: str
) -> None:
    off = {**BODY, "required_status_checks": None, "required_pull_request_reviews": None}
    sandbox.state.set_protection("acme", "web", "main", off)
    status, answer = await call(http, "PATCH", PATH + suffix, {})
    assert (status, answer["message"]) == (404, message)
