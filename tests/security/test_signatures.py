"""Webhook signatures end to end: a forged delivery makes no GitHub call; a replay runs once."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from types import FrameType
from typing import Any

import aiohttp
import pytest

from bot.cli.embedded import Embedded
from bot.sandbox.app import WRITE_METHODS
from bot.sandbox.webhooks import delivery_headers
from bot.service import server
from tests.fixtures import install, weak_protection


@pytest.fixture
async def org(bulwark: Embedded) -> int:
    """An installed org in enforce mode whose `api` repository drifts."""
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.add_collaborator("acme", "api", "adam", "admin")
    installation_id = await install(bulwark)
    state.set_protection("acme", "api", "main", weak_protection())
    bulwark.sandbox.requests.clear()
    return installation_id


def forged(body: bytes, secret: str, how: str, payload: dict[str, Any]) -> dict[str, str]:
    hdrs = delivery_headers("issue_comment", body, secret, None, payload)
    if how == "unsigned":
        del hdrs["X-Hub-Signature-256"]
    elif how == "wrong-secret":
        hdrs = delivery_headers("issue_comment", body, secret + "0", None, payload)
    elif how == "sha1-only":
        del hdrs["X-Hub-Signature-256"]
        digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        hdrs["X-Hub-Signature"] = "sha1=" + digest
    elif how == "tampered":
        hdrs = delivery_headers("issue_comment", body.replace(b"fix", b"fox"), secret, None, {})
    elif how == "signature-of-another-body":
        hdrs["X-Hub-Signature-256"] = delivery_headers("ping", b"{}", secret, None, {})[
            "X-Hub-Signature-256"
        ]
    return hdrs


@pytest.mark.parametrize(
    "how", ["unsigned", "wrong-secret", "sha1-only", "tampered", "signature-of-another-body"]
)
async def test_a_forged_delivery_makes_no_github_call(
    bulwark: Embedded, org: int, how: str
) -> None:
    payload = bulwark.sandbox.payloads.issue_comment(
        "created", "acme", "api", 1, "/protection fix", "adam", False
    )
    body = json.dumps(payload).encode()
    hdrs = forged(body, bulwark.sandbox.webhook_secret, how, payload)

    async with (
        aiohttp.ClientSession() as session,
        session.post(bulwark.webhook_url, data=body, headers=hdrs) as resp,
    ):
        status = resp.status
    await bulwark.settle()

    assert status == 401
    assert bulwark.sandbox.requests == []
    assert bulwark.queue.depth() == 0
    protection = bulwark.sandbox.state.protection("acme", "api", "main")
    assert protection is not None and protection["enforce_admins"]["enabled"] is False


def _builtin_calls(fn: Any, *args: Any) -> list[str]:
    """Run `fn` and return the qualified names of the C functions it called."""
    called: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            called.append(f"{getattr(arg, '__module__', '')}.{getattr(arg, '__name__', '')}")

    sys.setprofile(profile)
    try:
        fn(*args)
    finally:
        sys.setprofile(None)
    return called


@pytest.mark.parametrize("right", [True, False])
def test_the_signature_is_compared_in_constant_time(right: bool) -> None:
    body = b'{"zen": "x"}'
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    if not right:
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")

    called = _builtin_calls(server._signature_ok, signature, body, "s3cret")

    assert server._signature_ok(signature, body, "s3cret") is right
    assert any(name.endswith("compare_digest") for name in called), called


async def test_a_replayed_delivery_is_processed_once(bulwark: Embedded, org: int) -> None:
    state = bulwark.sandbox.state
    issue = state.add_issue("acme", "api", title="protect main", author="adam")
    payload = bulwark.sandbox.payloads.issue_comment(
        "created", "acme", "api", issue["number"], "/protection fix", "adam", False
    )

    for _ in range(3):
        assert await bulwark.deliver("issue_comment", payload, delivery_id="same-id") == 202
        await bulwark.settle()

    writes = [r for r in bulwark.sandbox.requests if r.method in WRITE_METHODS]
    replies = [r for r in writes if r.path.endswith(f"/issues/{issue['number']}/comments")]
    reactions = [r for r in writes if r.path.endswith("/reactions")]
    protection = [r for r in writes if "/protection" in r.path]
    assert (len(replies), len(reactions), len(protection)) == (1, 1, 1)
    duplicates = 'bulwark_webhook_deliveries_total{event="issue_comment",outcome="duplicate"} 2.0'
    assert duplicates in bulwark.metrics.render().decode()
