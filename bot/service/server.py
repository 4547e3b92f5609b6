"""The webhook service: verify, parse, dedupe and enqueue deliveries; health and metrics.

No GitHub call happens on the request path: GitHub gives a delivery 10 seconds
(https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks),
so the handler only acknowledges and the worker does the rest.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from gidgethub import ValidationFailure, sansio
from multidict import CIMultiDictProxy

from bot.clock import Clock
from bot.logs import log_context
from bot.metrics import Metrics
from bot.service.queue import Job, JobKind, Runner, WorkQueue
from bot.settings import Settings
from bot.store.deliveries import DeliveryMemory

# GitHub caps webhook payloads at 25 MB and does not send larger ones.
# https://docs.github.com/en/webhooks/webhook-events-and-payloads#payload-cap
MAX_BODY = 25 * 1024 * 1024
_SIGNATURE = re.compile(r"sha256=[0-9a-fA-F]{64}")
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

Hook = Callable[[web.Application], Awaitable[None]]
HealthCheck = Callable[[], Awaitable[bool]]

log = logging.getLogger("bot.service.server")


def forgetting_failures(runner: Runner, seen: DeliveryMemory) -> Runner:
    """Wrap a queue runner: a delivery whose job raised may be redelivered and run again."""

    async def run(job: Job) -> None:
        try:
            await runner(job)
        except Exception:
            # A delivery's own job, or work it queued (same delivery id), failed.
            seen.forget(job.delivery_id)
            raise

    return run


class _State:
    """What the webhook handler needs, kept under one AppKey."""

    def __init__(
        self, settings: Settings, queue: WorkQueue, metrics: Metrics, seen: DeliveryMemory
    ):
        self.settings = settings
        self.queue = queue
        self.metrics = metrics
        self.seen = seen
        self.in_flight: set[str] = set()
        self.health_checks: list[HealthCheck] = []


STATE = web.AppKey("bulwark_state", _State)
QUEUE = web.AppKey("bulwark_queue", WorkQueue)
HEALTH_CHECKS = web.AppKey("bulwark_health_checks", list[HealthCheck])


def create_app(
    settings: Settings,
    *,
    queue: WorkQueue,
    metrics: Metrics,
    clock: Clock,
    on_startup: Sequence[Hook] = (),
    on_cleanup: Sequence[Hook] = (),
    seen: DeliveryMemory | None = None,
) -> web.Application:
    """Build the aiohttp application: webhook endpoint, /healthz and /metrics."""
    app = web.Application(client_max_size=MAX_BODY + 1024)
    state = _State(settings, queue, metrics, seen if seen is not None else DeliveryMemory(clock))
    app[STATE] = state
    app[QUEUE] = queue
    app[HEALTH_CHECKS] = state.health_checks
    app.router.add_post(settings.webhook_path, webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    app.on_startup.extend(on_startup)
    app.on_cleanup.extend(on_cleanup)
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _reject(state: _State, event: str, outcome: str, status: int, message: str) -> web.Response:
    state.metrics.delivery(event, outcome)
    log.info("delivery refused: %s (%s)", message, status)
    return _error(status, message)


async def _read_body(request: web.Request) -> bytes | None:
    if (request.content_length or 0) > MAX_BODY:
        return None
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None
    return body if len(body) <= MAX_BODY else None


def _single(headers: CIMultiDictProxy[str], name: str) -> str:
    """Return a header sent exactly once; "" when it is missing or repeated (ambiguous)."""
    values = headers.getall(name, [])
    return values[0] if len(values) == 1 else ""


def _signature_ok(signature: str, body: bytes, secret: str) -> bool:
    # Only sha256: a request carrying only the legacy sha1 `X-Hub-Signature` is refused.
    if not _SIGNATURE.fullmatch(signature):
        return False
    try:
        sansio.validate_event(body, signature=signature.lower(), secret=secret)
    except ValidationFailure:
        return False
    return True


def _parse(headers: Mapping[str, str], body: bytes) -> sansio.Event | None:
    """Decode JSON or form-encoded (`payload=`) bodies as gidgethub does; None if malformed."""
    # No signature header is passed on: it was checked already, sha256 only.
    plain = {
        "content-type": headers.get("Content-Type", ""),
        "x-github-event": headers.get("X-GitHub-Event", ""),
        "x-github-delivery": headers.get("X-GitHub-Delivery", ""),
    }
    try:
        if plain["content-type"] == "application/json":
            # What GitHub sends: decode it directly (from_http's content-type parsing
            # through email.message costs as much as the JSON itself).
            event = sansio.Event(
                json.loads(body.decode("utf-8")),
                event=plain["x-github-event"],
                delivery_id=plain["x-github-delivery"],
            )
        else:
            event = sansio.Event.from_http(plain, body)
    except Exception:  # any failure to decode untrusted input is a malformed body
        return None
    return event if isinstance(event.data, dict) else None


def _job(event: sansio.Event) -> Job:
    data: dict[str, Any] = event.data
    installation = data.get("installation")
    repository = data.get("repository")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    repo = repository.get("full_name") if isinstance(repository, dict) else None
    return Job(
        kind=JobKind.DELIVERY,
        delivery_id=event.delivery_id,
        installation_id=installation_id if type(installation_id) is int else None,
        repo=repo if isinstance(repo, str) else None,
        payload={"event": event.event, "data": data},
    )


async def webhook(request: web.Request) -> web.Response:
    """Verify a GitHub delivery and put it on the queue (202), or say why not."""
    state = request.app[STATE]
    body = await _read_body(request)
    if body is None:
        return _reject(state, "-", "too_large", 413, f"payload larger than {MAX_BODY} bytes")
    signature = _single(request.headers, "X-Hub-Signature-256")
    if not _signature_ok(signature, body, state.settings.webhook_secret):
        return _reject(state, "-", "bad_signature", 401, "missing or invalid X-Hub-Signature-256")
    name = _single(request.headers, "X-GitHub-Event")
    delivery_id = _single(request.headers, "X-GitHub-Delivery")
    if not _EVENT_NAME.fullmatch(name) or not _DELIVERY_ID.fullmatch(delivery_id):
        return _reject(state, "-", "malformed", 400, "missing X-GitHub-Event or X-GitHub-Delivery")
    event = _parse(request.headers, body)
    if event is None:
        return _reject(state, name, "malformed", 400, "body is not a JSON object")
    return await _accept(state, event)


async def _accept(state: _State, event: sansio.Event) -> web.Response:
    job = _job(event)
    action = event.data.get("action")
    with log_context(
        delivery_id=event.delivery_id,
        event=event.event,
        action=action if isinstance(action, str) else None,
        installation=job.installation_id,
        repo=job.repo,
    ):
        if event.event == "ping":
            state.metrics.delivery("ping", "ping")
            log.info("ping received")
            return web.json_response({"ok": True, "zen": event.data.get("zen")})
        if event.delivery_id in state.seen or event.delivery_id in state.in_flight:
            state.metrics.delivery(event.event, "duplicate")
            log.info("duplicate delivery ignored")
            return web.json_response({"status": "duplicate"}, status=202)
        return await _enqueue(state, job, event.event)


async def _enqueue(state: _State, job: Job, event: str) -> web.Response:
    state.in_flight.add(job.delivery_id)
    try:
        queued = await state.queue.put(job)
    except Exception:
        # The queue is unreachable (Redis down): GitHub records the failed delivery and
        # the next resync repairs whatever it would have done.
        log.exception("delivery refused: the queue is unavailable")
        state.metrics.delivery(event, "unavailable")
        return _error(503, "queue unavailable")
    finally:
        state.in_flight.discard(job.delivery_id)
    if not queued:
        # Delivery jobs carry no dedupe key, so a refusal means the queue is closing.
        log.warning("delivery refused: shutting down")
        state.metrics.delivery(event, "shutting_down")
        return _error(503, "shutting down")
    state.seen.add(job.delivery_id)
    state.metrics.delivery(event, "accepted")
    # The INFO line of an accepted delivery is written when a worker takes it up
    # (bot/service/runtime.py): the acknowledgement path stays as short as it can be.
    log.debug("delivery queued")
    return web.json_response({"status": "queued"}, status=202)


async def healthz(request: web.Request) -> web.Response:
    """Report readiness: 200 with the queue depth, 503 when a health check fails."""
    state = request.app[STATE]
    healthy = all([await _check(check) for check in state.health_checks])
    body = {"status": "ok" if healthy else "unavailable", "queue_depth": state.queue.depth()}
    return web.json_response(body, status=200 if healthy else 503)


async def _check(check: HealthCheck) -> bool:
    try:
        return await check()
    except Exception:
        log.exception("health check failed")
        return False


async def metrics_view(request: web.Request) -> web.Response:
    """Serve every metric in Prometheus text format."""
    body = request.app[STATE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})
