"""No secret leaves Bulwark: full flows at DEBUG, then every log line, body and metric searched."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest

from bot.cli.embedded import Embedded
from bot.logs import JsonFormatter
from tests.fixtures import install, weak_protection


async def run_every_flow(bulwark: Embedded) -> None:
    """Install, tamper, open a PR, click Fix, run every slash command, refresh the report."""
    state = bulwark.sandbox.state
    payloads = bulwark.sandbox.payloads
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.add_collaborator("acme", "api", "adam", "admin")
    state.add_collaborator("acme", "api", "rita", "read")
    state.set_protection("acme", "api", "main", weak_protection())
    await install(bulwark)

    state.set_protection("acme", "api", "main", None)
    tamper = payloads.branch_protection_rule("deleted", "acme", "api", "main", "rita")
    assert await bulwark.deliver("branch_protection_rule", tamper) == 202
    number = state.add_pull("acme", "api", head_sha=state.new_sha(), author="bob")
    assert (
        await bulwark.deliver(
            "pull_request", payloads.pull_request("opened", "acme", "api", number, "bob")
        )
        == 202
    )
    await bulwark.settle()
    [run] = [r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection"]
    for who in ("rita", "adam"):
        click = payloads.check_run(
            "requested_action", "acme", "api", run["id"], who, requested_action="fix-protection"
        )
        assert await bulwark.deliver("check_run", click) == 202
        await bulwark.settle()
    words = ["status", "check", "help", "frobnicate", "report", "fix"]
    for who in ("rita", "adam"):
        body = "\n".join(f"/protection {w}" for w in words)
        comment = payloads.issue_comment("created", "acme", "api", number, body, who)
        assert await bulwark.deliver("issue_comment", comment) == 202
        await bulwark.settle()
    sha = state.add_commit("acme", "api", "main", message="hotfix", author="bob")
    push = payloads.push("acme", "api", "main", [sha], "bob")
    assert await bulwark.deliver("push", push) == 202
    await bulwark.settle()
    # A token GitHub refuses: Bulwark fetches a new one and logs what happened.
    state.revoke_tokens(bulwark.sandbox.state.installation_for("acme").id)  # type: ignore[union-attr]
    again = payloads.issue_comment("created", "acme", "api", number, "/protection status", "adam")
    assert await bulwark.deliver("issue_comment", again) == 202
    await bulwark.settle()


def secrets_of(bulwark: Embedded) -> dict[str, str]:
    """Return each secret Bulwark holds or held, by name."""
    box = bulwark.sandbox
    key_lines = [line for line in box.private_key_pem.splitlines() if "-----" not in line]
    found = {
        "webhook secret": box.webhook_secret,
        "private key line": key_lines[len(key_lines) // 2],
    }
    for n, token in enumerate(box.state.tokens):
        found[f"installation token {n}"] = token
    assert len(found) > 3, "the flows minted installation tokens"
    return found


async def test_no_secret_in_logs_bodies_or_metrics(
    bulwark: Embedded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await run_every_flow(bulwark)

    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    raw = [record.getMessage() for record in caplog.records]
    raw += [formatter.formatException(r.exc_info) for r in caplog.records if r.exc_info]
    sent = [json.dumps(r.body) for r in bulwark.sandbox.requests if r.body is not None]
    assert any("reconcile" in line.lower() for line in lines), "DEBUG records were captured"
    assert sum("bulwark:" in body for body in sent) >= 10, "Bulwark wrote comments"
    async with aiohttp.ClientSession() as session, session.get(bulwark.base_url + "/metrics") as r:
        metrics = await r.text()

    for name, secret in secrets_of(bulwark).items():
        for where, texts in (("log line", lines), ("sent body", sent), ("metrics", [metrics])):
            leaks = [text for text in texts if secret in text]
            assert leaks == [], f"{name} in a {where}"
    assert not [line for line in lines if "eyJ" in line], "a JWT in a log line"
    assert not [body for body in sent if "eyJ" in body or "ghs_" in body]
    secret = bulwark.sandbox.webhook_secret
    assert not [text for text in raw if secret in text], "webhook secret before redaction"
