"""`bulwark scan` in-process against a running sandbox, and the resync that uses the same scan."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import pytest

from bot.cli.embedded import Embedded
from bot.cli.scan import run
from bot.clock import FakeClock
from bot.core.models import FindingKind, Outcome
from bot.github.client import RetryPolicy
from bot.sandbox import Sandbox
from bot.sandbox.app import WRITE_METHODS
from tests.fixtures import compliant_protection, install, report_policy_checks, weak_protection
from tests.manifest import APP_PERMISSIONS

TOKEN = "ghp_scan_token"


@pytest.fixture
async def box(clock: FakeClock) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(clock=clock, permissions=APP_PERMISSIONS)
    state = sandbox.state
    report_policy_checks(state)
    state.add_org("acme")
    state.add_user("alice")
    state.add_org_owner("acme", "alice")
    state.add_personal_token(TOKEN, "alice")
    state.add_repo("acme", "bare")
    state.add_repo("acme", "weak")
    state.set_protection("acme", "weak", "main", weak_protection())
    state.add_repo("acme", "fine")
    state.set_protection("acme", "fine", "main", compliant_protection())
    state.add_repo("acme", "old", archived=True)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()
    assert sandbox.state.violations == []  # nothing GitHub's description refuses


def token_env(box: Sandbox) -> dict[str, str]:
    return {"GITHUB_API_URL": box.url, "GITHUB_TOKEN": TOKEN, "GITHUB_WRITE_INTERVAL": "0"}


def app_env(box: Sandbox) -> dict[str, str]:
    return {
        "GITHUB_API_URL": box.url,
        "APP_ID": str(box.app_id),
        "PRIVATE_KEY": box.private_key_pem,
        "GITHUB_WRITE_INTERVAL": "0",
    }


async def scan(
    box: Sandbox, clock: FakeClock, *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(
        list(argv),
        environ=token_env(box) if env is None else env,
        out=out,
        err=err,
        clock=clock,
        retry=RetryPolicy.for_tests(),
    )
    return code, out.getvalue(), err.getvalue()


def writes(box: Sandbox) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in box.requests
        if r.method in WRITE_METHODS and r.path != "/graphql"
    ]


async def test_json_output_has_the_documented_shape(box: Sandbox, clock: FakeClock) -> None:
    code, out, err = await scan(box, clock, "--org", "acme", "--format", "json")

    assert code == 1, err
    doc = json.loads(out)
    assert set(doc) == {"version", "org", "computed_at", "delayed", "summary", "repositories"}
    assert doc["version"] == 1 and doc["org"] == "acme" and doc["delayed"] is False
    assert set(doc["summary"]) == {o.value for o in Outcome}
    assert doc["summary"]["drifted"] == 2 and doc["summary"]["compliant"] == 1
    repos = {r["repository"]: r for r in doc["repositories"]}
    assert list(repos) == ["acme/bare", "acme/fine", "acme/old", "acme/weak"]
    bare = repos["acme/bare"]
    assert set(bare) == {
        "repository", "outcome", "mode", "branches", "fixed_at", "reason", "findings"
    }  # fmt: skip
    assert bare["outcome"] == "drifted" and bare["branches"] == ["main"]
    finding = bare["findings"][0]
    assert set(finding) == {"kind", "message", "remedy", "branch", "detail", "actor"}
    kinds = {f["kind"] for r in doc["repositories"] for f in r["findings"]}
    assert kinds <= {k.value for k in FindingKind}
    assert "admins_not_enforced" in {f["kind"] for f in repos["acme/weak"]["findings"]}
    assert repos["acme/old"]["outcome"] == "excluded"


async def test_table_output_names_each_repository(box: Sandbox, clock: FakeClock) -> None:
    code, out, _ = await scan(box, clock, "--org", "acme")

    assert code == 1
    for name in ("acme/bare", "acme/fine", "acme/weak", "unprotected", "2 drifted"):
        assert name in out
    assert "\x1b[" not in out  # no colour codes into a pipe


async def test_markdown_output_is_the_report(box: Sandbox, clock: FakeClock) -> None:
    code, out, _ = await scan(box, clock, "--org", "acme", "--format", "markdown")

    assert code == 1
    assert "acme/bare" in out and "acme/weak" in out
    assert "`unprotected`" in out or "unprotected" in out


async def test_a_read_only_scan_writes_nothing(box: Sandbox, clock: FakeClock) -> None:
    box.requests.clear()
    code, _, _ = await scan(box, clock, "--org", "acme", "--format", "json")

    assert code == 1
    assert writes(box) == []
    assert box.state.protection("acme", "bare", "main") is None


async def test_apply_repairs_and_the_next_scan_exits_zero(box: Sandbox, clock: FakeClock) -> None:
    code, out, _ = await scan(box, clock, "--org", "acme", "--apply", "--format", "json")

    assert code == 0
    outcomes = {r["repository"]: r["outcome"] for r in json.loads(out)["repositories"]}
    assert outcomes["acme/bare"] == "fixed" and outcomes["acme/weak"] == "fixed"
    protection = box.state.protection("acme", "bare", "main")
    assert protection is not None and protection["enforce_admins"]["enabled"] is True
    assert box.writes("acme", "old") == [] and box.writes("acme", "fine") == []

    again, _, _ = await scan(box, clock, "--org", "acme")
    assert again == 0


async def test_repo_limits_the_scan_and_its_writes(box: Sandbox, clock: FakeClock) -> None:
    code, out, _ = await scan(
        box, clock, "--org", "acme", "--repo", "bare", "fine", "--apply", "--format", "json"
    )

    assert code == 0
    assert [r["repository"] for r in json.loads(out)["repositories"]] == ["acme/bare", "acme/fine"]
    assert box.writes("acme", "weak") == []
    assert box.state.protection("acme", "weak", "main") is not None


async def test_an_unknown_repo_name_fails_the_gate(box: Sandbox, clock: FakeClock) -> None:
    code, out, err = await scan(box, clock, "--org", "acme", "--repo", "fine", "nope")

    assert code == 2
    assert "no such repository in acme: nope" in err
    assert out == ""


async def test_a_read_only_markdown_scan_says_nothing_was_changed(
    box: Sandbox, clock: FakeClock
) -> None:
    code, out, _ = await scan(box, clock, "--org", "acme", "--format", "markdown")

    assert code == 1
    assert "read-only scan" in out and "could not repair" not in out


async def test_app_credentials_find_the_installation(box: Sandbox, clock: FakeClock) -> None:
    box.state.install("acme")
    code, out, err = await scan(box, clock, "--org", "acme", "--format", "json", env=app_env(box))

    assert code == 1, err
    assert json.loads(out)["summary"]["drifted"] == 2


@pytest.mark.parametrize(
    ("argv", "env_kind", "message"),
    [
        (["--org", "nope"], "token", "no organization 'nope'"),
        (["--org", "acme"], "none", "GITHUB_TOKEN"),
        (["--org", "acme"], "app", "not installed on acme"),
    ],
)
async def test_errors_exit_two(
    box: Sandbox, clock: FakeClock, argv: list[str], env_kind: str, message: str
) -> None:
    env = {"token": token_env(box), "app": app_env(box), "none": {"GITHUB_API_URL": box.url}}
    code, out, err = await scan(box, clock, *argv, env=env[env_kind])

    assert code == 2
    assert message in err
    assert out == ""


async def test_github_down_exits_two(box: Sandbox, clock: FakeClock) -> None:
    box.faults.configure(1.0, kinds=["503"])
    code, out, err = await scan(box, clock, "--org", "acme")

    assert code == 2
    assert "the scan failed" in err and out == ""


async def test_the_resync_scans_through_graphql(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    for i in range(5):
        state.add_repo("acme", f"fine-{i}")
        state.set_protection("acme", f"fine-{i}", "main", compliant_protection())
    state.add_repo("acme", "bare")
    bulwark.sandbox.requests.clear()

    await install(bulwark)

    reads = [r.path for r in bulwark.sandbox.requests if r.method == "GET"]
    assert not any(p.startswith("/repos/acme/fine-") for p in reads)
    assert "/graphql" in [r.path for r in bulwark.sandbox.requests]
    assert state.protection("acme", "bare", "main") is not None
    assert all(bulwark.sandbox.writes("acme", f"fine-{i}") == [] for i in range(5))


async def test_a_user_account_resyncs_through_rest(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_org("solo").type = "User"
    state.add_repo("solo", "thing")

    await install(bulwark, "solo")

    assert state.protection("solo", "thing", "main") is not None


class Terminal(io.StringIO):
    """An output stream that says it is a terminal, as rich asks."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "shows"), [(Terminal, True), (io.StringIO, False)])
async def test_progress_shows_only_on_a_terminal(
    box: Sandbox, clock: FakeClock, stream: type[io.StringIO], shows: bool
) -> None:
    err = stream()
    code = await run(
        ["--org", "acme", "--format", "json"],
        environ=token_env(box),
        out=io.StringIO(),
        err=err,
        clock=clock,
        retry=RetryPolicy.for_tests(),
    )

    assert code == 1
    assert ("scanning" in err.getvalue()) is shows
