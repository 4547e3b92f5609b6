"""From nothing to a protecting App, in a real headless Chromium against the sandbox.

The person opens the setup link, sees what the App asks for, clicks "Register on GitHub",
confirms on (the sandbox's) GitHub, lands back with `.env` written, installs the App on
the sample org, and `bulwark serve` started from that `.env` protects the org.
"""

from __future__ import annotations

import asyncio
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import build_services
from bot.clock import SystemClock
from bot.sandbox import Sandbox
from bot.sandbox.app import seed_sample
from bot.settings import Settings, merged_environ
from tests.browser import chromium_binary
from tests.cdp import Tab, browser_tab
from tests.manifest import APP_PERMISSIONS
from tests.setup.flow import TOKEN, setup_page

SERVE_DEADLINE = 60.0


@pytest.fixture
async def fresh_sandbox() -> AsyncIterator[Sandbox]:
    """The sample org with no App installed yet, on the real clock a browser lives on."""
    box = Sandbox(permissions=APP_PERMISSIONS)
    box.state.uninstall(seed_sample(box.state))
    await box.start()
    yield box
    await box.stop()
    assert box.state.violations == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def texts(tab: Tab, selector: str) -> list[str]:
    return list(
        await tab.evaluate(f"[...document.querySelectorAll({selector!r})].map(e => e.innerText)")
    )


async def protected(box: Sandbox) -> bool:
    """Wait until Bulwark's start-up resync has protected the sample org's repositories."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SERVE_DEADLINE
    while loop.time() < deadline:
        web_main = box.state.protection("acme", "web", "main") or {}
        if box.state.protection("acme", "api", "main") and (
            web_main.get("enforce_admins", {}).get("enabled")
        ):
            return True
        await asyncio.sleep(0.1)  # background work finishing, not time that must pass
    return False


async def test_register_install_and_serve_through_the_browser(
    fresh_sandbox: Sandbox, tmp_path: Path
) -> None:
    chromium_binary()  # skips, or fails where BULWARK_REQUIRE_BROWSER is set
    box, env, serve_port = fresh_sandbox, tmp_path / ".env", free_port()
    public = f"http://127.0.0.1:{serve_port}"
    async with (
        setup_page(box, env, SystemClock(), org="acme", public_url=public) as page,
        browser_tab(tmp_path / "profile") as tab,
    ):
        await tab.navigate(f"{page.url}/?token={TOKEN}")
        await tab.screenshot(tmp_path / "1-setup-page.png")
        assert await tab.evaluate("location.href") == page.url + "/"  # token left the address
        rows = await texts(tab, "#permissions tbody tr")
        assert len(rows) == len(APP_PERMISSIONS)
        assert rows[0].startswith("administration: write\t")

        await tab.click("#register")
        await tab.screenshot(tmp_path / "2-github-confirm.png")
        assert (await tab.evaluate("location.href")).startswith(
            f"{box.url}/organizations/acme/settings/apps/new?state="
        )
        assert await tab.evaluate("document.getElementById('owner').innerText") == "acme"

        await tab.click("#create")
        await tab.screenshot(tmp_path / "3-registered.png")
        assert (await tab.evaluate("location.pathname")) == "/callback"
        assert await tab.evaluate("document.getElementById('app-id').innerText") == str(box.app_id)
        install = await tab.evaluate("document.getElementById('install').href")
        assert install == f"https://github.com/apps/{box.app_slug}/installations/new"

        await tab.navigate(f"{page.url}/")
        await tab.screenshot(tmp_path / "4-setup-page-afterwards.png")
        assert "registered already" in await tab.evaluate("document.body.innerText")

    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert box.state.hook_config is not None
    assert box.state.hook_config["url"] == public + "/api/github/webhooks"
    installation = box.state.install("acme")  # the person follows the installation link

    overrides = {"GITHUB_WRITE_INTERVAL": "0", "LOG_FORMAT": "text", "RESYNC_INTERVAL": "3600"}
    settings = Settings.from_env(merged_environ(overrides, tmp_path))
    assert settings.app_id == box.app_id
    runner = web.AppRunner(build_services(settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", serve_port).start()
    try:
        assert await protected(box)
        hello = await box.send_hook("installation", box.payloads.installation_created(installation))
        assert hello.status_code == 202  # GitHub's deliveries verify with the new secret
    finally:
        await runner.cleanup()
    api = box.state.protection("acme", "api", "main") or {}
    assert api["required_pull_request_reviews"]["required_approving_review_count"] == 1
