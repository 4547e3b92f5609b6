"""Large GitHub answers are decoded off the event loop; small ones, and errors, as before."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from gidgethub import BadRequest, sansio

from bot.github import client
from bot.github.client import DECODE_OFF_LOOP

HEADERS = {
    "content-type": "application/json; charset=utf-8",
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": "4999",
    "x-ratelimit-reset": "1700000000",
}


@pytest.fixture
def decoded_on(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the thread each answer is decoded on."""
    threads: list[int] = []
    decipher = sansio.decipher_response

    def recording(status: int, headers: Any, body: bytes) -> Any:
        threads.append(threading.get_ident())
        return decipher(status, headers, body)

    monkeypatch.setattr(sansio, "decipher_response", recording)
    return threads


def page(size: int) -> bytes:
    nodes = [{"nameWithOwner": f"acme/r{i}", "isPrivate": False} for i in range(size // 40)]
    return json.dumps({"data": {"organization": {"repositories": {"nodes": nodes}}}}).encode()


async def test_a_large_answer_is_decoded_in_a_worker_thread(decoded_on: list[int]) -> None:
    body = page(2 * DECODE_OFF_LOOP)
    assert len(body) >= DECODE_OFF_LOOP

    data, limit, more = await client._decipher(200, HEADERS, body)

    assert data == json.loads(body)
    assert limit is not None and limit.remaining == 4999
    assert more is None
    assert decoded_on and decoded_on[0] != threading.get_ident()


async def test_a_small_answer_is_decoded_on_the_loop(decoded_on: list[int]) -> None:
    body = page(DECODE_OFF_LOOP // 4)

    data, _, _ = await client._decipher(200, HEADERS, body)

    assert data == json.loads(body)
    assert decoded_on == [threading.get_ident()]


async def test_a_large_error_answer_raises_as_gidgethub_would(decoded_on: list[int]) -> None:
    body = json.dumps({"message": "Not Found", "padding": "x" * DECODE_OFF_LOOP}).encode()

    with pytest.raises(BadRequest) as raised:
        await client._decipher(404, HEADERS, body)

    assert raised.value.status_code == 404
    assert "Not Found" in str(raised.value)
    assert decoded_on[0] != threading.get_ident()
