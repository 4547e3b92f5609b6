"""Builders for the setup tests: a setup page wired to a sandbox, and a browserless walk."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from bot.cli.manifest import load_manifest
from bot.clock import Clock
from bot.github.client import RetryPolicy
from bot.github.clients import manifest_gateway
from bot.sandbox import Sandbox
from bot.service.setup import SetupFlow, create_setup_app

TOKEN = "setup-token-0123456789abcdef0123456789"
PUBLIC_URL = "https://bulwark.acme.test"
_FORM = re.compile(r'<form method="post" action="([^"]*)">\s*<input type="hidden" '
                   r'name="manifest" value="([^"]*)">')  # fmt: skip


@dataclass
class Page:
    """A running setup page."""

    flow: SetupFlow
    url: str


@asynccontextmanager
async def setup_page(
    sandbox: Sandbox, env_path: Path, clock: Clock, *, org: str | None = "acme",
    public_url: str = PUBLIC_URL,
) -> AsyncIterator[Page]:  # fmt: skip
    """Serve a setup page for `sandbox` (as `bulwark setup` does: no access log)."""
    async with aiohttp.ClientSession() as session:
        gateway = manifest_gateway(
            session, sandbox.api_url, clock=clock, retry=RetryPolicy.for_tests()
        )
        flow = SetupFlow(
            manifest=load_manifest(Path("app.yml")),
            convert=gateway.convert,
            token=TOKEN,
            env_path=env_path,
            public_url=public_url,
            api_url=sandbox.api_url,
            org=org,
        )
        runner = web.AppRunner(create_setup_app(flow), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield Page(flow, f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()


def form_of(page: str) -> tuple[str, str]:
    """Return a page's form action and its `manifest` field, unescaped."""
    found = _FORM.search(page)
    assert found is not None, page
    return html.unescape(found.group(1)), html.unescape(found.group(2))


async def opened(client: aiohttp.ClientSession, page: Page) -> str:
    """Open the page with the token (it moves to a cookie); return the register page."""
    async with client.get(f"{page.url}/?token={TOKEN}") as resp:
        assert resp.status == 200, await resp.text()
        return await resp.text()


async def confirm_on_github(client: aiohttp.ClientSession, register_page: str) -> str:
    """Do what the person does on GitHub; return the URL GitHub redirects to."""
    action, manifest = form_of(register_page)
    async with client.post(action, data={"manifest": manifest}) as resp:
        assert resp.status == 200, await resp.text()
        confirm_action, confirm_manifest = form_of(await resp.text())
    base = action.split("/organizations/")[0].split("/settings/")[0]
    async with client.post(
        base + confirm_action, data={"manifest": confirm_manifest}, allow_redirects=False
    ) as resp:
        assert resp.status == 302, await resp.text()
        return resp.headers["Location"]


def query_of(url: str) -> dict[str, Any]:
    """Return a URL's query."""
    return dict(URL(url).query)


def client() -> aiohttp.ClientSession:
    """Return a session that keeps cookies of 127.0.0.1, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
