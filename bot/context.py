"""What a handler gets besides the event: the installation's gateway and the runtime."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.github.gateway import Gateway

if TYPE_CHECKING:
    from bot.runtime import Runtime


@dataclass(frozen=True)
class Context:
    """One delivery's handler context."""

    gh: Gateway
    installation_id: int
    delivery_id: str
    runtime: Runtime


def repo_of(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return (owner, name) of the payload's repository, or None when it has none."""
    repo = data.get("repository")
    if not isinstance(repo, Mapping):
        return None
    full = repo.get("full_name")
    if not isinstance(full, str) or full.count("/") != 1:
        return None
    owner, name = full.split("/")
    return owner, name


def login_of(data: Mapping[str, Any], key: str = "sender") -> str | None:
    """Return the login of `data[key]` (sender, pusher, user), if present."""
    who = data.get(key)
    if isinstance(who, Mapping):
        login = who.get("login") or who.get("name")
        return login if isinstance(login, str) else None
    return None


def is_bot(data: Mapping[str, Any], key: str = "sender") -> bool:
    """Tell whether `data[key]` is a bot account (GitHub Apps included)."""
    who = data.get(key)
    if not isinstance(who, Mapping):
        return False
    login = who.get("login")
    return who.get("type") == "Bot" or (isinstance(login, str) and login.endswith("[bot]"))
