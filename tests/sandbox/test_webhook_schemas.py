from typing import Any

import pytest

from bot.sandbox.webhook_schemas import validate_webhook, webhook_example, webhook_key

EXAMPLES = [
    ("check_run", "completed"),
    ("check_run", "created"),
    ("check_run", "rerequested"),
    ("check_run", "requested_action"),
    ("ping", None),
]


@pytest.mark.parametrize(
    ("event", "action", "key"),
    [
        ("pull_request", "opened", "pull-request-opened"),
        ("pull_request", "ready_for_review", "pull-request-ready-for-review"),
        ("check_run", "requested_action", "check-run-requested-action"),
        ("installation_repositories", "added", "installation-repositories-added"),
        ("branch_protection_configuration", "disabled", "branch-protection-configuration-disabled"),
        ("repository_ruleset", "edited", "repository-ruleset-edited"),
        ("issue_comment", "created", "issue-comment-created"),
        ("push", None, "push"),
        ("ping", None, "ping"),
    ],
)
def test_events_map_to_description_keys(event: str, action: str | None, key: str) -> None:
    assert webhook_key(event, action) == key


@pytest.mark.parametrize(("event", "action"), EXAMPLES)
def test_description_examples_validate(event: str, action: str | None) -> None:
    payload = webhook_example(event, action)
    assert payload is not None
    assert validate_webhook(event, action, payload) == []


@pytest.mark.parametrize(
    ("mangle", "fragment"),
    [
        (lambda p: p.pop("check_run"), "'check_run' is a required property"),
        (lambda p: p["check_run"].update(head_sha=123), "$.check_run.head_sha"),
        (lambda p: p["check_run"].update(status="exploded"), "'exploded'"),
    ],
)
def test_mangled_payload_is_refused(mangle: Any, fragment: str) -> None:
    payload = webhook_example("check_run", "completed")
    assert payload is not None
    mangle(payload)
    errors = validate_webhook("check_run", "completed", payload)
    assert any(fragment in error for error in errors), errors


def test_example_is_a_copy() -> None:
    first = webhook_example("ping", None)
    assert first is not None
    first.clear()
    assert webhook_example("ping", None)


def test_undescribed_event_is_refused() -> None:
    assert validate_webhook("pull_request", "exploded", {}) != []
    assert validate_webhook("deployment", "created", {}) != []
