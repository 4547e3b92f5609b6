import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.openapi import Match, RestSpec, load_rest_spec, match, validate

PROTECTION = "/repos/acme/api/branches/main/protection"
TEMPLATE = "/repos/{owner}/{repo}/branches/{branch}/protection"
RECORDED = Path("/work/shared/github/recorded/branch-protection.json")


def protection_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "required_status_checks": {"strict": False, "checks": [{"context": "CodeQL"}]},
        "enforce_admins": True,
        "required_pull_request_reviews": {"required_approving_review_count": 1},
        "restrictions": None,
    }
    body.update(overrides)
    return body


def message(body: Any, method: str = "PUT", path: str = PROTECTION) -> str:
    problem = validate(method, path, {}, body)
    assert problem is not None and problem.status == 422
    assert problem.body["status"] == "422"
    return problem.body["message"]


def test_protection_with_checks_only_is_accepted() -> None:
    assert validate("PUT", PROTECTION, {}, protection_body()) is None


def test_protection_with_contexts_only_is_accepted() -> None:
    checks = {"strict": True, "contexts": ["test"]}
    assert validate("PUT", PROTECTION, {}, protection_body(required_status_checks=checks)) is None


def test_protection_with_null_status_checks_is_accepted() -> None:
    assert validate("PUT", PROTECTION, {}, protection_body(required_status_checks=None)) is None


def test_protection_without_restrictions_is_refused() -> None:
    body = protection_body()
    del body["restrictions"]
    assert message(body) == 'Invalid request.\n\n"restrictions" wasn\'t supplied.'


def test_protection_with_contexts_and_checks_is_refused() -> None:
    checks = {"strict": True, "contexts": ["test"], "checks": [{"context": "test"}]}
    text = message(protection_body(required_status_checks=checks))
    assert text == 'Invalid request.\n\nMore than one subschema in "oneOf" matched.'


def test_protection_with_neither_contexts_nor_checks_is_refused() -> None:
    text = message(protection_body(required_status_checks={"strict": True}))
    assert text.startswith('Invalid request.\n\nNo subschema in "oneOf" matched.')
    assert '"checks" wasn\'t supplied.' in text


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"enforce_admins": "yes"}, '"yes" is not a boolean or null'),
        (
            {
                "required_status_checks": {
                    "strict": True,
                    "checks": [{"context": "t", "app_id": "1"}],
                }
            },
            '"1" is not an integer',
        ),
        (
            {
                "required_status_checks": {
                    "strict": True,
                    "checks": [{"context": "t", "app_id": 1.5}],
                }
            },
            "1.5 is not an integer",
        ),
        ({"required_pull_request_reviews": {"required_approving_review_count": "1"}}, "integer"),
        ({"restrictions": "nobody"}, '"nobody" is not an object or null'),
    ],
)
def test_protection_with_wrong_types_is_refused(override: dict[str, Any], fragment: str) -> None:
    assert fragment in message(protection_body(**override))


def test_missing_required_body_is_refused() -> None:
    assert "nil is not an object" in message(None)


def test_error_names_the_operation_docs() -> None:
    problem = validate("PUT", PROTECTION, {}, {})
    assert problem is not None
    assert problem.body["documentation_url"].endswith("#update-branch-protection")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/repos/acme/api/nothing-here"),
        ("GET", "/enterprise/settings"),
        ("POST", "/repos/acme/api"),
        ("PATCH", PROTECTION),
        ("GET", "/repos/acme/api/issues/not-a-number"),
    ],
)
def test_unknown_paths_and_methods_answer_not_found(method: str, path: str) -> None:
    problem = validate(method, path, {}, None)
    assert problem is not None and problem.status == 404
    assert problem.body == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }


def test_body_on_a_get_is_ignored() -> None:
    assert validate("GET", PROTECTION, {}, {"anything": 1}) is None


@pytest.mark.parametrize(
    ("method", "path", "template", "params"),
    [
        ("GET", "/repos/acme/api/branches/release%2F1.0/protection", TEMPLATE, "release/1.0"),
        ("GET", "/repos/acme/api/branches/release/1.0/protection", TEMPLATE, "release/1.0"),
        (
            "POST",
            "/repos/acme/api/branches/release/1.0/protection/enforce_admins",
            f"{TEMPLATE}/enforce_admins",
            "release/1.0",
        ),
        (
            "GET",
            "/repos/acme/api/branches/release/1.0",
            "/repos/{owner}/{repo}/branches/{branch}",
            "release/1.0",
        ),
        ("GET", "/repos/acme/api/branches/main", "/repos/{owner}/{repo}/branches/{branch}", "main"),
        (
            "GET",
            "/repos/acme/api/rules/branches/feature/x",
            "/repos/{owner}/{repo}/rules/branches/{branch}",
            "feature/x",
        ),
    ],
)
def test_branch_names_may_hold_slashes(method: str, path: str, template: str, params: str) -> None:
    found = match(method, path)
    assert found is not None
    assert (found.template, found.params) == (
        template,
        {"owner": "acme", "repo": "api", "branch": params},
    )


def test_contents_path_spans_segments() -> None:
    found = match("GET", "/repos/acme/.github/contents/.github/repo-protection.yml?ref=main")
    assert found == Match(
        "repos/get-content",
        "/repos/{owner}/{repo}/contents/{path}",
        {"owner": "acme", "repo": ".github", "path": ".github/repo-protection.yml"},
    )


def test_literal_segments_win_over_parameters() -> None:
    found = match("GET", "/repos/acme/api/issues/comments/7")
    assert found is not None and found.operation_id == "issues/get-comment"
    assert found.params["comment_id"] == "7"


def test_integer_path_parameters_must_be_numbers() -> None:
    assert match("GET", "/repos/acme/api/pulls/12") is not None
    assert match("GET", "/repos/acme/api/pulls/twelve") is None


def test_required_query_parameters_are_checked() -> None:
    spec = load_rest_spec()
    document = json.loads(json.dumps(spec.document))
    operation = document["paths"]["/rate_limit"]["get"]
    operation["parameters"] = [{"name": "q", "in": "query", "required": True, "schema": {}}]
    strict = RestSpec(document)
    problem = strict.validate("GET", "/rate_limit", {}, None)
    assert problem is not None and problem.status == 422
    assert '"q" wasn\'t supplied.' in problem.body["message"]
    assert strict.validate("GET", "/rate_limit", {"q": "x"}, None) is None


@pytest.mark.parametrize(
    ("method", "template", "status"),
    [
        ("put", TEMPLATE, 200),
        ("get", "/repos/{owner}/{repo}/rules/branches/{branch}", 200),
        ("get", "/repos/{owner}/{repo}/rulesets/{ruleset_id}", 200),
        ("post", "/repos/{owner}/{repo}/rulesets", 201),
        ("get", "/repos/{owner}/{repo}/branches/{branch}", 200),
        ("get", "/rate_limit", 200),
    ],
)
def test_description_examples_fit_their_schemas(method: str, template: str, status: int) -> None:
    spec = load_rest_spec()
    assert (
        spec.response_errors(method, template, status, spec.example(method, template, status)) == []
    )


def test_response_missing_a_required_key_is_reported() -> None:
    spec = load_rest_spec()
    answer = spec.example("get", "/repos/{owner}/{repo}/rulesets/{ruleset_id}", 200)
    del answer["enforcement"]
    errors = spec.response_errors("get", "/repos/{owner}/{repo}/rulesets/{ruleset_id}", 200, answer)
    assert '"enforcement" wasn\'t supplied.' in errors


@pytest.mark.skipif(not RECORDED.exists(), reason="needs GitHub's recorded fixtures")
def test_recorded_requests_are_valid() -> None:
    for exchange in json.loads(RECORDED.read_text()):
        body = exchange["body"] or None
        assert validate(exchange["method"].upper(), exchange["path"], {}, body) is None


SOURCE = Path("/work/shared/github/api.github.com.json.gz")


@pytest.mark.skipif(not SOURCE.exists(), reason="needs GitHub's full description")
def test_packaged_spec_is_what_the_script_generates(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    script = runpy.run_path(str(root / "scripts" / "trim_spec.py"))
    assert script["main"](["--out", str(tmp_path)]) == 0
    for name in ("rest.json.gz", "webhooks.json.gz", "schema.graphql.gz"):
        packaged = root / "bot" / "sandbox" / "spec" / name
        assert (tmp_path / name).read_bytes() == packaged.read_bytes(), name
