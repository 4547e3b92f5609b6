"""app.yml: least-privilege permissions, real events, every handled event subscribed."""

from __future__ import annotations

import gzip
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WEBHOOKS_SPEC = ROOT / "bot" / "sandbox" / "spec" / "webhooks.json.gz"
# GitHub sends these to every App, subscribed or not.
ALWAYS_SENT = {"installation", "installation_repositories", "ping"}

PERMISSIONS = {
    "administration": "write",
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
    "metadata": "read",
    "members": "read",
    "organization_administration": "read",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "app.yml").read_text())
    assert isinstance(data, dict)
    return data


def github_webhook_events() -> set[str]:
    """Event names from GitHub's webhook description (the `x-github.subcategory`)."""
    spec = json.loads(gzip.decompress(WEBHOOKS_SPEC.read_bytes()))
    return {hook["post"]["x-github"]["subcategory"] for hook in spec["x-webhooks"].values()}


def test_manifest_shape(manifest: dict[str, Any]) -> None:
    assert manifest["public"] is False
    assert manifest["hook_attributes"]["active"] is True
    assert manifest["hook_attributes"]["url"].endswith("/api/github/webhooks")
    assert manifest["name"]


def test_permissions_are_exactly_the_least_privilege_set(manifest: dict[str, Any]) -> None:
    assert manifest["default_permissions"] == PERMISSIONS


def test_every_event_is_a_real_webhook_event(manifest: dict[str, Any]) -> None:
    events = manifest["default_events"]
    assert len(events) == len(set(events))
    assert set(events) <= github_webhook_events()


def registered_events() -> set[str]:
    handlers = importlib.import_module("bot.handlers")
    router = getattr(handlers, "router", None)
    if router is None:
        return set()
    return set(router._shallow_routes) | set(router._deep_routes)


def test_every_handled_event_is_subscribed(manifest: dict[str, Any]) -> None:
    handled = registered_events()
    if not handled:
        pytest.skip("bot.handlers.router has no handlers yet")
    assert handled - ALWAYS_SENT <= set(manifest["default_events"])
