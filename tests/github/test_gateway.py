import base64

import pytest

from bot.clock import FakeClock
from bot.github.errors import (
    Forbidden,
    GitHubError,
    Gone,
    Invalid,
    NotSupported,
    ProtectionDisabled,
    QueryFailed,
)
from bot.github.gateway import Gateway
from tests.github.scripted import reply, scripted

NOW = 1_800_000_000
PLAN = "Upgrade to GitHub Pro or make this repository public to enable this feature."


def gateway(*responses, clock=None) -> Gateway:
    return Gateway(scripted(list(responses), clock), "https://api.test/graphql")


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (403, PLAN, NotSupported),
        (404, "Branch protection has been disabled on this repository", ProtectionDisabled),
        (403, "Repository was archived so is read-only.", Forbidden),
        (403, "Resource not accessible by integration", Forbidden),
        (410, "Issues are disabled for this repo", Gone),
        (422, "Validation Failed", Invalid),
    ],
)
async def test_failures_become_domain_errors(status, message, error):
    gw = gateway(reply(status, {"message": message, "errors": [{"code": "invalid"}]}))
    with pytest.raises(error) as caught:
        await gw.put_branch_protection("o", "r", "main", {"enforce_admins": True})
    assert caught.value.status == status
    assert caught.value.message.startswith(message)


async def test_archived_flag_is_set_only_for_archived_repositories():
    gw = gateway(
        reply(403, {"message": "Repository was archived so is read-only."}),
        reply(403, {"message": "Resource not accessible by integration"}),
    )
    with pytest.raises(Forbidden) as archived:
        await gw.create_issue("o", "r", "t", "b", [])
    with pytest.raises(Forbidden) as other:
        await gw.create_issue("o", "r", "t", "b", [])
    assert (archived.value.archived, other.value.archived) == (True, False)


async def test_invalid_carries_githubs_errors():
    errors = [{"resource": "Label", "code": "custom", "message": "bad colour"}]
    gw = gateway(reply(422, {"message": "Validation Failed", "errors": errors}))
    with pytest.raises(Invalid) as caught:
        await gw.create_label("o", "r", "x", "zzz", "d")
    assert caught.value.errors == errors


async def test_errors_never_carry_the_token():
    gw = gateway(reply(403, {"message": "Resource not accessible by integration"}))
    with pytest.raises(GitHubError) as caught:
        await gw.repo("o", "r")
    assert "ghs_fixed" not in repr(caught.value) + str(caught.value.__dict__)


async def test_unprotected_branch_is_none():
    gw = gateway(reply(404, {"message": "Branch not protected"}))
    assert await gw.branch_protection("o", "r", "release/1.0") is None
    method, url, _, _ = gw.client.requests[0]
    assert (method, url) == ("GET", "https://api.test/repos/o/r/branches/release%2F1.0/protection")


async def test_existing_label_is_returned_on_already_exists():
    existing = {"name": "repo-protection", "color": "d73a4a"}
    gw = gateway(
        reply(422, {"message": "Validation Failed", "errors": [{"code": "already_exists"}]}),
        reply(200, existing),
    )
    assert await gw.create_label("o", "r", "repo-protection", "ffffff", "d") == existing


async def test_file_text_is_decoded_and_read_at_the_given_ref():
    content = base64.b64encode(b"mode: report\n").decode()
    gw = gateway(reply(200, {"type": "file", "encoding": "base64", "content": content}))
    text = await gw.file_text("o", ".github", ".github/repo-protection.yml", ref="main")
    assert text == "mode: report\n"
    url = gw.client.requests[0][1]
    assert url == "https://api.test/repos/o/.github/contents/.github/repo-protection.yml?ref=main"


async def test_missing_file_is_none():
    gw = gateway(reply(404, {"message": "Not Found"}))
    assert await gw.file_text("o", "r", "x.yml") is None


async def test_lists_follow_every_page():
    nxt = '<https://api.test/repos/o/r/branches?per_page=100&page=2>; rel="next"'
    gw = gateway(reply(200, [{"name": "a"}], link=nxt), reply(200, [{"name": "b"}]))
    assert [b["name"] for b in await gw.branches("o", "r")] == ["a", "b"]
    assert gw.client.requests[1][1].endswith("page=2")


async def test_issues_leave_out_pull_requests():
    found = [{"number": 1}, {"number": 2, "pull_request": {}}]
    gw = gateway(reply(200, found))
    assert await gw.issues("o", "r", labels=["repo-protection"]) == [{"number": 1}]
    assert "labels=repo-protection" in gw.client.requests[0][1]


async def test_permission_is_the_role_name():
    gw = gateway(reply(200, {"permission": "write", "role_name": "maintain"}))
    assert await gw.permission("o", "r", "octocat") == "maintain"


async def test_graphql_errors_raise():
    gw = gateway(reply(200, {"errors": [{"message": "Field 'x' doesn't exist"}]}))
    with pytest.raises(QueryFailed, match="doesn't exist"):
        await gw.graphql("query { x }")


async def test_graphql_primary_limit_waits_for_reset_and_retries():
    clock = FakeClock(NOW)
    headers = {
        "x_ratelimit_limit": "5000",
        "x_ratelimit_remaining": "0",
        "x_ratelimit_reset": str(NOW + 40),
    }
    limited = reply(200, {"errors": [{"type": "RATE_LIMITED", "message": "limit"}]}, **headers)
    gw = gateway(limited, reply(200, {"data": {"viewer": {"login": "b"}}}), clock=clock)
    assert await gw.graphql("query { viewer { login } }") == {"viewer": {"login": "b"}}
    assert clock.sleeps == [41.0]
    assert gw.client.requests[1][1] == "https://api.test/graphql"


@pytest.mark.parametrize(
    ("name", "query"),
    [(None, "?per_page=100"), ("CodeQL", "?per_page=100&check_name=CodeQL")],
)
async def test_paged_urls_have_one_query(name, query):
    gw = gateway(reply(200, {"total_count": 0, "check_runs": []}))
    await gw.check_runs_for_ref("o", "r", "main", name)
    assert gw.client.requests[0][1] == "https://api.test/repos/o/r/commits/main/check-runs" + query


async def test_issue_lists_ask_for_full_pages():
    gw = gateway(reply(200, []))
    await gw.issues("o", "r", labels=["repo-protection"])
    url = gw.client.requests[0][1]
    assert url.count("?") == 1
    assert "per_page=100" in url
    assert "labels=repo-protection" in url


async def test_no_rulesets_api_means_no_rulesets():
    # GitHub Enterprise Server before 3.11 answers 404 on every rulesets route.
    gw = gateway(reply(404, {"message": "Not Found"}), reply(404, {"message": "Not Found"}))
    assert await gw.rules_for_branch("o", "r", "main") == []
    assert await gw.repo_rulesets("o", "r") == []


async def test_graphql_answer_keeps_partial_data_and_errors():
    error = {"type": "FORBIDDEN", "path": ["repository", "x"], "message": "Resource not accessible"}
    gw = gateway(reply(200, {"data": {"repository": None}, "errors": [error]}))
    answer = await gw.graphql_answer("query { repository { x } }")
    assert answer.data == {"repository": None}
    assert answer.errors == (error,)


async def test_graphql_answer_of_a_timeout_has_no_data():
    message = "Something went wrong while executing your query. This may be the result of a timeout"
    gw = gateway(reply(200, {"data": None, "errors": [{"message": message}]}))
    answer = await gw.graphql_answer("query { viewer { login } }")
    assert answer.data is None and answer.errors[0]["message"] == message
