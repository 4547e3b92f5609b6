"""The App's webhook: its configuration, its delivery log, and redeliveries (same GUID).

https://docs.github.com/en/rest/apps/webhooks
"""

from __future__ import annotations

import json
import uuid

import aiohttp
from aiohttp import web
from yarl import URL

from bot.clock import isoformat
from bot.sandbox.routes_common import error, int_query, not_found, respond, state_of
from bot.sandbox.state import JSON, HookDelivery, State
from bot.sandbox.webhooks import delivery_headers

routes = web.RouteTableDef()
DELIVERY_TIME_LIMIT = 10.0  # GitHub gives a delivery 10 seconds
# Redeliveries are possible only within three days of the original delivery.
# https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks
REDELIVERY_WINDOW = 3 * 24 * 3600.0


@routes.get("/app/hook/config")
async def get_hook_config(request: web.Request) -> web.Response:
    """Return the App's webhook configuration; GitHub masks a set secret."""
    config = state_of(request).hook_config
    if config is None:
        raise not_found()
    shown = {**config, "secret": "********" if config.get("secret") else None}
    return respond(shown)


@routes.get("/app/hook/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """List deliveries newest first, paged by an opaque `cursor` in the Link header."""
    state = state_of(request)
    items = sorted(state.hook_deliveries, key=lambda d: d.id, reverse=True)
    status = request.query.get("status")
    if status is not None:
        items = [d for d in items if (d.status == "OK") == (status == "success")]
    per_page = min(max(int_query(request, "per_page", 30), 1), 100)
    cursor = request.query.get("cursor")
    if cursor:
        items = [d for d in items if d.id < _cursor_id(cursor)]
    page = items[:per_page]
    headers = {}
    if len(items) > per_page:
        after = URL(state.base_url).join(request.rel_url).update_query(cursor=f"v1_{page[-1].id}")
        headers["Link"] = f'<{after}>; rel="next"'
    return respond([delivery_json(d) for d in page], headers=headers)


def _cursor_id(cursor: str) -> int:
    try:
        return int(cursor.removeprefix("v1_"))
    except ValueError:
        raise error(422, "Invalid cursor") from None


@routes.get("/app/hook/deliveries/{delivery_id}")
async def get_delivery(request: web.Request) -> web.Response:
    """Return one delivery."""
    return respond(delivery_json(_delivery(request)))


@routes.post("/app/hook/deliveries/{delivery_id}/attempts")
async def redeliver(request: web.Request) -> web.Response:
    """Deliver a delivery again with the same GUID, as a new entry in the log."""
    state = state_of(request)
    original = _delivery(request)
    if state.clock.time() - original.delivered_at > REDELIVERY_WINDOW:
        raise error(422, "This delivery is too old to be redelivered.")
    # GitHub answers 202 and delivers soon after; the sandbox delivers first, so a test
    # that waited for the answer sees the redelivery in the log.
    secret = str((state.hook_config or {}).get("secret") or "")
    await send_hook(
        state, original.event, original.payload, secret, guid=original.guid, redelivery=True
    )  # fmt: skip
    return respond({}, 202)


def _delivery(request: web.Request) -> HookDelivery:
    state = state_of(request)
    try:
        wanted = int(request.match_info["delivery_id"])
    except ValueError:
        raise not_found() from None
    found = next((d for d in state.hook_deliveries if d.id == wanted), None)
    if found is None:
        raise not_found()
    return found


def delivery_json(delivery: HookDelivery) -> JSON:
    """Render a delivery as the list and the single view show it (no request/response)."""
    return {
        "id": delivery.id,
        "guid": delivery.guid,
        "delivered_at": isoformat(delivery.delivered_at),
        "redelivery": delivery.redelivery,
        "duration": delivery.duration,
        "status": delivery.status,
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": delivery.payload.get("action"),
        "installation_id": (delivery.payload.get("installation") or {}).get("id"),
        "repository_id": (delivery.payload.get("repository") or {}).get("id"),
        "throttled_at": None,
    }


def record(
    state: State, event: str, payload: JSON, guid: str, status_code: int, *, redelivery: bool
) -> HookDelivery:
    """Log one delivery attempt; a 2xx answer is "OK", anything else a failure."""
    if status_code == 0:
        status = "failed to connect to host"
    elif 200 <= status_code < 300:
        status = "OK"
    else:
        status = f"Invalid HTTP Response: {status_code}"
    delivery = HookDelivery(
        id=state.new_id(), guid=guid, event=event, action=payload.get("action"),
        installation_id=(payload.get("installation") or {}).get("id"),
        repository_id=(payload.get("repository") or {}).get("id"), payload=payload,
        delivered_at=state.clock.time(), status_code=status_code, status=status,
        redelivery=redelivery,
    )  # fmt: skip
    state.hook_deliveries.append(delivery)
    return delivery


async def send_hook(
    state: State,
    event: str,
    payload: JSON,
    secret: str,
    *,
    guid: str | None = None,
    redelivery: bool = False,
) -> HookDelivery:
    """Deliver an event to the App's webhook URL, signed, and log the attempt."""
    guid = guid or str(uuid.uuid4())
    url = str((state.hook_config or {}).get("url") or "")
    body = json.dumps(payload).encode()
    headers = delivery_headers(event, body, secret, guid, payload)
    try:
        timeout = aiohttp.ClientTimeout(total=DELIVERY_TIME_LIMIT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            await response.read()
            status_code = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError):
        status_code = 0
    return record(state, event, payload, guid, status_code, redelivery=redelivery)
