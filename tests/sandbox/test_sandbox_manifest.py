"""The sandbox plays github.com's manifest flow: pages, redirect, one conversion per code."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import jwt
import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from bot.sandbox.openapi import load_rest_spec

MANIFEST = {
    "name": "Bulwark",
    "url": "https://bulwark.example",
    "hook_attributes": {"url": "https://bulwark.example/hooks"},
    "redirect_url": "https://bulwark.example/callback",
    "default_permissions": {"checks": "write", "metadata": "read"},
    "default_events": ["push"],
}
CONVERSION = "/app-manifests/{code}/conversions"


async def register(box: Sandbox, org: str | None = "acme", state: str = "st") -> str:
    """Post the manifest, confirm, and return the code GitHub redirects with."""
    base = f"{box.url}/organizations/{org}/settings/apps" if org else f"{box.url}/settings/apps"
    form = {"manifest": json.dumps(MANIFEST)}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/new?state={state}", data=form) as page:
            assert page.status == 200
            action = base.removeprefix(box.url) + f"?state={state}"
            assert f'action="{action}"' in await page.text()
        async with s.post(f"{base}?state={state}", data=form, allow_redirects=False) as done:
            assert done.status == 302
            location = done.headers["Location"]
    assert location.startswith(MANIFEST["redirect_url"] + "?code=")
    assert location.endswith(f"&state={state}")
    return location.split("code=")[1].split("&")[0]


async def convert(box: Sandbox, code: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{box.api_url}/app-manifests/{code}/conversions") as r,
    ):
        return r.status, await r.json()


async def test_a_conversion_answers_as_github_describes(sandbox: Sandbox) -> None:
    status, app = await convert(sandbox, await register(sandbox))
    assert status == 201
    assert load_rest_spec().response_errors("post", CONVERSION, 201, app) == []
    assert app["owner"]["login"] == "acme"
    assert app["permissions"] == MANIFEST["default_permissions"]
    assert app["events"] == ["push"]
    assert app["id"] == sandbox.app_id and app["webhook_secret"] == sandbox.webhook_secret


async def test_a_code_is_exchanged_once(sandbox: Sandbox) -> None:
    code = await register(sandbox)
    assert (await convert(sandbox, code))[0] == 201
    status, body = await convert(sandbox, code)
    assert status == 404
    assert body["message"] == "Not Found"


async def test_a_code_expires_after_an_hour(sandbox: Sandbox, clock: FakeClock) -> None:
    code = await register(sandbox)
    clock.advance(3601)
    assert (await convert(sandbox, code))[0] == 404


async def test_the_new_app_signs_in_with_its_own_key_only(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    old_key = sandbox.private_key_pem
    _, app = await convert(sandbox, await register(sandbox, org=None))
    assert app["owner"]["login"] == "alice"

    async def get_app(key: str) -> int:
        now = int(clock.time())
        token = jwt.encode({"iat": now - 60, "exp": now + 540, "iss": str(app["id"])}, key, "RS256")
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"{sandbox.api_url}/app", headers=headers) as r,
        ):
            return r.status

    assert await get_app(app["pem"]) == 200
    assert await get_app(old_key) == 401
    assert sandbox.state.hook_config is not None
    assert sandbox.state.hook_config["url"] == "https://bulwark.example/hooks"


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        ("/organizations/nobody/settings/apps/new", {"manifest": json.dumps(MANIFEST)}, 404),
        ("/settings/apps/new", {"manifest": "{not json"}, 422),
        ("/settings/apps/new", {"manifest": json.dumps({"url": "https://x"})}, 422),
    ],
)
async def test_the_new_app_page_refuses_what_github_would(
    sandbox: Sandbox, path: str, form: dict[str, str], status: int
) -> None:
    async with aiohttp.ClientSession() as s, s.post(sandbox.url + path, data=form) as r:
        assert r.status == status
    assert sandbox.state.manifest_codes == {}
