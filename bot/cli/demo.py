"""`bulwark demo`: the sandbox, a sample org and Bulwark end to end, told as a short story.

Running and printing are separate: `run_demo()` drives the sandbox and returns a
`DemoResult` of plain data; `render()` prints it with rich (plain text when
stdout is not a terminal, so pipes and logs read well).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from bot.cli.embedded import Embedded, embedded, sandbox_settings
from bot.cli.manifest import app_permissions
from bot.clock import Clock, SystemClock, isoformat
from bot.core.evidence_render import EvidenceReport, render_html
from bot.core.models import WAITING, Finding, FindingKind, Outcome, RepoStatus
from bot.engine.evidence import gather_evidence, report_of
from bot.engine.report import REPORT_LABEL
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.sandbox import Sandbox
from bot.sandbox.app import WRITE_METHODS
from bot.sandbox.history import COMPLIANT_RULES, DAY, seed_history
from bot.sandbox.state import CODEQL_APP, JSON, CiCheck, State

ORG = "acme"
BRANCH = "main"
POLICY_PATH = ".github/repo-protection.yml"
WIDTH = 110

# People of the sample org: alice owns it; the others are developers.
OWNER = "alice"
DEVELOPER = "bob"
PUSHER = "dave"
TAMPERER = "carol"
OWNER_TOKEN = "ghp_demoOrgOwnerToken0000000000001"  # noqa: S105 - a sandbox token, no secret

# --- the sample org, as data ------------------------------------------------------------


def _classic(
    reviews: int | None = 1,
    checks: Sequence[str] = ("CodeQL", "test"),
    *,
    strict: bool = False,
    admins: bool = True,
    force_pushes: bool = False,
    push_restricted_to: Sequence[str] = (),
) -> JSON:
    """Build a classic branch protection body (the shape of GitHub's PUT)."""
    return {
        "required_pull_request_reviews": (
            None if reviews is None else {"required_approving_review_count": reviews}
        ),
        "required_status_checks": (
            {"strict": strict, "checks": [{"context": c} for c in checks]} if checks else None
        ),
        "enforce_admins": admins,
        "allow_force_pushes": force_pushes,
        "restrictions": (
            {"users": list(push_restricted_to), "teams": [], "apps": []}
            if push_restricted_to
            else None
        ),
    }


MEETS_POLICY_RULESET: JSON = {
    "name": "org standard",
    "target": "branch",
    "enforcement": "active",
    "bypass_actors": [],
    "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
    "rules": copy.deepcopy(COMPLIANT_RULES),
}

WEAKENING_POLICY = "pull_request_reviews:\n  required_approving_review_count: 0\n"

# What reports on a sample repository's commits: most have a test job and CodeQL.
FULL_CI = (CiCheck("test"), CiCheck("CodeQL", CODEQL_APP))
PYTHON = (("Python", 12_000),)


@dataclass(frozen=True)
class SampleRepo:
    """One repository of the sample org and the state it starts in."""

    name: str
    protection: JSON | None = None
    ruleset: JSON | None = None
    private: bool = False
    archived: bool = False
    fork: bool = False
    policy_file: str | None = None
    ci: tuple[CiCheck, ...] = FULL_CI
    languages: tuple[tuple[str, int], ...] = PYTHON


SAMPLE_ORG: tuple[SampleRepo, ...] = (
    SampleRepo(".github"),
    SampleRepo("payments"),
    SampleRepo("web", _classic(admins=False)),
    SampleRepo("api", _classic(checks=(), admins=False, force_pushes=True)),
    SampleRepo("docs", _classic(checks=("test",))),
    SampleRepo("infra", _classic()),
    SampleRepo(
        "auth",
        _classic(2, ("CodeQL", "test", "lint"), strict=True, push_restricted_to=[OWNER]),
    ),
    SampleRepo("billing", ruleset=MEETS_POLICY_RULESET),
    SampleRepo("mobile", _classic(), policy_file=WEAKENING_POLICY),
    SampleRepo("internal-tools", private=True),
    SampleRepo("old-site", _classic(None, (), admins=False), archived=True),
    SampleRepo("upstream-fork", fork=True),
    # No CI at all and nothing CodeQL analyses: protected, merges not blocked, told what is missing.
    SampleRepo("prototype", ci=(), languages=(("Shell", 800),)),
    # Tests run, CodeQL never did: Bulwark turns on CodeQL's default setup.
    SampleRepo("search", ci=(CiCheck("test"),)),
)

# The scripted events after the installation.
SLASH_REPO = "web"
PUSH_REPO = "docs"
TAMPER_REPO = "infra"
# 90 days of history before the installation, with one exception to each of four promises.
BUSY = ("web", "api", "docs", "infra")
HISTORY = {
    "direct_push": "web",
    "self_approved": "api",
    "failing_test": "docs",
    "no_codeql": "payments",
}
EVIDENCE_DAYS = 90
NO_CI_REPO = "prototype"
CODEQL_REPO = "search"
REVIEWER = TAMPERER


def seed(state: State, repos: Sequence[SampleRepo] = SAMPLE_ORG) -> None:
    """Create the sample org on the free plan (private repositories get no protection)."""
    state.add_org(ORG, plan="free")
    state.add_org_owner(ORG, OWNER)
    for login in (DEVELOPER, PUSHER, TAMPERER):
        state.add_org_member(ORG, login)
    for repo in repos:
        state.add_repo(
            ORG,
            repo.name,
            private=repo.private,
            archived=repo.archived,
            fork=repo.fork,
            ci=repo.ci,
            languages=dict(repo.languages),
        )
        state.add_collaborator(ORG, repo.name, DEVELOPER, "write")
        if repo.protection is not None:
            state.set_protection(ORG, repo.name, BRANCH, repo.protection)
        if repo.ruleset is not None:
            state.add_ruleset(ORG, repo.name, repo.ruleset)
        if repo.policy_file is not None:
            state.add_file(ORG, repo.name, POLICY_PATH, repo.policy_file)
    names = {r.name for r in repos}
    if {*HISTORY.values(), *BUSY} <= names:
        seed_history(
            state, ORG, now=state.clock.time(), busy=BUSY, direct_push=HISTORY["direct_push"],
            self_approved=HISTORY["self_approved"], failing_test=HISTORY["failing_test"],
            no_codeql=HISTORY["no_codeql"], without_codeql=(CODEQL_REPO, NO_CI_REPO),
        )  # fmt: skip


# --- describing protection in words --------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe_classic(stored: Mapping[str, Any]) -> str:
    """Describe stored classic protection: "1 reviewer, no checks, admins exempt"."""
    reviews = stored.get("required_pull_request_reviews")
    checks = stored.get("required_status_checks")
    parts = [
        _plural(reviews["required_approving_review_count"], "reviewer") if reviews else "no reviews"
    ]
    if checks and checks.get("strict"):
        parts.append("strict")
    parts.append(_plural(len(checks["checks"]), "check") if checks else "no checks")
    if not stored.get("enforce_admins"):
        parts.append("admins exempt")
    if stored.get("allow_force_pushes"):
        parts.append("force pushes allowed")
    if stored.get("restrictions"):
        parts.append("push restrictions")
    return ", ".join(parts)


def describe_rules(rules: Sequence[Mapping[str, Any]]) -> str:
    """Describe the active ruleset rules on a branch."""
    parts = []
    for rule in rules:
        params = rule.get("parameters") or {}
        if rule["type"] == "pull_request":
            parts.append(_plural(params["required_approving_review_count"], "reviewer"))
        elif rule["type"] == "required_status_checks":
            parts.append(_plural(len(params["required_status_checks"]), "check"))
    return "ruleset only: " + ", ".join(parts)


def describe(state: State, name: str) -> str:
    """Describe a repository as it stands now, in a few words."""
    repo = state.repo(ORG, name)
    traits = [t for t, on in (("archived", repo.archived), ("fork", repo.fork)) if on]
    if repo.private and state.account(ORG).plan == "free":
        traits.append("private, free plan")
    stored = repo.protections.get(repo.default_branch)
    rules = state.rules_for_branch(repo, repo.default_branch)
    if stored:
        traits.append(describe_classic(stored))
    elif rules:
        traits.append(describe_rules(rules))
    else:
        traits.append("unprotected")
    if state.file(repo, POLICY_PATH, None) is not None:
        traits.append("repo policy file")
    return ", ".join(traits)


# --- the result ------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoRow:
    """One line of the before/after table."""

    repo: str
    before: str
    after: str
    outcome: str
    action: str
    writes: int
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exchange:
    """One comment on a pull request and who wrote it."""

    author: str
    body: str


@dataclass(frozen=True)
class Event:
    """Something that happened after the installation, and what Bulwark did about it."""

    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ReportIssue:
    """The org report issue as GitHub shows it."""

    repo: str
    number: int
    title: str
    state: str
    labels: tuple[str, ...]
    body: str


@dataclass
class DemoResult:
    """Everything the demo shows, as plain data."""

    rows: list[RepoRow] = field(default_factory=list)
    pull: str = ""
    exchange: list[Exchange] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    report: ReportIssue | None = None
    repos: int = 0
    writes: int = 0
    requests: int = 0
    seconds: float = 0.0
    evidence: list[dict[str, str]] = field(default_factory=list)
    evidence_status: str = ""
    evidence_page: str = ""

    def row(self, name: str) -> RepoRow:
        """Return the row of one repository."""
        return next(r for r in self.rows if r.repo == name)

    def as_json(self) -> dict[str, Any]:
        """Return the result as JSON-able data."""
        return asdict(self)


# --- outcomes in words -------------------------------------------------------------------

REPAIRS = {
    FindingKind.UNPROTECTED: f"protected {BRANCH}",
    FindingKind.REVIEWS_MISSING: "required a review",
    FindingKind.REVIEWS_TOO_FEW: "raised the reviews required",
    FindingKind.ADMINS_NOT_ENFORCED: "enforced it on admins",
    FindingKind.BYPASS_UNKNOWN: "bound admins with classic protection",
    FindingKind.FORCE_PUSH_ALLOWED: "blocked force pushes",
    FindingKind.DELETION_ALLOWED: "blocked deletion",
}


def outcome_label(status: RepoStatus | None) -> str:
    """Return the one-word outcome a reader looks for."""
    if status is None:
        return "unknown"
    kinds = {f.kind for f in status.findings}
    if FindingKind.POLICY_INVALID in kinds:
        return "policy invalid"
    if FindingKind.NOT_SUPPORTED in kinds:
        return "not supported"
    if status.outcome is Outcome.DRIFTED and kinds <= WAITING:
        return "checks pending"
    labels = {Outcome.DRIFTED: "reported", Outcome.UNSUPPORTED: "unsupported"}
    return labels.get(status.outcome, status.outcome.value)


def repairs(findings: Sequence[Finding]) -> str:
    """Say what the repairing write did, from the findings it repaired."""
    checks = [f.detail or "a check" for f in findings if f.kind is FindingKind.CHECK_MISSING]
    done = [REPAIRS[f.kind] for f in findings if f.kind in REPAIRS]
    if checks:
        done.insert(0, "required " + " and ".join(dict.fromkeys(checks)))
    waiting = [f.detail or "a check" for f in findings if f.kind in WAITING]
    if waiting:
        done.append("left " + " and ".join(dict.fromkeys(waiting)) + " unrequired: nothing reports")
    return ", ".join(dict.fromkeys(done))


def action_text(status: RepoStatus | None, writes: int) -> str:
    """Say what Bulwark did to a repository during the installation."""
    if status is None:
        return "not seen"
    if status.outcome is Outcome.EXCLUDED:
        return f"skipped ({status.reason}); no write"
    if status.outcome is Outcome.UNSUPPORTED:
        return "reported: GitHub offers no branch protection here"
    done = repairs(status.findings)
    if status.fixed_at and status.findings and all(f.kind in WAITING for f in status.findings):
        done = f"protected {BRANCH} as the policy says; {done}"
    if status.codeql == "enabled":
        done += ", turned on CodeQL's default setup"
    if FindingKind.POLICY_INVALID in {f.kind for f in status.findings}:
        return f"refused the file; the org policy applies{': ' + done if done else ''}"
    if status.outcome is Outcome.COMPLIANT:
        return "none needed" + ("" if writes else "; no write")
    return done or status.outcome.value


# --- running --------------------------------------------------------------------------------


def _writes(sandbox: Sandbox, name: str) -> int:
    return len(sandbox.writes(ORG, name))


async def install(bulwark: Embedded) -> int:
    """Install the App on the org through a signed `installation.created` and settle."""
    state = bulwark.sandbox.state
    installation = state.install(ORG)
    await bulwark.deliver(
        "installation", bulwark.sandbox.payloads.installation_created(installation)
    )
    await bulwark.settle()
    return installation


async def slash_commands(bulwark: Embedded) -> tuple[str, list[Exchange]]:
    """Open a pull request; a developer asks for a fix, the owner for the status."""
    state, payloads = bulwark.sandbox.state, bulwark.sandbox.payloads
    head = state.add_commit(ORG, SLASH_REPO, "feature", message="Add login page", author=DEVELOPER)
    number = state.add_pull(ORG, SLASH_REPO, head_sha=head, author=DEVELOPER, title="Login page")
    for login, text in ((DEVELOPER, "/protection fix"), (OWNER, "/protection status")):
        data = payloads.issue_comment("created", ORG, SLASH_REPO, number, text, login)
        await bulwark.deliver("issue_comment", data)
        await bulwark.settle()
    comments = state.comments(ORG, SLASH_REPO, number)
    return f"{ORG}/{SLASH_REPO}#{number}", [Exchange(c["author"], c["body"]) for c in comments]


async def direct_push(bulwark: Embedded) -> Event:
    """Deliver a push of a commit that no pull request brought."""
    state = bulwark.sandbox.state
    sha = state.add_commit(ORG, PUSH_REPO, BRANCH, message="Hotfix: bump timeout", author=PUSHER)
    data = bulwark.sandbox.payloads.push(ORG, PUSH_REPO, BRANCH, [sha], PUSHER)
    await bulwark.deliver("push", data)
    await bulwark.settle()
    lines = [f"{PUSHER} pushed {sha[:7]} to {BRANCH} of {ORG}/{PUSH_REPO}, with no pull request."]
    for comment in state.commit_comments(ORG, PUSH_REPO):
        title = _plain(comment["body"]).splitlines()[0].lstrip("# ")
        lines.append(f'Bulwark commented on the commit ("{title}")')
    pushes = bulwark.runtime.statuses.org(ORG).direct_pushes
    if any(p.sha == sha for p in pushes):
        lines.append("and listed it under the org report's recent direct pushes.")
    return Event("A direct push", tuple(lines))


async def tamper(bulwark: Embedded) -> Event:
    """Someone deletes a branch's protection; the webhook brings Bulwark to restore it."""
    state = bulwark.sandbox.state
    before = len(bulwark.sandbox.writes(ORG, TAMPER_REPO))
    state.set_protection(ORG, TAMPER_REPO, BRANCH, None)
    data = bulwark.sandbox.payloads.branch_protection_rule(
        "deleted", ORG, TAMPER_REPO, BRANCH, TAMPERER
    )
    await bulwark.deliver("branch_protection_rule", data)
    await bulwark.settle()
    restored = state.repo(ORG, TAMPER_REPO).protections.get(BRANCH)
    status = bulwark.runtime.statuses.get(f"{ORG}/{TAMPER_REPO}")
    lines = [f"{TAMPERER} deleted the protection of {BRANCH} in {ORG}/{TAMPER_REPO}."]
    if restored is not None:
        wrote = len(bulwark.sandbox.writes(ORG, TAMPER_REPO)) - before
        lines.append(
            f"Bulwark restored it ({_plural(wrote, 'write')}): {describe_classic(restored)}."
        )
    for finding in status.findings if status else ():
        if finding.actor == TAMPERER:
            lines.append(
                f"The finding names who did it ({finding.kind}, {TAMPERER}): {finding.message}"
            )
    return Event("A tamper", tuple(lines))


async def merge_without_ci(bulwark: Embedded) -> Event:
    """Open a pull request where nothing reports; once approved, it merges (over REST)."""
    state = bulwark.sandbox.state
    number = state.add_pull(ORG, NO_CI_REPO, head_sha="f" * 40, author=DEVELOPER, title="Docs")
    status = bulwark.runtime.statuses.get(f"{ORG}/{NO_CI_REPO}")
    lines = [f"{DEVELOPER} opened {ORG}/{NO_CI_REPO}#{number}; nothing runs CI there."]
    for finding in status.findings if status else ():
        lines.append(f"Bulwark says ({finding.kind}): {finding.message}")
    before = await _merge(bulwark, number)
    state.add_review(ORG, NO_CI_REPO, number, user=REVIEWER)
    after = await _merge(bulwark, number)
    lines.append(f"Merging before a review: GitHub answered {before}.")
    lines.append(f"After {REVIEWER} approved: GitHub answered {after}; no check blocks it.")
    return Event("A pull request on a repository with no CI", tuple(lines))


async def _merge(bulwark: Embedded, number: int) -> str:
    """Merge a pull request as the org owner would; return GitHub's answer in words."""
    path = f"/repos/{ORG}/{NO_CI_REPO}/pulls/{number}/merge"
    session = bulwark.sandbox.state
    session.add_personal_token(OWNER_TOKEN, OWNER)
    async with aiohttp.ClientSession(bulwark.sandbox.url) as http:
        headers = {"Authorization": f"token {OWNER_TOKEN}"}
        async with http.put(path, json={}, headers=headers) as answer:
            body = await answer.json()
            return f"{answer.status} {str(body.get('message', '')).rstrip('.')}"


async def codeql_turned_on(bulwark: Embedded) -> Event:
    """CodeQL's first analysis reports; its `completed` event makes Bulwark require it."""
    state = bulwark.sandbox.state
    repo = f"{ORG}/{CODEQL_REPO}"
    lines = [
        f"During the installation Bulwark turned on CodeQL's default setup in {repo} "
        f"(state now {state.repo(ORG, CODEQL_REPO).code_scanning.state}), and left CodeQL "
        "unrequired until it reports."
    ]
    state.run_analyses()
    run = next(r for r in state.check_runs(ORG, CODEQL_REPO) if r["name"] == "CodeQL")
    data = bulwark.sandbox.payloads.check_run("completed", ORG, CODEQL_REPO, run["id"], OWNER)
    await bulwark.deliver("check_run", data)
    await bulwark.settle()
    stored = state.repo(ORG, CODEQL_REPO).protections.get(BRANCH)
    lines.append("The first analysis reported a CodeQL check run on the default branch.")
    if stored is not None:
        lines.append(f"Bulwark now requires it: {describe_classic(stored)}.")
    return Event("CodeQL turned on", tuple(lines))


def report_issue(state: State) -> ReportIssue | None:
    """Return the org report issue, as it stands in the report repository."""
    repo = state.repo(ORG, ".github")
    for issue in state.issues(ORG, repo.name):
        if REPORT_LABEL in issue["labels"]:
            return ReportIssue(
                f"{ORG}/{repo.name}",
                issue["number"],
                issue["title"],
                issue["state"],
                tuple(issue["labels"]),
                issue["body"],
            )
    return None


def table_rows(bulwark: Embedded, before: Mapping[str, str]) -> list[RepoRow]:
    """Build one row per sample repository from the sandbox and Bulwark's statuses."""
    rows = []
    for name, was in before.items():
        status = bulwark.runtime.statuses.get(f"{ORG}/{name}")
        writes = _writes(bulwark.sandbox, name)
        rows.append(
            RepoRow(
                repo=name,
                before=was,
                after=describe(bulwark.sandbox.state, name),
                outcome=outcome_label(status),
                action=action_text(status, writes),
                writes=writes,
                findings=tuple(f.message for f in status.findings) if status else (),
            )
        )
    return rows


async def run_demo(
    *,
    clock: Clock | None = None,
    repos: Sequence[SampleRepo] = SAMPLE_ORG,
    sandbox: Sandbox | None = None,
) -> DemoResult:
    """Run the whole story against a fresh sandbox (made here unless given); return the result."""
    started = time.perf_counter()
    clock = clock or SystemClock()
    sandbox = sandbox or Sandbox(clock=clock, permissions=app_permissions())
    seed(sandbox.state, repos)
    before = {r.name: describe(sandbox.state, r.name) for r in repos}
    await sandbox.start()
    try:
        # The sandbox links a merge to its pull request at once: no need to wait for GitHub.
        async with embedded(
            sandbox, clock=clock, report_debounce=0.0, association_wait=0.0
        ) as bulwark:
            await install(bulwark)
            rows = table_rows(bulwark, before)
            pull, exchange = await slash_commands(bulwark)
            events = [
                await direct_push(bulwark),
                await tamper(bulwark),
                await merge_without_ci(bulwark),
                await codeql_turned_on(bulwark),
            ]
            report = report_issue(sandbox.state)
        proof = await evidence(sandbox, clock)
    finally:
        await sandbox.stop()
    page = write_page(proof)
    return DemoResult(
        evidence=[
            {"id": r.id.value, "status": r.status.value, "summary": r.summary}
            for r in proof.results
        ],
        evidence_status=proof.status.value,
        evidence_page=str(page),
        rows=rows,
        pull=pull,
        exchange=exchange,
        events=events,
        report=report,
        repos=len(repos),
        writes=sum(1 for r in sandbox.requests if r.method in WRITE_METHODS),
        requests=len(sandbox.requests),
        seconds=time.perf_counter() - started,
    )


async def evidence(sandbox: Sandbox, clock: Clock) -> EvidenceReport:
    """Prove the promises over the last 90 days from the sandbox's record, as `bulwark evidence`."""
    now = clock.time()
    since, until = isoformat(now - EVIDENCE_DAYS * DAY), isoformat(now)
    settings = sandbox_settings(sandbox)
    async with GitHubClients.open(settings, clock=clock, retry=RetryPolicy()) as clients:
        installation = sandbox.state.installation_for(ORG)
        assert installation is not None
        gh = clients.for_installation(installation.id)
        found = await gather_evidence(gh, ORG, since=since, until=until, clock=clock)
    return report_of(found, isoformat(clock.time()))


def write_page(report: EvidenceReport) -> Path:
    """Write the trust page into a fresh temporary directory; return its path."""
    page = Path(tempfile.mkdtemp(prefix="bulwark-evidence-")) / "trust.html"
    page.write_text(render_html(report), encoding="utf-8")
    return page


# --- printing -------------------------------------------------------------------------------

INTRO = (
    "Bulwark demo: a local GitHub sandbox with the org {org} ({count} repositories). "
    "The App is installed through a signed webhook, reconciles every repository to the "
    "default policy (1 approving review, CodeQL and test required, admins included, "
    "no force pushes), answers slash commands, sees a direct push and undoes a tamper. "
    "It requires a check only once it reports on the repository, and turns CodeQL on where "
    "it can."
)


def console_for(stream: Any = None) -> Console:
    """Return a console that prints plain text when the stream is not a terminal."""
    stream = stream or sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    return Console(
        file=stream,
        width=WIDTH,
        force_terminal=tty,
        no_color=not tty,
        color_system="auto" if tty else None,
        highlight=False,
        markup=False,
        emoji=False,
    )


OUTCOME_STYLES = {
    "fixed": "green",
    "compliant": "green",
    "reported": "yellow",
    "checks pending": "yellow",
    "policy invalid": "yellow",
    "not supported": "yellow",
    "excluded": "dim",
}


def before_after(rows: Sequence[RepoRow]) -> Table:
    """Return the before/after table."""
    table = Table(title=f"{ORG}: before and after the installation", title_justify="left")
    table.add_column("repository", no_wrap=True)
    table.add_column("before", ratio=1)
    table.add_column("outcome", no_wrap=True)
    table.add_column("what Bulwark did", ratio=1)
    for row in rows:
        outcome = Text(row.outcome, style=OUTCOME_STYLES.get(row.outcome, ""))
        table.add_row(row.repo, row.before, outcome, row.action)
    return table


def _section(console: Console, title: str) -> None:
    console.print()
    console.print(Rule(title, align="left", characters="-"))


def print_fixed(console: Console, rows: Sequence[RepoRow]) -> None:
    """Print what was fixed in each repository and why it mattered."""
    _section(console, "What was fixed and why")
    for row in rows:
        if row.outcome != "fixed":
            continue
        console.print(f"{ORG}/{row.repo} (now: {row.after})")
        bullets = Table.grid(padding=(0, 1))
        for message in row.findings:
            bullets.add_row("-", message)
        console.print(Padding(bullets, (0, 0, 0, 2), expand=False))


def print_exchange(console: Console, pull: str, exchange: Sequence[Exchange]) -> None:
    """Print the slash-command conversation on the pull request."""
    _section(console, f"Slash commands on the pull request {pull}")
    for comment in exchange:
        console.print(f"{comment.author}:", style="bold")
        console.print(Padding(_plain(comment.body), (0, 0, 1, 2), expand=False))


def print_events(console: Console, events: Sequence[Event]) -> None:
    """Print what happened after the installation."""
    for event in events:
        _section(console, event.title)
        for line in event.lines:
            console.print(line)


def print_report(console: Console, report: ReportIssue | None) -> None:
    """Print the report issue as GitHub would show it: title, labels, markdown body."""
    _section(console, "The org report issue")
    if report is None:
        console.print("No report issue: nothing drifts in the org.")
        return
    console.print(f"{report.repo}#{report.number} ({report.state}): {report.title}")
    console.print(f"labels: {', '.join(report.labels)}")
    console.print()
    console.print(report.body, soft_wrap=True)


def print_evidence(console: Console, result: DemoResult) -> None:
    """Print the evidence summary over the period and where the trust page is."""
    _section(console, f"Evidence over the last {EVIDENCE_DAYS} days (bulwark evidence)")
    table = Table(show_edge=False, pad_edge=False)
    for column in ("promise", "status", "in short"):
        table.add_column(column)
    for row in result.evidence:
        table.add_row(row["id"], row["status"], row["summary"])
    console.print(table)
    console.print(f"Overall: {result.evidence_status}. Trust page: {result.evidence_page}")


def _plain(markdown: str) -> str:
    """Drop the hidden HTML markers from a comment; the rest is shown as written."""
    return "\n".join(ln for ln in markdown.splitlines() if not ln.startswith("<!--")).strip()


def figures(result: DemoResult) -> str:
    """Return the closing line with the figures."""
    return (
        f"{result.repos} repositories, {result.writes} writes, {result.requests} requests "
        f"to the GitHub API, {result.seconds:.1f} seconds."
    )


def render(result: DemoResult, console: Console) -> None:
    """Print the whole story."""
    console.print(INTRO.format(org=ORG, count=result.repos))
    console.print()
    console.print(before_after(result.rows))
    print_fixed(console, result.rows)
    print_exchange(console, result.pull, result.exchange)
    print_events(console, result.events)
    print_report(console, result.report)
    print_evidence(console, result)
    console.print()
    console.print(figures(result))


# --- entry point ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulwark demo",
        description="Run Bulwark end to end against a local GitHub sandbox (no network).",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument("--verbose", action="store_true", help="show Bulwark's logs on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `bulwark demo` and return its exit status."""
    args = _parser().parse_args(argv)
    logger = logging.getLogger("bot")
    level = logger.level
    if not args.verbose:
        # The story is on stdout; the logs of expected events (a direct push) would only distract.
        logger.setLevel(logging.ERROR)
    try:
        result = asyncio.run(run_demo())
    finally:
        logger.setLevel(level)
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        console = console_for()
        with console.capture() as captured:
            render(result, console)
        # Rich pads lines to the width; trailing blanks only get in the way of pipes and diffs.
        sys.stdout.write("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")
    return 0
