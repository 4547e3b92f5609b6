"""What the read-from-GitHub verbs share: credentials, the org's gateway, progress, errors.

`bulwark scan` and `bulwark evidence` both reach one org with App credentials or a
GITHUB_TOKEN, show a progress bar on a terminal only, match `--repo` names and turn a
failure into one line and exit status 2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bot.clock import Clock
from bot.engine.scan import OrgNotFound
from bot.engine.scan import Progress as ProgressCallback
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.github.errors import GitHubError
from bot.github.gateway import Gateway
from bot.settings import ConfigError, Settings

T = TypeVar("T")


class NotInstalled(Exception):
    """The App has no installation on the org."""


def credentials(environ: Mapping[str, str]) -> tuple[Settings, str | None]:
    """Use App credentials when APP_ID is set (they win over GITHUB_TOKEN), else GITHUB_TOKEN."""
    if environ.get("APP_ID", "").strip():
        return Settings.from_env(
            dict(environ, WEBHOOK_SECRET=environ.get("WEBHOOK_SECRET") or "-")
        ), None
    token = environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise ConfigError("GITHUB_TOKEN", "missing (set it, or APP_ID and PRIVATE_KEY)")
    return Settings.for_token(environ), token


async def gateway_for(clients: GitHubClients, org: str, token: str | None) -> Gateway | None:
    """Return a gateway for the org: a token's, or the App installation's."""
    if token is not None:
        return clients.for_token(token)
    installation = await clients.for_app().org_installation(org)
    return None if installation is None else clients.for_installation(int(installation["id"]))


@asynccontextmanager
async def org_gateway(
    environ: Mapping[str, str], org: str, *, clock: Clock, retry: RetryPolicy
) -> AsyncIterator[Gateway]:
    """Open GitHub with the environment's credentials and yield the org's gateway."""
    settings, token = credentials(environ)
    async with GitHubClients.open(settings, clock=clock, retry=retry) as clients:
        gh = await gateway_for(clients, org, token)
        if gh is None:
            raise NotInstalled(org)
        yield gh


async def with_progress(
    console: Console, label: str, work: Callable[[ProgressCallback | None], Awaitable[T]]
) -> T:
    """Run `work`, with a transient progress bar when `console` is a terminal."""
    if not console.is_terminal:
        return await work(None)
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        return await work(lambda done, total: bar.update(task, completed=done, total=total))


def missing(names: list[str] | None, found: Iterable[str]) -> list[str]:
    """Return the `--repo` names (`name` or `owner/name`) matching none of `found`."""
    if not names:
        return []
    seen = {n.lower().rsplit("/", 1)[-1] for n in found}
    return [n for n in names if n.lower().rsplit("/", 1)[-1] not in seen]


def failure(exc: Exception, org: str, doing: str) -> str:
    """Say in one line why reading `org` failed (`doing`: "the scan failed", …)."""
    if isinstance(exc, ConfigError):
        return f"bulwark: configuration error: {exc}"
    if isinstance(exc, NotInstalled):
        return f"bulwark: the App is not installed on {org}"
    if isinstance(exc, OrgNotFound):
        return f"bulwark: no organization {org!r} is visible to these credentials"
    if isinstance(exc, GitHubError) and not exc.status:  # DNS, refused, timeouts
        return f"bulwark: {doing}: GitHub could not be reached ({exc})"
    return f"bulwark: {doing}: GitHub answered {exc}"


# What `failure` speaks for; anything else is a bug and keeps its traceback.
FAILURES = (ConfigError, NotInstalled, GitHubError)
