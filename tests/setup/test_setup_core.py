"""The setup page's pure parts: GitHub's URLs, the manifest, `.env`, escaping."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.manifest import load_manifest
from bot.core.manifest import parse_manifest
from bot.core.setup import (
    app_manifest,
    dotenv_text,
    installation_url,
    register_page,
    registration_url,
    web_url,
)
from bot.service.setup import DotenvExists, write_dotenv
from bot.settings import Settings, read_dotenv
from tests.fixtures import rsa_private_key_pem


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://ghes.example.com/api/v3", "https://ghes.example.com"),
        ("https://api.acme.ghe.com", "https://acme.ghe.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_web_url_follows_the_api_url(api: str, web: str) -> None:
    assert web_url(api) == web


@pytest.mark.parametrize(
    ("org", "url"),
    [
        ("acme", "https://github.com/organizations/acme/settings/apps/new?state=s1"),
        (None, "https://github.com/settings/apps/new?state=s1"),
        ("a/b", "https://github.com/organizations/a%2Fb/settings/apps/new?state=s1"),
    ],
)
def test_registration_url(org: str | None, url: str) -> None:
    assert registration_url("https://github.com", org, "s1") == url


def test_installation_url() -> None:
    assert installation_url("https://github.com/apps/bulwark") == (
        "https://github.com/apps/bulwark/installations/new"
    )


def test_manifest_points_the_webhook_at_the_public_url_and_returns_here() -> None:
    doc = app_manifest(
        load_manifest(Path("app.yml")),
        "https://b.example/",
        "/hooks",
        "http://127.0.0.1:3000/callback",
    )
    assert doc["hook_attributes"] == {"url": "https://b.example/hooks", "active": True}
    assert doc["redirect_url"] == "http://127.0.0.1:3000/callback"
    assert "setup_url" not in doc and "callback_urls" not in doc
    assert doc["default_permissions"]["administration"] == "write"


def test_without_a_public_url_the_manifest_keeps_app_yml_s_webhook() -> None:
    doc = app_manifest(load_manifest(Path("app.yml")), None, "/hooks", "http://x/callback")
    assert doc["hook_attributes"]["url"] == "https://bulwark.example.com/api/github/webhooks"


def test_dotenv_text_loads_back_into_settings(tmp_path: Path) -> None:
    pem = rsa_private_key_pem()
    (tmp_path / ".env").write_text(dotenv_text(42, pem, "abc123", "https://ghes.example/api/v3"))
    settings = Settings.from_env(read_dotenv(tmp_path / ".env"))
    assert (settings.app_id, settings.webhook_secret) == (42, "abc123")
    assert settings.private_key.strip() == pem.strip()
    assert settings.github_api_url == "https://ghes.example/api/v3"


@pytest.mark.parametrize("secret", ["", 'a"b', "a\nb"])
def test_dotenv_text_refuses_what_a_dotenv_line_cannot_hold(secret: str) -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        dotenv_text(42, rsa_private_key_pem(), secret, None)


def test_the_page_escapes_what_app_yml_says() -> None:
    manifest = parse_manifest(
        "name: <b>x</b>\nurl: https://x\ndefault_permissions:\n"
        "  checks: write  # <script>alert(1)</script>\ndefault_events:\n  - push\n"
    )
    doc = app_manifest(manifest, 'https://x"><script>', "/h", "http://127.0.0.1/callback")
    page = register_page(
        manifest, doc, action="https://github.com/x?state=1", account="a&b", web="w"
    )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&amp;b" in page


def test_write_dotenv_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_ID=1\n")
    with pytest.raises(DotenvExists):
        write_dotenv(env, "APP_ID=2\n")
    assert env.read_text() == "APP_ID=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]
