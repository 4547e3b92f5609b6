"""The one low-level fake: a GitHubClient whose `_request` plays scripted responses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.clock import FakeClock
from bot.github.client import GitHubClient, RetryPolicy, WriteGate

Response = tuple[int, Mapping[str, str], bytes]


def reply(status: int = 200, body: Any = None, **headers: str) -> Response:
    """Build a JSON response; header names use `_` for `-`."""
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    payload = b"" if body is None else json.dumps(body).encode()
    return status, {"content-type": "application/json; charset=utf-8", **named}, payload


class ScriptedClient(GitHubClient):
    """Answers each request with the next scripted response (or raises it)."""

    def __init__(self, script: list[Response | BaseException], **kwargs: Any) -> None:
        super().__init__(None, "bulwark-tests", base_url="https://api.test", **kwargs)  # type: ignore[arg-type]
        self.script = list(script)
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Response:
        self.requests.append((method, url, dict(headers), body))
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


def scripted(
    script: list[Response | BaseException],
    clock: FakeClock | None = None,
    *,
    token: Callable[[], Awaitable[str]] | None = None,
    on_unauthorized: Callable[[str], None] | None = None,
    write_interval: float = 0.0,
    retry: RetryPolicy | None = None,
    cache: dict[str, Any] | None = None,
) -> ScriptedClient:
    """Build a scripted client on a fake clock with zero back-off."""
    clock = clock or FakeClock()

    async def fixed() -> str:
        return "ghs_fixed"

    return ScriptedClient(
        script,
        token_provider=token or fixed,
        on_unauthorized=on_unauthorized,
        cache=cache,
        clock=clock,
        retry=retry or RetryPolicy.for_tests(),
        writes=WriteGate(write_interval, clock),
        reads=asyncio.Semaphore(8),
        installation_id=42,
    )
