"""`bulwark serve` with REDIS_URL: enqueue, answer 202; without Redis, 503 and /healthz says so."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_services
from bot.sandbox.webhooks import delivery_headers
from bot.service.redis_queue import QUEUE_NAME, connect
from bot.settings import Settings
from tests.redis.conftest import RedisServer

pytestmark = pytest.mark.redis
SECRET = "It's a Secret to Everybody"
PATH = "/api/github/webhooks"


@pytest.fixture
async def client(
    redis_server: RedisServer, rsa_private_key: str
) -> AsyncIterator[TestClient[Any, Any]]:
    settings = Settings(app_id=1, private_key=rsa_private_key, webhook_secret=SECRET,
                        redis_url=redis_server.url)  # fmt: skip
    async with TestClient(TestServer(build_services(settings))) as c:
        yield c


async def post(client: TestClient[Any, Any], delivery_id: str) -> int:
    body = json.dumps({"action": "opened", "installation": {"id": 7},
                       "repository": {"full_name": "acme/api"}}).encode()  # fmt: skip
    headers = delivery_headers("push", body, SECRET, delivery_id, json.loads(body))
    response = await client.post(PATH, data=body, headers=headers)
    return response.status


async def test_a_delivery_is_queued_in_redis_not_run(
    client: TestClient[Any, Any], redis_server: RedisServer
) -> None:
    assert await post(client, "d-1") == 202
    assert await post(client, "d-1") == 202  # duplicate: acknowledged
    redis = await connect(redis_server.url)
    assert await redis.zrange(QUEUE_NAME, 0, -1) == [b"delivery:d-1"]
    await redis.aclose()


async def test_without_redis_deliveries_get_503_and_healthz_says_so(
    client: TestClient[Any, Any], redis_server: RedisServer
) -> None:
    assert (await client.get("/healthz")).status == 200
    redis_server.stop()
    assert await post(client, "during") == 503
    health = await client.get("/healthz")
    assert health.status == 503 and (await health.json())["status"] == "unavailable"
    redis_server.start()
    assert await post(client, "during") == 202  # GitHub's redelivery is not lost
    assert (await client.get("/healthz")).status == 200


def test_the_in_process_path_does_not_import_redis(rsa_private_key: str) -> None:
    script = (
        "import sys\n"
        "from bot.app import build_services\n"
        "from bot.settings import Settings\n"
        "settings = Settings(app_id=1, private_key=sys.stdin.read(), webhook_secret='s')\n"
        "build_services(settings, runtime=object())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'redis', 'arq'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], input=rsa_private_key,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"
