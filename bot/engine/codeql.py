"""What reports on a repository, and CodeQL's default setup turned on where it can run."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.reporting import (
    REPORTED_FIELDS,
    CodeQLState,
    Reported,
    Reporter,
    Unavailable,
    reported_from,
    setup_refusal,
)
from bot.github import errors
from bot.github.errors import Forbidden, GitHubError, Invalid, NotFound
from bot.github.gateway import Gateway

REPORTED_QUERY = f"""
query BulwarkReported($owner: String!, $name: String!) {{
  repository(owner: $owner, name: $name) {{
    {REPORTED_FIELDS}
  }}
}}
"""
CONFIGURED = "configured"
NOT_CONFIGURED = "not-configured"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodeQL:
    """Where CodeQL stands on one repository, and why it cannot run when it cannot."""

    state: CodeQLState
    reason: Unavailable | None = None


async def read_reported(gh: Gateway, owner: str, name: str, default_branch: str) -> Reported:
    """Read which checks reported recently on a repository (one GraphQL request).

    Where GraphQL cannot answer (an outage, a timeout), the check runs on the default
    branch's head are read through REST instead: fewer commits and no commit statuses or
    languages, so a check seen only on pull requests waits for the next resync.
    """
    try:
        data = await gh.graphql(REPORTED_QUERY, owner=owner, name=name)
    except (errors.QueryFailed, errors.Unavailable) as exc:
        log.warning("what reports on %s/%s: GraphQL failed (%s), asking REST", owner, name, exc)
        runs = await gh.check_runs_for_ref(owner, name, default_branch)
        return Reported(
            frozenset(
                Reporter(str(r["name"]), (r.get("app") or {}).get("id"), _slug(r))
                for r in runs
                if r.get("name")
            )
        )
    return reported_from(data.get("repository") or {})


async def ensure_codeql(
    gh: Gateway, owner: str, name: str, languages: tuple[str, ...], *, writes: bool
) -> CodeQL:
    """Find out whether default setup can make CodeQL report; turn it on when `writes`.

    `languages` are the CodeQL languages the repository has (`Reported.codeql_languages`).
    """
    if not languages:
        return CodeQL(CodeQLState.UNAVAILABLE, Unavailable.NO_LANGUAGE)
    try:
        setup = await gh.default_setup(owner, name)
    except Forbidden as exc:
        return _refused(exc)
    if setup is None:  # no code scanning here at all (e.g. a server without it)
        return CodeQL(CodeQLState.UNAVAILABLE, Unavailable.NO_CODE_SECURITY)
    if setup.get("state") == CONFIGURED:
        return CodeQL(CodeQLState.PENDING)
    if not writes:
        return CodeQL(CodeQLState.AVAILABLE)
    return await _turn_on(gh, owner, name)


async def _turn_on(gh: Gateway, owner: str, name: str) -> CodeQL:
    try:
        await gh.update_default_setup(owner, name, CONFIGURED)
    except (Forbidden, Invalid) as exc:
        return _refused(exc)
    except NotFound:
        return CodeQL(CodeQLState.UNAVAILABLE, Unavailable.NO_CODE_SECURITY)
    except GitHubError as exc:
        if exc.status != 409:  # 409: another configuration is being applied; wait for it
            raise
        return CodeQL(CodeQLState.PENDING)
    log.info("turned on CodeQL default setup", extra={"repo": f"{owner}/{name}"})
    return CodeQL(CodeQLState.ENABLED)


def _refused(exc: GitHubError) -> CodeQL:
    archived = isinstance(exc, Forbidden) and exc.archived
    reason = setup_refusal(exc.status, str(exc), archived=archived)
    if reason is None:
        raise exc
    return CodeQL(CodeQLState.UNAVAILABLE, reason)


def _slug(run: Mapping[str, Any]) -> str | None:
    slug = (run.get("app") or {}).get("slug")
    return str(slug) if slug else None
