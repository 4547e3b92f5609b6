"""Webhook deliveries are signed like GitHub's and payloads match GitHub's schemas."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from gidgethub import sansio

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from bot.sandbox.webhook_schemas import validate_webhook
from tests.manifest import APP_PERMISSIONS


@pytest.fixture
def sandbox() -> Sandbox:
    sb = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    state = sb.state
    state.add_org("acme")
    state.add_repo("acme", "web")
    state.add_repo("acme", "api")
    state.install("acme", repositories=["web"])
    state.set_protection("acme", "web", "main", {"enforce_admins": True, "restrictions": None,
        "required_status_checks": None, "required_pull_request_reviews": None})  # fmt: skip
    return sb


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[sansio.Event], list[web.Request]]]:
    events: list[sansio.Event] = []
    raw: list[web.Request] = []
    secret = "s3cret"

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        raw.append(request)
        events.append(sansio.Event.from_http(request.headers, body, secret=secret))
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("/hook")), events, raw
    await server.close()


async def test_delivery_is_signed_and_parsed(
    sandbox: Sandbox, receiver: tuple[str, list[sansio.Event], list[web.Request]]
) -> None:
    url, events, raw = receiver
    payload = sandbox.payloads.ping()
    status = await sandbox.deliver(url, "ping", payload, delivery_id="d-1", secret="s3cret")
    assert status == 202
    assert (events[0].event, events[0].delivery_id, events[0].data) == ("ping", "d-1", payload)
    assert raw[0].headers["User-Agent"].startswith("GitHub-Hookshot/")


async def test_wrong_secret_fails_validation(
    sandbox: Sandbox, receiver: tuple[str, list[sansio.Event], list[web.Request]]
) -> None:
    url, events, _ = receiver
    status = await sandbox.deliver(url, "ping", sandbox.payloads.ping(), secret="wrong")
    assert status == 500
    assert events == []


def sha(sb: Sandbox) -> str:
    return sb.state.repo("acme", "web").branches["main"]


def first_installation(sb: Sandbox) -> int:
    return next(iter(sb.state.installations))


def new_pull(sb: Sandbox) -> int:
    return sb.state.add_pull("acme", "web", head_sha=sha(sb), author="alice")


def new_check_run(sb: Sandbox) -> int:
    body = {"name": "repo-protection", "head_sha": sha(sb)}
    return int(sb.state.add_check_run("acme", "web", body)["id"])


def new_ruleset(sb: Sandbox) -> int:
    return sb.state.add_ruleset("acme", "web", {"name": "r", "rules": [{"type": "deletion"}]})


def direct_push(sb: Sandbox) -> dict[str, Any]:
    commit = sb.state.add_commit("acme", "web", "main", author="mallory")
    return dict(sb.payloads.push("acme", "web", "main", [commit], "mallory"))


P = Callable[[Sandbox], dict[str, Any]]
PAYLOADS: list[tuple[str, str | None, P]] = [
    (
        "installation",
        "created",
        lambda sb: sb.payloads.installation_created(first_installation(sb)),
    ),
    (
        "installation_repositories",
        "added",
        lambda sb: sb.payloads.installation_repositories_added(first_installation(sb), ["api"]),
    ),
    (
        "branch_protection_rule",
        "edited",
        lambda sb: sb.payloads.branch_protection_rule("edited", "acme", "web", "main", "mallory"),
    ),
    ("repository", "renamed", lambda sb: sb.payloads.repository("renamed", "acme", "web", "alice")),
    ("push", None, direct_push),
    (
        "pull_request",
        "opened",
        lambda sb: sb.payloads.pull_request("opened", "acme", "web", new_pull(sb), "alice"),
    ),
    (
        "issue_comment",
        "created",
        lambda sb: sb.payloads.issue_comment(
            "created", "acme", "web", new_pull(sb), "/protection status", "alice"
        ),
    ),
    (
        "check_run",
        "requested_action",
        lambda sb: sb.payloads.check_run(
            "requested_action", "acme", "web", new_check_run(sb), "alice", requested_action="fix"
        ),
    ),
    (
        "repository_ruleset",
        "edited",
        lambda sb: sb.payloads.repository_ruleset(
            "edited", "acme", "web", new_ruleset(sb), "alice"
        ),
    ),
]


@pytest.mark.parametrize(("event", "action", "build"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_payload_matches_githubs_schema(
    sandbox: Sandbox, event: str, action: str | None, build: Callable[[Sandbox], dict[str, Any]]
) -> None:
    payload = build(sandbox)
    assert validate_webhook(event, action, payload) == []
    assert payload["installation"]["id"] in sandbox.state.installations


async def test_run_sandbox_prints_how_to_start_the_app() -> None:
    from bot.sandbox import run_sandbox

    lines: list[str] = []
    stop = asyncio.Event()
    stop.set()
    await run_sandbox(0, stop=stop, write=lines.append)
    text = "\n".join(lines)
    assert "GITHUB_API_URL=http://127.0.0.1:" in text
    assert "GITHUB_WRITE_INTERVAL=0" in text
    key_path = next(line.split(": ", 1)[1] for line in lines if line.startswith("Private key"))
    assert not os.path.exists(key_path)  # noqa: ASYNC240
