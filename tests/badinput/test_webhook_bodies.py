"""Malformed deliveries beyond tests/test_server.py: duplicated headers, truncation, fuzzing.

tests/test_server.py already covers bad JSON, non-objects, wrong content types,
form bodies, empty bodies, the 25 MiB cap, missing headers and bad signatures;
this file adds what it does not, and a property-based test of the endpoint.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from bot.clock import FakeClock
from bot.metrics import Metrics
from bot.service.server import create_app
from bot.settings import Settings
from tests.test_server import PATH, PUSH, SECRET, RecordingQueue, headers, sign

EXAMPLES = int(os.environ.get("BULWARK_FUZZ_EXAMPLES", "150"))


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
async def client(
    rsa_private_key: str, queue: RecordingQueue, clock: FakeClock
) -> AsyncIterator[TestClient[Any, Any]]:
    config = Settings(app_id=1, private_key=rsa_private_key, webhook_secret=SECRET)
    app = create_app(config, queue=queue, metrics=Metrics(), clock=clock)
    async with TestClient(TestServer(app)) as c:
        yield c


def doubled(name: str, first: str, second: str) -> CIMultiDict[str]:
    """Return a delivery's headers with `name` sent twice."""
    out: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in headers(PUSH).items() if k.lower() != name.lower()
    )
    out.add(name, first)
    out.add(name, second)
    return out


@pytest.mark.parametrize(
    ("name", "first", "second"),
    [
        ("X-Hub-Signature-256", sign(PUSH), sign(PUSH, "wrong")),
        ("X-Hub-Signature-256", sign(PUSH, "wrong"), sign(PUSH)),
        ("X-Hub-Signature-256", sign(PUSH), sign(PUSH)),
        ("X-GitHub-Event", "push", "ping"),
        ("X-GitHub-Event", "push", "push"),
        ("X-GitHub-Delivery", "d-1", "d-2"),
        ("Content-Type", "application/json", "application/x-www-form-urlencoded"),
    ],
    ids=[
        "signature-good-then-bad",
        "signature-bad-then-good",
        "signature-twice",
        "event-differs",
        "event-twice",
        "delivery-differs",
        "content-type-differs",
    ],
)
async def test_duplicated_headers_are_refused(
    client: TestClient[Any, Any], queue: RecordingQueue, name: str, first: str, second: str
) -> None:
    resp = await client.post(PATH, data=PUSH, headers=doubled(name, first, second))

    assert resp.status == (401 if name == "X-Hub-Signature-256" else 400)
    if name != "Content-Type":  # aiohttp's parser refuses that one before Bulwark sees it
        assert "error" in await resp.json()
    assert queue.jobs == []


@pytest.mark.parametrize("cut", [1, len(PUSH) // 2, len(PUSH) - 1])
async def test_a_truncated_body_fails_its_signature(
    client: TestClient[Any, Any], queue: RecordingQueue, cut: int
) -> None:
    resp = await client.post(PATH, data=PUSH[:cut], headers=headers(PUSH))
    assert resp.status == 401
    assert queue.jobs == []


@pytest.mark.parametrize("cut", [1, len(PUSH) // 2, len(PUSH) - 1])
async def test_a_truncated_body_signed_as_sent_is_malformed(
    client: TestClient[Any, Any], queue: RecordingQueue, cut: int
) -> None:
    body = PUSH[:cut]
    resp = await client.post(PATH, data=body, headers=headers(body))
    assert resp.status == 400
    assert queue.jobs == []


async def test_no_content_type_is_malformed(
    client: TestClient[Any, Any], queue: RecordingQueue
) -> None:
    hdrs = CIMultiDict(headers(PUSH))
    del hdrs["Content-Type"]
    resp = await client.post(PATH, data=PUSH, headers=hdrs, skip_auto_headers=["Content-Type"])
    assert resp.status == 400
    assert queue.jobs == []


@pytest.mark.parametrize(
    ("signature", "status"),
    [
        ("sha256=" + sign(PUSH).removeprefix("sha256=").upper(), 202),
        ("SHA256=" + sign(PUSH).removeprefix("sha256="), 401),
        ("sha256=" + "é" * 64, 401),
        ("sha256=" + "0" * 64, 401),
        ("sha256=", 401),
        ("sha512=" + sign(PUSH).removeprefix("sha256="), 401),
        (sign(PUSH) + "," + sign(PUSH), 401),
    ],
    ids=["upper-hex", "upper-prefix", "unicode", "zeros", "empty-digest", "sha512", "list"],
)
async def test_signature_spellings(
    client: TestClient[Any, Any], queue: RecordingQueue, signature: str, status: int
) -> None:
    # Hex digits may be either case (RFC 4648 section 8); anything else is not GitHub's format.
    hdrs = {**headers(PUSH), "X-Hub-Signature-256": signature}
    resp = await client.post(PATH, data=PUSH, headers=hdrs)
    assert resp.status == status
    assert len(queue.jobs) == (1 if status == 202 else 0)


# ---- property: arbitrary headers and bodies -------------------------------------------------

_HEADER_VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(
    str.strip
)
_EVENTS = st.sampled_from(["push", "ping", "pull_request", "issue_comment", "x"]) | _HEADER_VALUE
_CONTENT_TYPES = (
    st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/json; charset=utf-16",
        ]
    )
    | _HEADER_VALUE
)
_BODIES = st.one_of(
    st.binary(max_size=2_000),
    st.text(max_size=500).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
)
_EXTRA = st.dictionaries(
    st.from_regex(r"X-[A-Za-z0-9-]{1,20}", fullmatch=True), _HEADER_VALUE, max_size=3
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=_BODIES,
    event=_EVENTS,
    delivery=_HEADER_VALUE,
    content_type=_CONTENT_TYPES,
    signed=st.sampled_from(["right", "wrong-secret", "garbage", "none"]),
    garbage=_HEADER_VALUE,
    extra=_EXTRA,
)
async def test_the_endpoint_never_fails_and_refuses_unsigned(
    client: TestClient[Any, Any],
    body: bytes,
    event: str,
    delivery: str,
    content_type: str,
    signed: str,
    garbage: str,
    extra: dict[str, str],
) -> None:
    hdrs = {**extra, "Content-Type": content_type, "X-GitHub-Event": event}
    hdrs["X-GitHub-Delivery"] = delivery
    if signed == "right":
        hdrs["X-Hub-Signature-256"] = sign(body)
    elif signed == "wrong-secret":
        hdrs["X-Hub-Signature-256"] = sign(body, SECRET + "x")
    elif signed == "garbage":
        hdrs["X-Hub-Signature-256"] = garbage

    resp = await client.post(PATH, data=body, headers=hdrs)

    assert resp.status < 500
    if signed != "right":
        assert resp.status == 401
    else:
        assert resp.status in (200, 202, 400)
    assert resp.content_type == "application/json"
    await resp.json()
