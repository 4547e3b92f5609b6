"""`bulwark setup`'s page against the sandbox, without a browser: tokens, states, .env."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from bot.settings import Settings, merged_environ
from tests.manifest import APP_PERMISSIONS
from tests.setup.flow import (
    PUBLIC_URL,
    TOKEN,
    client,
    confirm_on_github,
    form_of,
    opened,
    query_of,
    setup_page,
)

CONVERSION = "/app-manifests/{code}/conversions"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def conversions(sandbox: Sandbox) -> list[int]:
    return [r.status for r in sandbox.requests if r.template == CONVERSION]


async def test_page_lists_each_permission_and_event_with_its_reason(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock
) -> None:
    async with setup_page(sandbox, tmp_path / ".env", clock) as page, client() as c:
        text = await opened(c, page)
    for name, level in APP_PERMISSIONS.items():
        assert f"<code>{name}: {level}</code>" in text
    assert "<td>read and write branch protection and repository rulesets</td>" in text
    assert "<td>/protection slash commands</td>" in text  # the issue_comment event's reason
    assert 'id="register">Register on GitHub</button>' in text


async def test_manifest_posts_to_the_orgs_new_app_page_with_the_webhook_and_callback(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock
) -> None:
    async with setup_page(sandbox, tmp_path / ".env", clock) as page, client() as c:
        action, manifest = form_of(await opened(c, page))
    assert action.startswith(f"{sandbox.url}/organizations/acme/settings/apps/new?state=")
    assert f'"url": "{PUBLIC_URL}/api/github/webhooks"' in manifest
    assert f'"redirect_url": "{page.url}/callback"' in manifest
    assert '"administration": "write"' in manifest


async def test_without_org_the_manifest_goes_to_the_users_new_app_page(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock
) -> None:
    async with (
        setup_page(sandbox, tmp_path / ".env", clock, org=None) as page,
        client() as c,
    ):
        action, _ = form_of(await opened(c, page))
    assert action.startswith(f"{sandbox.url}/settings/apps/new?state=")


async def test_the_token_moves_from_the_address_to_a_cookie(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock
) -> None:
    async with (
        setup_page(sandbox, tmp_path / ".env", clock) as page,
        client() as c,
        c.get(f"{page.url}/?token={TOKEN}", allow_redirects=False) as resp,
    ):
        assert resp.status == 302
        assert resp.headers["Location"] == "/"
        cookie = resp.cookies["bulwark_setup"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


@pytest.mark.parametrize("path", ["/", "/?token=wrong", "/callback?code=c&state=s"])
async def test_a_wrong_or_missing_token_is_403(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock, path: str
) -> None:
    async with (
        setup_page(sandbox, tmp_path / ".env", clock) as page,
        client() as c,
        c.get(page.url + path) as resp,
    ):
        assert resp.status == 403
        assert "Wrong or missing setup token" in await resp.text()
    assert conversions(sandbox) == []


async def test_a_forged_state_is_refused_and_the_code_not_exchanged(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock
) -> None:
    env = tmp_path / ".env"
    async with setup_page(sandbox, env, clock) as page, client() as c:
        back = await confirm_on_github(c, await opened(c, page))
        code = query_of(back)["code"]
        async with c.get(f"{page.url}/callback", params={"code": code, "state": "forged"}) as r:
            assert r.status == 400
            assert "does not match a registration started here" in await r.text()
    assert not env.exists()
    assert conversions(sandbox) == []


async def test_a_state_is_used_once(sandbox: Sandbox, tmp_path: Path, clock: FakeClock) -> None:
    env = tmp_path / ".env"
    async with setup_page(sandbox, env, clock) as page, client() as c:
        back = await confirm_on_github(c, await opened(c, page))
        async with c.get(back) as first:
            assert first.status == 200
        env.unlink()  # even with .env gone, the same answer is not taken twice
        page.flow.registered = False
        async with c.get(back) as second:
            assert second.status == 400
    assert conversions(sandbox) == [201]


async def test_an_existing_env_is_never_overwritten(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock
) -> None:
    env = tmp_path / ".env"
    async with setup_page(sandbox, env, clock) as page, client() as c:
        back = await confirm_on_github(c, await opened(c, page))
        env.write_text("APP_ID=7\n")
        async with c.get(back) as resp:
            assert resp.status == 409
            assert "nothing was overwritten" in await resp.text()
        async with c.get(page.url + "/") as resp:
            assert resp.status == 409  # the page itself is gone once credentials exist
    assert env.read_text() == "APP_ID=7\n"
    assert conversions(sandbox) == []


async def test_a_code_used_already_shows_an_error_and_writes_nothing(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock
) -> None:
    env = tmp_path / ".env"
    async with setup_page(sandbox, env, clock) as page, client() as c:
        back = await confirm_on_github(c, await opened(c, page))
        code = query_of(back)["code"]
        async with c.post(f"{sandbox.api_url}/app-manifests/{code}/conversions") as used:
            assert used.status == 201  # someone exchanged it first
        async with c.get(back) as resp:
            assert resp.status == 410
            assert "used already or has expired" in await resp.text()
    assert not env.exists()
    assert conversions(sandbox) == [201, 404]


async def test_env_holds_the_new_apps_credentials_readable_by_the_owner_only(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock
) -> None:
    env = tmp_path / ".env"
    async with setup_page(sandbox, env, clock) as page, client() as c:
        back = await confirm_on_github(c, await opened(c, page))
        async with c.get(back) as resp:
            text = await resp.text()
    assert resp.status == 200
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    settings = Settings.from_env(merged_environ({}, tmp_path))
    assert settings.app_id == sandbox.app_id != 424242  # the App just registered
    assert settings.webhook_secret == sandbox.webhook_secret
    assert settings.github_api_url == sandbox.api_url
    assert f'href="https://github.com/apps/{sandbox.app_slug}/installations/new"' in text
    assert "bulwark serve" in text
    assert files_in(tmp_path) == [".env"]  # no temporary file left


async def test_no_secret_reaches_a_log_or_the_terminal(
    sandbox: Sandbox,
    tmp_path: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    env = tmp_path / ".env"
    async with setup_page(sandbox, env, clock) as page, client() as c:
        back = await confirm_on_github(c, await opened(c, page))
        async with c.get(back) as resp:
            assert resp.status == 200
    settings = Settings.from_env(merged_environ({}, tmp_path))
    key_body = settings.private_key.splitlines()[1]
    secrets = [TOKEN, key_body, settings.webhook_secret, *query_of(back).values()]
    out = capsys.readouterr()
    assert "registered App" in caplog.text  # the log says what happened …
    for secret in secrets:  # … and nothing that unlocks it
        assert secret not in caplog.text
        assert secret not in out.out + out.err
