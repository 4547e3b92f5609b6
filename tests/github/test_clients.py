"""GitHubClients wiring over a real ClientSession (until the sandbox covers it)."""

import jwt as pyjwt
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bot.clock import FakeClock, isoformat
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients


async def test_installation_gateway_fetches_one_token_and_uses_it(tmp_path, rsa_private_key):
    clock = FakeClock()
    seen: list[tuple[str, str]] = []

    async def access_token(request: web.Request) -> web.Response:
        bearer = request.headers["Authorization"].removeprefix("bearer ")
        claims = pyjwt.decode(bearer, options={"verify_signature": False})
        seen.append(("token", claims["iss"]))
        expires = isoformat(clock.time() + 3600)
        return web.json_response({"token": "ghs_abc", "expires_at": expires}, status=201)

    async def repo(request: web.Request) -> web.Response:
        seen.append(("repo", request.headers["Authorization"]))
        return web.json_response({"full_name": "o/r"})

    app = web.Application()
    app.router.add_post("/app/installations/{id}/access_tokens", access_token)
    app.router.add_get("/repos/{owner}/{repo}", repo)
    async with TestServer(app) as server, ClientSession() as session:
        url = str(server.make_url("")).rstrip("/")
        clients = GitHubClients(
            7, rsa_private_key, url, url + "/graphql", 0.0,
            session=session, clock=clock, retry=RetryPolicy.for_tests(),
        )  # fmt: skip
        gateway = clients.for_installation(99)
        assert await gateway.repo("o", "r") == {"full_name": "o/r"}
        assert await clients.for_installation(99).repo("o", "r") == {"full_name": "o/r"}
    assert seen == [("token", "7"), ("repo", "token ghs_abc"), ("repo", "token ghs_abc")]


def test_installations_never_share_an_etag_cache():
    clients = GitHubClients(
        7, "unused", "https://api.test", "https://api.test/graphql", 0.0,
        session=None, clock=FakeClock(), retry=RetryPolicy.for_tests(),  # type: ignore[arg-type]
    )  # fmt: skip
    one = clients.for_installation(1).client
    two = clients.for_installation(2).client
    again = clients.for_installation(1).client
    assert one._cache is again._cache
    assert one._cache is not two._cache
