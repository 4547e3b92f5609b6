"""The App's manifest (`app.yml`): what it asks for, and why, as plain data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

# Permission levels in the order GitHub grants them: write includes read.
LEVELS = {"read": 1, "write": 2, "admin": 3}
_PERMISSION_LINE = re.compile(r"^\s+([a-z_]+):\s*([a-z]+)\s*(?:#\s*(.*))?$")
_EVENT_LINE = re.compile(r"^\s*-\s*([a-z_]+)\s*(?:#\s*(.*))?$")
_PATTERNS = {"default_permissions": _PERMISSION_LINE, "default_events": _EVENT_LINE}
_COMMENT_LINE = re.compile(r"^\s*#\s?(.*)$")


@dataclass(frozen=True)
class Manifest:
    """What the App asks GitHub for: permissions and events, each with its reason."""

    document: dict[str, Any]
    permissions: dict[str, str]
    events: tuple[str, ...]
    reasons: dict[str, str] = field(default_factory=dict)

    def reason(self, name: str) -> str:
        """Return why the App asks for a permission or an event ("" when unsaid)."""
        return self.reasons.get(name, "")

    def with_webhook(self, webhook_url: str, redirect_url: str) -> dict[str, Any]:
        """Return the manifest GitHub's manifest flow takes, pointed at this deployment."""
        doc = {k: v for k, v in self.document.items() if k != "hook_attributes"}
        doc["hook_attributes"] = {"url": webhook_url, "active": True}
        doc["redirect_url"] = redirect_url
        return doc


class ManifestError(ValueError):
    """The manifest is not the mapping GitHub's manifest flow expects."""


def parse_manifest(text: str) -> Manifest:
    """Read `app.yml`: its document, permissions, events and the comment giving each reason."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"not YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestError("expected a mapping at the top")
    permissions = doc.get("default_permissions") or {}
    events = doc.get("default_events") or []
    if not isinstance(permissions, dict) or not isinstance(events, list):
        raise ManifestError("default_permissions must be a mapping, default_events a list")
    return Manifest(
        document=doc,
        permissions={str(k): str(v) for k, v in permissions.items()},
        events=tuple(str(e) for e in events),
        reasons=_reasons(text),
    )


def _reasons(text: str) -> dict[str, str]:
    """Take each permission's and event's reason from its comment (inline, else just above)."""
    reasons: dict[str, str] = {}
    pending: list[str] = []
    section = ""
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith(("#", "-")):
            section, pending = line.split(":", 1)[0], []
            continue
        comment = _COMMENT_LINE.match(line)
        if comment:
            pending.append(comment.group(1).strip())
            continue
        pattern = _PATTERNS.get(section)
        found = pattern.match(line) if pattern else None
        if found:
            inline = found.group(found.re.groups) or ""
            reasons[found.group(1)] = (inline or " ".join(pending)).strip()
        pending = []
    return reasons


def satisfies(granted: str | None, wanted: str) -> bool:
    """Tell whether a granted permission level covers the wanted one."""
    return LEVELS.get(granted or "", 0) >= LEVELS.get(wanted, 1)
