"""Which checks report on a repository, and what CodeQL's default setup can do about CodeQL.

A required check that nothing reports blocks every merge ("Expected — Waiting for
status to be reported"). Bulwark requires a policy check only once it has seen it
report on the repository: on the default branch's head or on the heads of the most
recently updated pull requests (`RECENT_PULLS`). Both are read in one GraphQL
request through `statusCheckRollup`, which lists check runs (with their app) and
commit statuses alike. A check that runs only on pull requests shows on their
heads; one that runs only on pushes shows on the default branch; a handful of
recent pull requests reflects the CI as it is configured now, not years ago.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.core.policy import CheckRequirement

CODEQL_CHECK = "CodeQL"
RECENT_PULLS = 5
ROLLUP_CONTEXTS = 50

# GitHub (linguist) language names CodeQL's default setup analyses.
# https://docs.github.com/en/code-security/code-scanning/enabling-code-scanning/configuring-default-setup-for-code-scanning
CODEQL_LANGUAGES = {
    "C": "c-cpp",
    "C++": "c-cpp",
    "C#": "csharp",
    "Go": "go",
    "Java": "java-kotlin",
    "Kotlin": "java-kotlin",
    "JavaScript": "javascript-typescript",
    "TypeScript": "javascript-typescript",
    "Python": "python",
    "Ruby": "ruby",
    "Swift": "swift",
}


@dataclass(frozen=True, order=True)
class Reporter:
    """One check name seen reporting, and the app that reported it (None: a commit status)."""

    context: str
    app_id: int | None = None
    app: str | None = None


@dataclass(frozen=True)
class Reported:
    """The checks that reported recently on a repository, and its languages."""

    reporters: frozenset[Reporter] = frozenset()
    languages: tuple[str, ...] = ()

    def reports(self, check: CheckRequirement) -> bool:
        """Tell whether `check` reported (from its pinned app, when the policy pins one)."""
        return any(
            r.context == check.context and check.app_id in (None, r.app_id) for r in self.reporters
        )

    def names(self) -> tuple[str, ...]:
        """Return the check names that report here, sorted."""
        return tuple(sorted({r.context for r in self.reporters}))

    def adding(self, reporter: Reporter) -> Reported:
        """Return this with one more reporter (a `completed` event just seen)."""
        return Reported(self.reporters | {reporter}, self.languages)

    @property
    def codeql_languages(self) -> tuple[str, ...]:
        """Return the CodeQL languages default setup would analyse here."""
        return tuple(sorted({CODEQL_LANGUAGES[n] for n in self.languages if n in CODEQL_LANGUAGES}))


def rollup_reporters(rollup: Mapping[str, Any] | None) -> set[Reporter]:
    """Read the reporters out of a GraphQL `StatusCheckRollup` node."""
    contexts = ((rollup or {}).get("contexts") or {}).get("nodes") or []
    found: set[Reporter] = set()
    for node in contexts:
        if not isinstance(node, Mapping):
            continue
        if node.get("__typename") == "StatusContext" and node.get("context"):
            found.add(Reporter(str(node["context"])))
        elif node.get("name"):
            app = ((node.get("checkSuite") or {}).get("app")) or {}
            app_id = app.get("databaseId")
            slug = app.get("slug")
            found.add(
                Reporter(
                    str(node["name"]),
                    int(app_id) if isinstance(app_id, int) else None,
                    str(slug) if slug else None,
                )
            )
    return found


def reported_from(node: Mapping[str, Any]) -> Reported:
    """Read what reported from a repository node (the fields of `REPORTED_FIELDS`)."""
    head = ((node.get("reportedHead") or {}).get("target")) or {}
    found = rollup_reporters(head.get("statusCheckRollup"))
    for pull in (node.get("recentPulls") or {}).get("nodes") or []:
        if isinstance(pull, Mapping):
            found |= rollup_reporters(pull.get("statusCheckRollup"))
    languages = tuple(
        str(n["name"])
        for n in (node.get("languages") or {}).get("nodes") or []
        if isinstance(n, Mapping) and n.get("name")
    )
    return Reported(frozenset(found), languages)


def has_reported_fields(node: Mapping[str, Any]) -> bool:
    """Tell whether a repository node carries the fields `reported_from` reads."""
    return "reportedHead" in node and "recentPulls" in node


ROLLUP_FIELDS = f"""
statusCheckRollup {{
  contexts(first: {ROLLUP_CONTEXTS}) {{
    nodes {{
      __typename
      ... on CheckRun {{ name checkSuite {{ app {{ databaseId slug }} }} }}
      ... on StatusContext {{ context }}
    }}
  }}
}}
"""

# Repository fields that say what reports: added to the scan's page query and asked
# of one repository by webhook-driven work.
REPORTED_FIELDS = f"""
reportedHead: defaultBranchRef {{ target {{ ... on Commit {{ {ROLLUP_FIELDS} }} }} }}
recentPulls: pullRequests(first: {RECENT_PULLS}, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
  nodes {{ {ROLLUP_FIELDS} }}
}}
languages(first: 20, orderBy: {{field: SIZE, direction: DESC}}) {{ nodes {{ name }} }}
"""


# --- CodeQL default setup ---------------------------------------------------------------


class CodeQLState(StrEnum):
    """Where CodeQL stands on a repository whose policy requires it."""

    REPORTING = "reporting"  # it reports: required like any other check
    ENABLED = "enabled"  # Bulwark just turned default setup on; first analysis to come
    PENDING = "pending"  # default setup is on; its first analysis has not reported yet
    AVAILABLE = "available"  # default setup could be turned on (report mode, or not asked)
    UNAVAILABLE = "unavailable"  # default setup cannot run here (the finding says why)


class Unavailable(StrEnum):
    """Why CodeQL's default setup cannot be used on a repository."""

    NO_LANGUAGE = "no language CodeQL's default setup analyses"
    ADVANCED_SETUP = "an advanced setup (a CodeQL workflow) is configured instead"
    NO_CODE_SECURITY = "it is private and GitHub Code Security is not enabled for it"
    ARCHIVED = "the repository is archived"
    NO_PERMISSION = "Bulwark may not change its code scanning settings"


def setup_refusal(status: int, message: str, *, archived: bool = False) -> Unavailable | None:
    """Tell why GitHub refused a default setup read or change, or None when it may pass later."""
    if archived or "archived" in message.lower():
        return Unavailable.ARCHIVED
    if status == 422:
        return Unavailable.ADVANCED_SETUP
    if status == 403 and "not accessible" in message.lower():
        return Unavailable.NO_PERMISSION
    if status == 403:
        return Unavailable.NO_CODE_SECURITY
    return None


def requires_codeql(checks: Iterable[CheckRequirement]) -> bool:
    """Tell whether the policy requires the CodeQL check."""
    return any(c.context == CODEQL_CHECK for c in checks)


def codeql_wanted(checks: Iterable[CheckRequirement], reported: Reported) -> bool:
    """Tell whether the policy requires CodeQL and nothing reports it yet."""
    return any(c.context == CODEQL_CHECK and not reported.reports(c) for c in checks)
