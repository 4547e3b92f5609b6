"""What a handler gets besides the event: the installation's gateway and a few services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.clock import Clock
from bot.engine.feedback import FeedbackMemory
from bot.engine.limits import CommandLimiter
from bot.engine.policies import PolicyStore
from bot.engine.pushes import ASSOCIATION_WAIT
from bot.engine.reconcile import Reconciler
from bot.engine.report import ReportKeeper
from bot.github.gateway import Gateway
from bot.store.statuses import StatusStore


class Scheduler(Protocol):
    """Where handlers queue later work (the job runtime implements it)."""

    async def enqueue_reconcile(
        self,
        installation_id: int,
        repo: str,
        *,
        delivery_id: str,
        actor: str | None = None,
        repo_json: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue a reconciliation of `owner/name`."""

    async def enqueue_resync(
        self, installation_id: int, *, delivery_id: str, repos: Iterable[str] | None = None
    ) -> bool:
        """Queue a resync of an installation (all its repos, or the ones named)."""

    def report_soon(self, installation_id: int, org: str) -> None:
        """Schedule an org report update (debounced)."""


@dataclass(frozen=True)
class Services:
    """The process-wide services handlers use, wired once by the composition root."""

    reconciler: Reconciler
    reports: ReportKeeper
    statuses: StatusStore
    policies: PolicyStore
    limiter: CommandLimiter
    clock: Clock
    app_id: int
    app_login: Callable[[], Awaitable[str]]
    scheduler: Scheduler
    association_wait: float = ASSOCIATION_WAIT  # how long a push waits for GitHub to link merges
    feedback: FeedbackMemory = field(default_factory=FeedbackMemory)  # own check runs, comments


@dataclass(frozen=True)
class Context:
    """One delivery's handler context."""

    gh: Gateway
    installation_id: int
    delivery_id: str
    services: Services


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
