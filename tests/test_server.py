"""The webhook endpoint, /healthz and /metrics, through a real aiohttp server."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.clock import FakeClock
from bot.metrics import Metrics
from bot.service.queue import InProcessQueue, Job
from bot.service.server import HEALTH_CHECKS, MAX_BODY, create_app
from bot.settings import Settings

SECRET = "It's a Secret to Everybody"
PATH = "/api/github/webhooks"


class RecordingQueue(InProcessQueue):
    """The in-process queue, never started, remembering what was put."""

    def __init__(self) -> None:
        super().__init__(concurrency=1)
        self.jobs: list[Job] = []

    async def put(self, job: Job) -> bool:
        accepted = await super().put(job)
        if accepted:
            self.jobs.append(job)
        return accepted


@pytest.fixture
def settings(rsa_private_key: str) -> Settings:
    return Settings(app_id=1, private_key=rsa_private_key, webhook_secret=SECRET)


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def client(
    settings: Settings, queue: RecordingQueue, metrics: Metrics, clock: FakeClock
) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(settings, queue=queue, metrics=metrics, clock=clock)
    async with TestClient(TestServer(app)) as c:
        yield c


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers(
    body: bytes, event: str = "push", delivery: str = "d-1", **extra: str
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body),
        **extra,
    }


PUSH = json.dumps(
    {
        "ref": "refs/heads/main",
        "installation": {"id": 42},
        "repository": {"full_name": "acme/widgets"},
    }
).encode()


async def test_signed_delivery_is_queued_with_its_fields(
    client: TestClient[Any, Any], queue: RecordingQueue
) -> None:
    resp = await client.post(PATH, data=PUSH, headers=headers(PUSH))
    assert resp.status == 202
    assert await resp.json() == {"status": "queued"}
    [job] = queue.jobs
    assert (job.kind, job.delivery_id, job.installation_id, job.repo) == (
        "delivery",
        "d-1",
        42,
        "acme/widgets",
    )
    assert job.payload["event"] == "push"
    assert job.payload["data"]["ref"] == "refs/heads/main"


def _sha1(body: bytes) -> str:
    return "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()


@pytest.mark.parametrize(
    "signature_headers",
    [
        {},
        {"X-Hub-Signature-256": sign(PUSH, "wrong secret")},
        {"X-Hub-Signature-256": sign(PUSH + b" ")},
        {"X-Hub-Signature": "__sha1__"},
        {"X-Hub-Signature-256": "sha256=" + "z" * 64},
        {"X-Hub-Signature-256": sign(PUSH)[:-2]},
        {"X-Hub-Signature-256": sign(PUSH) + "00"},
        {"X-Hub-Signature-256": sign(PUSH).removeprefix("sha256=")},
    ],
    ids=[
        "missing",
        "wrong-secret",
        "tampered",
        "sha1-only",
        "non-hex",
        "short",
        "long",
        "no-prefix",
    ],
)
async def test_bad_signatures_are_refused(
    client: TestClient[Any, Any], queue: RecordingQueue, signature_headers: dict[str, str]
) -> None:
    hdrs = headers(PUSH)
    del hdrs["X-Hub-Signature-256"]
    if signature_headers.get("X-Hub-Signature") == "__sha1__":
        signature_headers = {"X-Hub-Signature": _sha1(PUSH)}
    resp = await client.post(PATH, data=PUSH, headers={**hdrs, **signature_headers})
    assert resp.status == 401
    assert queue.jobs == []


async def test_tampered_body_is_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.post(PATH, data=PUSH.replace(b"main", b"mian"), headers=headers(PUSH))
    assert resp.status == 401


async def test_ping_answers_zen(client: TestClient[Any, Any], queue: RecordingQueue) -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    resp = await client.post(PATH, data=body, headers=headers(body, event="ping"))
    assert resp.status == 200
    assert await resp.json() == {"ok": True, "zen": "Keep it logically awesome."}
    assert queue.jobs == []


async def test_redelivery_is_enqueued_once(
    client: TestClient[Any, Any], queue: RecordingQueue
) -> None:
    first = await client.post(PATH, data=PUSH, headers=headers(PUSH, delivery="same"))
    second = await client.post(PATH, data=PUSH, headers=headers(PUSH, delivery="same"))
    assert (first.status, second.status) == (202, 202)
    assert await second.json() == {"status": "duplicate"}
    assert len(queue.jobs) == 1


async def test_unknown_event_is_queued(client: TestClient[Any, Any], queue: RecordingQueue) -> None:
    body = b'{"action": "anything"}'
    resp = await client.post(PATH, data=body, headers=headers(body, event="future_event"))
    assert resp.status == 202
    assert [job.payload["event"] for job in queue.jobs] == ["future_event"]


async def test_form_encoded_payload_is_accepted(
    client: TestClient[Any, Any], queue: RecordingQueue
) -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": PUSH.decode()}).encode()
    hdrs = headers(body, **{"Content-Type": "application/x-www-form-urlencoded"})
    resp = await client.post(PATH, data=body, headers=hdrs)
    assert resp.status == 202
    assert queue.jobs[0].repo == "acme/widgets"


@pytest.mark.parametrize(
    ("body", "overrides"),
    [
        (b"{not json", {}),
        (b"[1, 2, 3]", {}),
        (b'"a string"', {}),
        (b"", {}),
        (b"\xff\xfe{}", {}),
        (b"[" * 100_000 + b"]" * 100_000, {}),
        (PUSH, {"Content-Type": "text/plain"}),
        (PUSH, {"Content-Type": "application/json; charset=no-such-charset"}),
        (b"payload=not-json", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b"other=1", {"Content-Type": "application/x-www-form-urlencoded"}),
        (PUSH, {"X-GitHub-Event": ""}),
        (PUSH, {"X-GitHub-Delivery": ""}),
        (PUSH, {"X-GitHub-Event": "Push Event!"}),
        (PUSH, {"X-GitHub-Delivery": "x" * 500}),
    ],
    ids=[
        "bad-json",
        "array",
        "string",
        "empty",
        "bad-utf8",
        "deep-nesting",
        "text-plain",
        "bad-charset",
        "form-not-json",
        "form-no-payload",
        "no-event",
        "no-delivery",
        "odd-event",
        "long-delivery",
    ],
)
async def test_malformed_deliveries_get_400(
    client: TestClient[Any, Any], queue: RecordingQueue, body: bytes, overrides: dict[str, str]
) -> None:
    resp = await client.post(PATH, data=body, headers={**headers(body), **overrides})
    assert resp.status == 400
    assert "error" in await resp.json()
    assert queue.jobs == []


async def test_missing_event_header_is_400(client: TestClient[Any, Any]) -> None:
    hdrs = headers(PUSH)
    del hdrs["X-GitHub-Event"]
    resp = await client.post(PATH, data=PUSH, headers=hdrs)
    assert resp.status == 400


@pytest.mark.parametrize(
    "payload",
    [
        {"installation": {"id": "42"}, "repository": {"full_name": 7}},
        {"installation": [], "repository": "acme/widgets"},
        {"installation": {"id": True}, "repository": None},
    ],
)
async def test_odd_payload_shapes_are_queued_without_ids(
    client: TestClient[Any, Any], queue: RecordingQueue, payload: dict[str, Any]
) -> None:
    body = json.dumps(payload).encode()
    resp = await client.post(PATH, data=body, headers=headers(body))
    assert resp.status == 202
    assert (queue.jobs[0].installation_id, queue.jobs[0].repo) == (None, None)


async def test_payload_past_25_mib_is_413(client: TestClient[Any, Any]) -> None:
    body = b'{"a": "' + b"x" * MAX_BODY + b'"}'
    resp = await client.post(PATH, data=body, headers=headers(body))
    assert resp.status == 413
    assert "error" in await resp.json()


async def test_payload_just_under_the_cap_is_accepted(client: TestClient[Any, Any]) -> None:
    body = b'{"a": "' + b"x" * (MAX_BODY - 100) + b'"}'
    resp = await client.post(PATH, data=body, headers=headers(body))
    assert resp.status == 202


async def test_closing_queue_answers_503(
    client: TestClient[Any, Any], queue: RecordingQueue
) -> None:
    await queue.close()
    resp = await client.post(PATH, data=PUSH, headers=headers(PUSH))
    assert resp.status == 503
    again = await client.post(PATH, data=PUSH, headers=headers(PUSH))
    assert again.status == 503, "a refused delivery must not be remembered as seen"


async def test_healthz_reports_queue_depth(client: TestClient[Any, Any]) -> None:
    await client.post(PATH, data=PUSH, headers=headers(PUSH))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "queue_depth": 1}


async def test_failing_health_check_makes_healthz_503(client: TestClient[Any, Any]) -> None:
    async def redis_down() -> bool:
        return False

    client.server.app[HEALTH_CHECKS].append(redis_down)
    resp = await client.get("/healthz")
    assert resp.status == 503


async def test_metrics_count_deliveries(client: TestClient[Any, Any]) -> None:
    await client.post(PATH, data=PUSH, headers=headers(PUSH))
    await client.post(PATH, data=PUSH, headers={**headers(PUSH), "X-Hub-Signature-256": ""})
    resp = await client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200
    assert 'bulwark_webhook_deliveries_total{event="push",outcome="accepted"} 1.0' in text
    assert 'outcome="bad_signature"} 1.0' in text
    assert "bulwark_queue_depth" in text
