"""`bulwark doctor` on the sandbox: each planted problem is found; a healthy one is quiet."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.cli.doctor import run
from bot.cli.embedded import sandbox_settings
from bot.cli.manifest import load_manifest
from bot.clock import FakeClock
from bot.github.client import RetryPolicy
from bot.sandbox import Sandbox
from bot.sandbox.routes_hooks import record
from bot.sandbox.state import State
from tests.manifest import APP_PERMISSIONS

HOOK = "https://bulwark.example.com/api/github/webhooks"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """A healthy deployment: an org, a private report repository, an https webhook."""
    box = Sandbox(clock=FakeClock(start=1_750_000_000.0), permissions=APP_PERMISSIONS)
    state = box.state
    state.add_org("acme")
    state.add_org_owner("acme", "alice")
    state.add_repo("acme", ".github", private=True)
    state.add_repo("acme", "web")
    state.add_repo("acme", "api")
    state.install("acme")
    record(state, "push", {"action": None}, "guid-ok", 202, redelivery=False)
    await box.start()
    yield box
    await box.stop()
    assert box.state.violations == []


async def doctor(box: Sandbox, fmt: str = "json") -> tuple[int, Any]:
    out = io.StringIO()
    status = await run(
        sandbox_settings(box), load_manifest(), fmt, out,
        clock=box.clock, retry=RetryPolicy.for_tests(),
    )  # fmt: skip
    return status, json.loads(out.getvalue()) if fmt == "json" else out.getvalue()


def wrong(body: Any) -> list[dict[str, str]]:
    return [c for c in body["checks"] if c["severity"] in ("problem", "warning", "note")]


async def test_a_healthy_installation_reports_nothing_wrong(sandbox: Sandbox) -> None:
    status, body = await doctor(sandbox)
    assert wrong(body) == []
    assert (status, body["ok"]) == (0, True)
    areas = {c["area"] for c in body["checks"]}
    assert {"credentials", "installation", "permissions", "events", "webhook", "deliveries",
            "report", "rate limit"} <= areas  # fmt: skip


def _inst(state: State) -> Any:
    return next(iter(state.installations.values()))


def missing_permission(state: State) -> None:
    state.app_permissions["checks"] = "read"
    _inst(state).permissions = dict(state.app_permissions)


def pending_permission(state: State) -> None:
    _inst(state).permissions = {**state.app_permissions, "contents": "read"}


def pending_event(state: State) -> None:
    _inst(state).events = [e for e in state.app_events if e != "repository_ruleset"]


def wrong_content_type(state: State) -> None:
    assert state.hook_config is not None
    state.hook_config["content_type"] = "form"


def plain_http(state: State) -> None:
    assert state.hook_config is not None
    state.hook_config["url"] = "http://bulwark.example.com/api/github/webhooks"


def tls_off(state: State) -> None:
    assert state.hook_config is not None
    state.hook_config["insecure_ssl"] = "1"


def failing_deliveries(state: State) -> None:
    for n, code in enumerate((502, 502, 0)):
        record(state, "issue_comment", {"action": "created"}, f"lost-{n}", code, redelivery=False)


def public_report(state: State) -> None:
    state.repo("acme", ".github").private = False


def protection_disabled(state: State) -> None:
    state.repo("acme", "web").protection_disabled = True


def report_issues_off(state: State) -> None:
    state.repo("acme", ".github").has_issues = False


PLANTED: list[tuple[Callable[[State], None], str, str, str]] = [
    (missing_permission, "permissions", "problem", "checks: write is missing"),
    (pending_permission, "permissions", "problem", "contents: write awaits the owner's approval"),
    (pending_event, "events", "problem", "repository_ruleset is not delivered (awaits"),
    (wrong_content_type, "webhook", "problem", "content type is form, not json"),
    (plain_http, "webhook", "problem", "is not https"),
    (tls_off, "webhook", "problem", "TLS verification is off"),
    (failing_deliveries, "deliveries", "problem", "3 failed (1 × no answer, 2 × 502)"),
    (
        public_report,
        "report",
        "warning",
        "private repositories are counted in the report, not named",
    ),
    (report_issues_off, "report", "problem", "issues are disabled"),
    (protection_disabled, "protection", "note", "disabled on acme/web: Bulwark uses a ruleset"),
]


@pytest.mark.parametrize(("plant", "area", "severity", "text"), PLANTED,
                         ids=[p[0].__name__ for p in PLANTED])  # fmt: skip
async def test_each_planted_problem_is_found_with_a_fix(
    sandbox: Sandbox, plant: Callable[[State], None], area: str, severity: str, text: str
) -> None:
    plant(sandbox.state)
    status, body = await doctor(sandbox)
    found = wrong(body)
    assert found
    assert {(c["area"], c["severity"]) for c in found} == {(area, severity)}
    assert any(text in c["message"] for c in found)
    assert all(c["fix"] for c in found)
    assert status == (0 if severity == "note" else 1)


async def test_a_delivery_redelivered_since_is_not_counted(sandbox: Sandbox) -> None:
    record(sandbox.state, "push", {}, "later-ok", 503, redelivery=False)
    record(sandbox.state, "push", {}, "later-ok", 202, redelivery=True)
    status, body = await doctor(sandbox)
    assert (status, wrong(body)) == (0, [])


async def test_a_suspended_installation_and_no_installation_are_problems(sandbox: Sandbox) -> None:
    _inst(sandbox.state).suspended = True
    status, body = await doctor(sandbox)
    assert status == 1
    assert [c["message"] for c in wrong(body)] == ["the installation is suspended"]
    sandbox.state.installations.clear()
    status, body = await doctor(sandbox)
    assert [c["message"] for c in wrong(body)] == [
        "the App is installed nowhere, so it protects nothing"
    ]


async def test_the_table_shows_each_problem_and_its_fix(sandbox: Sandbox) -> None:
    wrong_content_type(sandbox.state)
    status, text = await doctor(sandbox, "table")
    assert status == 1
    assert "FAIL  webhook" in text
    assert "fix: in the App's settings, set the webhook's content type to application/json" in text
    assert text.rstrip().endswith("1 thing(s) to fix")


async def test_bad_credentials_mean_could_not_check(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.app_id += 1  # the key no longer belongs to the App doctor names
    settings = sandbox_settings(sandbox)
    sandbox.app_id -= 1
    out = io.StringIO()
    status = await run(settings, load_manifest(), "json", out, clock=sandbox.clock,
                       retry=RetryPolicy.for_tests())  # fmt: skip
    assert status == 2
    assert out.getvalue() == ""
    assert "could not check: 401" in capsys.readouterr().err


async def test_doctor_writes_nothing(sandbox: Sandbox) -> None:
    failing_deliveries(sandbox.state)
    await doctor(sandbox)
    writes = [r for r in sandbox.requests if r.method != "GET"]
    assert {r.template for r in writes} == {"/app/installations/{installation_id}/access_tokens"}
