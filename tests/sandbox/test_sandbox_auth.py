"""App JWTs, installation tokens and their scope."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from tests.fixtures import rsa_private_key_pem
from tests.manifest import APP_PERMISSIONS


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(clock=FakeClock(), permissions=APP_PERMISSIONS)
    sb.state.add_org("acme")
    sb.state.add_repo("acme", "web")
    sb.state.add_repo("acme", "api")
    sb.state.add_org("other")
    sb.state.add_repo("other", "secret")
    await sb.start()
    yield sb
    await sb.stop()


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.url) as session:
        yield session


def app_jwt(sandbox: Sandbox, *, key: str | None = None, iat: float = -30, exp: float = 540) -> str:
    now = sandbox.clock.time()
    claims = {"iat": int(now + iat), "exp": int(now + exp), "iss": str(sandbox.app_id)}
    return jwt.encode(claims, key or sandbox.private_key_pem, algorithm="RS256")


async def test_valid_jwt_lists_installations(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    inst = sandbox.state.install("acme")
    headers = {"Authorization": f"Bearer {app_jwt(sandbox)}"}
    async with http.get("/app/installations", headers=headers) as response:
        assert response.status == 200
        assert [i["id"] for i in await response.json()] == [inst]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda sb: app_jwt(sb, key=rsa_private_key_pem()), id="wrong-key"),
        pytest.param(lambda sb: app_jwt(sb, iat=-900, exp=-300), id="expired"),
        pytest.param(lambda sb: app_jwt(sb, iat=300, exp=600), id="future-iat"),
        pytest.param(lambda sb: app_jwt(sb, iat=0, exp=900), id="too-long"),
        pytest.param(lambda sb: "not-a-jwt", id="garbage"),
    ],
)
async def test_bad_jwt_is_refused(sandbox: Sandbox, http: aiohttp.ClientSession, make) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {make(sandbox)}"}
    async with http.get("/app", headers=headers) as response:
        assert response.status == 401


async def token_for(sandbox: Sandbox, http: aiohttp.ClientSession, inst: int) -> str:
    headers = {"Authorization": f"Bearer {app_jwt(sandbox)}"}
    async with http.post(f"/app/installations/{inst}/access_tokens", headers=headers) as response:
        assert response.status == 201
        return str((await response.json())["token"])


async def test_token_is_scoped_to_its_installation(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    inst = sandbox.state.install("acme", repositories=["web"])
    headers = {"Authorization": f"token {await token_for(sandbox, http, inst)}"}
    async with http.get("/repos/acme/web", headers=headers) as response:
        assert response.status == 200
    for outside in ("/repos/acme/api", "/repos/other/secret"):
        async with http.get(outside, headers=headers) as response:
            assert response.status == 404


async def test_token_expires_after_an_hour(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    inst = sandbox.state.install("acme")
    headers = {"Authorization": f"token {await token_for(sandbox, http, inst)}"}
    assert isinstance(sandbox.clock, FakeClock)
    sandbox.clock.advance(3601)
    async with http.get("/repos/acme/web", headers=headers) as response:
        assert response.status == 401
        assert (await response.json())["message"] == "Bad credentials"


async def test_revoked_token_is_refused(sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    inst = sandbox.state.install("acme")
    headers = {"Authorization": f"token {await token_for(sandbox, http, inst)}"}
    sandbox.state.revoke_tokens(inst)
    async with http.get("/repos/acme/web", headers=headers) as response:
        assert response.status == 401


async def test_suspended_installation_gets_no_token(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    inst = sandbox.state.install("acme", suspended=True)
    headers = {"Authorization": f"Bearer {app_jwt(sandbox)}"}
    async with http.post(f"/app/installations/{inst}/access_tokens", headers=headers) as response:
        assert response.status == 403
        assert "suspended" in (await response.json())["message"]


async def test_personal_token_reaches_orgs_of_its_user(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    sandbox.state.add_org_owner("acme", "alice")
    sandbox.state.add_personal_token("ghp_alice", "alice")
    headers = {"Authorization": "token ghp_alice"}
    async with http.get("/orgs/acme/repos", headers=headers) as response:
        assert {r["name"] for r in await response.json()} == {"web", "api"}
    async with http.get("/repos/other/secret", headers=headers) as response:
        assert response.status == 404


async def test_missing_credentials_are_refused(http: aiohttp.ClientSession) -> None:
    async with http.get("/repos/acme/web") as response:
        assert response.status == 401
