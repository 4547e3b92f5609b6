"""Every event and action GitHub can send reaches a running Bulwark and is handled or ignored.

The event/action pairs come from GitHub's webhook descriptions packaged in
`bot/sandbox/spec/webhooks.json.gz` (the events Bulwark subscribes to); the other
event names are real GitHub events Bulwark never subscribes to. Each delivery is
signed and sent to Bulwark running against the sandbox; the job must finish
without error, and an event Bulwark does not handle must not write to GitHub.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from gidgethub.sansio import Event

from bot.cli.embedded import Embedded
from bot.handlers import router
from bot.sandbox.app import WRITE_METHODS
from bot.sandbox.webhook_schemas import _keys, webhook_example
from tests.fixtures import install, weak_protection

# Real GitHub webhook events outside Bulwark's subscription, with a typical action.
# https://docs.github.com/en/webhooks/webhook-events-and-payloads
OTHER_EVENTS: list[tuple[str, str | None]] = [
    ("star", "created"),
    ("watch", "started"),
    ("fork", None),
    ("release", "published"),
    ("workflow_run", "completed"),
    ("workflow_job", "queued"),
    ("workflow_dispatch", None),
    ("deployment", "created"),
    ("deployment_status", "created"),
    ("create", None),
    ("delete", None),
    ("issues", "opened"),
    ("label", "created"),
    ("member", "added"),
    ("membership", "added"),
    ("organization", "member_added"),
    ("team", "created"),
    ("team_add", None),
    ("public", None),
    ("gollum", None),
    ("status", None),
    ("pull_request_review", "submitted"),
    ("pull_request_review_comment", "created"),
    ("pull_request_review_thread", "resolved"),
    ("discussion", "created"),
    ("discussion_comment", "created"),
    ("merge_group", "checks_requested"),
    ("code_scanning_alert", "created"),
    ("secret_scanning_alert", "created"),
    ("dependabot_alert", "created"),
    ("security_advisory", "published"),
    ("repository_vulnerability_alert", "create"),
    ("package", "published"),
    ("registry_package", "published"),
    ("project", "created"),
    ("projects_v2_item", "edited"),
    ("milestone", "created"),
    ("meta", "deleted"),
    ("github_app_authorization", "revoked"),
    ("installation_target", "renamed"),
    ("marketplace_purchase", "purchased"),
    ("sponsorship", "created"),
    ("commit_comment", "created"),
    ("page_build", None),
    ("deploy_key", "created"),
    ("custom_property_values", "updated"),
    ("repository_dispatch", "sample.collected"),
    ("repository_import", None),
    ("personal_access_token_request", "created"),
]


def described_pairs() -> list[tuple[str, str | None]]:
    """Every event/action pair in the packaged webhook descriptions."""
    return sorted(_keys(), key=lambda pair: (pair[0], pair[1] or ""))


def handled(event: str, action: str | None) -> bool:
    data: dict[str, Any] = {} if action is None else {"action": action}
    return bool(router.fetch(Event(data, event=event, delivery_id="x")))


def errors(bulwark: Embedded) -> float:
    """Return how many jobs failed, read from the metrics registry."""
    total = 0.0
    for metric in bulwark.metrics.jobs.collect():
        for sample in metric.samples:
            if sample.labels.get("outcome") == "error" and sample.name.endswith("_total"):
                total += sample.value
    return total


def aimed_at_the_sandbox(bulwark: Embedded, example: dict[str, Any] | None) -> dict[str, Any]:
    """Return GitHub's example payload with its account, repository and installation ours."""
    state = bulwark.sandbox.state
    payload = copy.deepcopy(example or {})
    common = bulwark.sandbox.payloads._common(state.repo("acme", "api"), "bob")
    for key in ("installation", "repository", "organization", "sender"):
        payload[key] = common[key]
    return payload


@pytest.fixture
async def org(bulwark: Embedded) -> int:
    """An installed org in report mode with one drifted repository."""
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    installation_id = await install(bulwark)
    bulwark.sandbox.requests.clear()
    return installation_id


async def test_the_description_lists_the_subscribed_events() -> None:
    events = {event for event, _ in described_pairs()}
    assert {"pull_request", "check_run", "issue_comment", "push", "installation"} <= events
    assert len(described_pairs()) >= 50


async def test_every_described_event_and_action_is_accepted_and_runs_cleanly(
    bulwark: Embedded, org: int
) -> None:
    failed: list[str] = []
    for n, (event, action) in enumerate(described_pairs()):
        if event == "installation" and action in ("deleted", "suspend"):
            continue  # would uninstall the App for the events that follow; sent last below
        payload = aimed_at_the_sandbox(bulwark, webhook_example(event, action))
        if action is not None:
            payload["action"] = action
        before = errors(bulwark)
        status = await bulwark.deliver(event, payload, delivery_id=f"described-{n}")
        await bulwark.settle()
        if status not in (200, 202) or errors(bulwark) != before:
            failed.append(f"{event}.{action}: HTTP {status}, job errors {errors(bulwark)}")
    assert failed == []


@pytest.mark.parametrize("action", ["deleted", "suspend"])
async def test_uninstall_and_suspend_are_accepted_and_write_nothing(
    bulwark: Embedded, org: int, action: str
) -> None:
    payload = aimed_at_the_sandbox(bulwark, webhook_example("installation", action))
    payload["action"] = action

    assert await bulwark.deliver("installation", payload) == 202
    await bulwark.settle()

    assert errors(bulwark) == 0
    assert [r for r in bulwark.sandbox.requests if r.method in WRITE_METHODS] == []


async def test_unhandled_described_actions_write_nothing(bulwark: Embedded, org: int) -> None:
    pairs = [(e, a) for e, a in described_pairs() if not handled(e, a)]
    assert ("pull_request", "labeled") in pairs and ("issue_comment", "edited") in pairs
    for n, (event, action) in enumerate(pairs):
        payload = aimed_at_the_sandbox(bulwark, webhook_example(event, action))
        if action is not None:
            payload["action"] = action
        assert await bulwark.deliver(event, payload, delivery_id=f"unhandled-{n}") in (200, 202)
    await bulwark.settle()

    assert errors(bulwark) == 0
    assert [r for r in bulwark.sandbox.requests if r.method in WRITE_METHODS] == []


async def test_events_bulwark_does_not_subscribe_to_are_ignored(
    bulwark: Embedded, org: int
) -> None:
    assert not any(handled(event, action) for event, action in OTHER_EVENTS)
    for n, (event, action) in enumerate(OTHER_EVENTS):
        payload = aimed_at_the_sandbox(bulwark, None)
        if action is not None:
            payload["action"] = action
        assert await bulwark.deliver(event, payload, delivery_id=f"other-{n}") == 202
    await bulwark.settle()

    assert errors(bulwark) == 0
    assert bulwark.sandbox.requests == []  # not even a read: nothing handles them
    accepted = bulwark.metrics.render().decode()
    assert 'event="workflow_run",outcome="accepted"} 1.0' in accepted


def _without(payload: dict[str, Any], variant: str) -> dict[str, Any]:
    if variant == "no-installation":
        payload.pop("installation", None)
    elif variant == "installation-null":
        payload["installation"] = None
    elif variant == "installation-id-text":
        payload["installation"] = {"id": "1"}
    elif variant == "no-repository":
        payload.pop("repository", None)
    elif variant == "repository-null":
        payload["repository"] = None
    elif variant == "no-sender":
        payload.pop("sender", None)
    elif variant == "sender-a-bot":
        payload["sender"] = {"login": "renovate[bot]", "id": 9, "type": "Bot"}
    return payload


NO_INSTALLATION = ("no-installation", "installation-null", "installation-id-text")


@pytest.mark.parametrize(
    "variant",
    [*NO_INSTALLATION, "no-repository", "repository-null", "no-sender", "sender-a-bot"],
)
async def test_handled_events_with_missing_or_null_fields_do_no_harm(
    bulwark: Embedded, org: int, variant: str
) -> None:
    pairs = [(e, a) for e, a in described_pairs() if handled(e, a) and e != "installation"]
    assert len(pairs) >= 15
    for n, (event, action) in enumerate(pairs):
        payload = aimed_at_the_sandbox(bulwark, webhook_example(event, action))
        if action is not None:
            payload["action"] = action
        payload = _without(payload, variant)
        assert await bulwark.deliver(event, payload, delivery_id=f"{variant}-{n}") == 202
    await bulwark.settle()

    assert errors(bulwark) == 0
    if variant in NO_INSTALLATION:
        assert bulwark.sandbox.requests == []  # no installation: nobody to act as
    protection = bulwark.sandbox.state.protection("acme", "api", "main")
    assert protection is not None and protection["enforce_admins"]["enabled"] is False


async def test_a_command_from_a_bot_sender_or_on_a_plain_issue_needs_no_pull(
    bulwark: Embedded, org: int
) -> None:
    state = bulwark.sandbox.state
    issue = state.add_issue("acme", "api", title="not a pull request", author="bob")
    payload = bulwark.sandbox.payloads.issue_comment(
        "created", "acme", "api", issue["number"], "/protection fix", "bob", False
    )
    bot = copy.deepcopy(payload)
    bot["sender"] = {"login": "renovate[bot]", "id": 9, "type": "Bot"}
    bot["comment"]["user"] = bot["sender"]

    assert await bulwark.deliver("issue_comment", bot, delivery_id="bot") == 202
    await bulwark.settle()
    assert bulwark.sandbox.requests == []

    assert await bulwark.deliver("issue_comment", payload, delivery_id="plain-issue") == 202
    await bulwark.settle()
    assert errors(bulwark) == 0
    assert not [r for r in bulwark.sandbox.requests if "/pulls/" in r.path]
    puts = [r for r in bulwark.sandbox.requests if r.method == "PUT"]
    assert [r for r in puts if "/protection" in r.path] == []
