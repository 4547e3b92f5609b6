"""Every markdown body Bulwark posts, as pure functions of plain data.

Every user-derived string (repository, branch, check and role names, logins,
reasons, finding sentences, commit messages) passes through `markdown.escape`,
or through `markdown.code` when it is a plain name (letters, digits, `._/+-`).
`Finding.message` and `Finding.remedy` are plain text, never markdown. Bulwark
never @-mentions anyone: a login is shown with a zero-width joiner after the
`@`; the person who asked is subscribed to the thread and sees the reply anyway.
Bodies stay under GitHub's limits by construction (lists are cut worst-last with
"…and N more"), and `truncate_body` is the last guard.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import overload

from bot.core.commands import Verb
from bot.core.markdown import body_length, clean, code, escape, link, truncate_body
from bot.core.models import (
    REPAIRABLE,
    WAITING,
    DirectPush,
    Finding,
    FindingKind,
    Outcome,
    RepoStatus,
)
from bot.core.policy import Mode
from bot.core.reporting import CodeQLState, Unavailable

PR_STATUS_MARKER = "<!-- bulwark:pr-status -->"
REPORT_MARKER_PREFIX = "<!-- bulwark:report"
COMMIT_COMMENT_MARKER = "<!-- bulwark:direct-push -->"
COMMAND_REPLY_MARKER = "<!-- bulwark:command-reply -->"
COMPUTED_AT_PREFIX = "_Computed at "

CHECK_TEXT_LIMIT = 65_000  # GitHub: summary and text at most 65,535 characters
CHECK_TITLE_LIMIT = 120
REPORT_LIMIT = 59_000  # GitHub refuses 65,536; DESIGN.md: stay under 60,000
COMMENT_LIMIT = 60_000
MAX_FINDINGS_SHOWN = 20
MAX_REPO_FINDINGS_IN_REPORT = 5

FIX_ACTION = {
    "label": "Fix protection",
    "description": "Apply the org policy to this branch",
    "identifier": "fix-protection",
}

KIND_LABELS = {
    FindingKind.UNPROTECTED: "Unprotected",
    FindingKind.REVIEWS_MISSING: "No review required",
    FindingKind.REVIEWS_TOO_FEW: "Too few reviews required",
    FindingKind.CHECK_MISSING: "Check not required",
    FindingKind.ADMINS_NOT_ENFORCED: "Admins may bypass",
    FindingKind.FORCE_PUSH_ALLOWED: "Force pushes allowed",
    FindingKind.DELETION_ALLOWED: "Deletion allowed",
    FindingKind.DIRECT_PUSH: "Direct push",
    FindingKind.POLICY_INVALID: "Invalid policy file",
    FindingKind.NOT_SUPPORTED: "Not supported",
    FindingKind.NO_PERMISSION: "No permission",
    FindingKind.EMPTY_REPOSITORY: "Empty repository",
    FindingKind.BYPASS_UNKNOWN: "Bypass list hidden",
    FindingKind.CHECK_NOT_REPORTING: "Check not reporting",
    FindingKind.CODEQL_UNAVAILABLE: "CodeQL unavailable",
    FindingKind.UNREADABLE: "Unreadable",
}

# --- templates -----------------------------------------------------------------

WHY_IT_MATTERS = (
    "**Why it matters:** the organisation promises that code reaches {branch} only through "
    "a pull request that another person approved, with CodeQL and the tests passing, and "
    "that nobody, administrators included, can bypass that unseen. While the protection "
    "falls short, that promise does not hold for this branch."
)
ENFORCE_NEXT = (
    "**What happens next:** Bulwark repairs drift in this organisation (mode `enforce`) and "
    "will edit this comment when {branch} meets the policy again. If it persists, a repository "
    "admin or maintainer can comment `/protection fix` or use the **Fix protection** button "
    "on the `repo-protection` check."
)
REPORT_NEXT = (
    "**What to do:** Bulwark only reports drift in this organisation (mode `report`). A "
    "repository admin or maintainer can comment `/protection fix`, use the **Fix protection** "
    "button on the `repo-protection` check, or change the branch protection settings."
)
WAITING_WHY = (
    "**Why they are not required yet:** a required check that nothing on the repository "
    "reports keeps every pull request waiting for it, so nobody could merge. Bulwark requires "
    "each of these checks on {branch} as soon as it reports here; until then the promise "
    "behind it does not hold for this branch."
)
WAITING_HEAD = "**Checks not required yet on {branch}** ({count}):"
PR_WAITING = "### ℹ️ Some of the policy's checks are not required yet on {branch} of {repo}"
CHECK_WAITING = (
    "{branch} of {repo} is protected, but {count} of the policy's checks cannot be required "
    "yet: nothing on the repository reports them, and requiring them would block every merge."
)
PR_DRIFT = "### ⚠️ The base branch {branch} of {repo} does not meet the protection policy"
PR_RESOLVED = "### ✅ Resolved\n\nThe protection of {branch} now meets the policy ({when})."
PR_FIXED_AT = "fixed at {at}"
PR_NO_LONGER = "no longer drifts"

CHECK_SUCCESS = "{branch} meets the protection policy: {terms}."
CHECK_FIXED = "Bulwark repaired it at {at}."
CHECK_FAILURE = "{branch} of {repo} does not meet the protection policy ({count}):"
CHECK_NEUTRAL = "{branch} of {repo} is not checked: {reason}"
CHECK_EXPECTED = "**The policy asks for:** {terms}."

STATUS_COMPLIANT = "{repo} meets the protection policy on {branches}."
STATUS_FIXED = (
    "{repo} drifted and Bulwark repaired it at {at}; it now meets the policy on {branches}. "
    "It repaired:"
)
STATUS_DRIFTED = "{repo} does not meet the protection policy ({count}):"
STATUS_EXCLUDED = "{repo} is excluded from the protection policy: {reason}."
STATUS_UNSUPPORTED = "Bulwark cannot enforce protection on {repo}: {reason}."
STATUS_ERROR = (
    "Bulwark could not read the protection of {repo}: {reason}. The next resync will try again."
)
CHECK_AGAIN = "I checked again just now."
FIX_DONE = "I applied the org policy."
FIX_NOTHING = "Nothing to fix."
FIX_FAILED = "I could not bring the repository up to the policy."
REPORT_UPDATED = "The org report is up to date: {link}."
FIX_REFUSED = (
    "Nothing was changed: fixing protection needs the admin or maintain role on this "
    "repository (org owners may too), and {login} has {role}."
)
REFUSED = (
    "{command} needs the {needed} role on this repository (org owners may use it too); "
    "{login} has {role}. "
    "Anyone may use `/protection status`, `/protection check` and `/protection help`."
)
FAILURE = (
    "I could not run {command} because GitHub answered: {reason}. I will retry at the next resync."
)
RATE_LIMITED = (
    "{login} sent many commands in a short time; I will not answer further commands from "
    "{login} here for a while."
)
REPORT_UNAVAILABLE = "⚠️ The org report is not available: {reason}."
UNKNOWN_COMMAND = "I do not know {command}."
HELP = """Bulwark answers these commands, each on a line of its own in a comment:

| command | what it does | who may use it |
| --- | --- | --- |
| `/protection status` | shows whether this repository meets the org's protection policy | anyone |
| `/protection check` | checks the protection again now | anyone |
| `/protection fix` | applies the org's policy to this repository | admin, maintain, org owner |
| `/protection report` | refreshes the org drift report and links it | admin, maintain, org owner |
| `/protection help` | shows this help | anyone |

Text after the command is ignored; commands in code, quotes or HTML comments are not read."""

DIRECT_PUSH_TITLE = "### ⚠️ A commit reached {branch} without a reviewed pull request"
DIRECT_PUSH_WHAT = "{pusher} {pushed} {sha} directly to {branch}: {reason}."
DIRECT_PUSH_WHY = (
    "**Why it matters:** the organisation promises that code reaches {branch} only through "
    "a pull request another person approved, with CodeQL and the tests passing. This commit "
    "skipped that promise."
)
DIRECT_PUSH_TODO = (
    "**What to do:** have someone review this change after the fact (open a pull request that "
    "reverts or re-applies it), and make sure the protection of {branch} includes "
    "administrators so it cannot happen again. Bulwark lists this push in the org report."
)

REPORT_TITLE = "## Branch protection report for {org}"
REPORT_SUMMARY = (
    "**{total} repositories:** {compliant} compliant, {drifted} drifted, {fixed} fixed, "
    "{excluded} excluded, {unsupported} unsupported, {errors} errors."
)
REPORT_COMPUTED = COMPUTED_AT_PREFIX + "{at} by Bulwark._"
REPORT_DELAYED = "⏳ The scan was delayed by GitHub's rate limit; some results may be older."
REPORT_MORE_DRIFTED = "…and {count} more drifted repositories — run {command} for all of them."
REPORT_MORE = "…and {count} more."
REPORT_REPORTED_ONLY = "Bulwark: reported only (mode `report`)."
REPORT_COULD_NOT = "Bulwark: could not repair it: {reason}."
REPORT_NEEDS_PERSON = (
    "Bulwark: its branch protection meets the policy; what is listed above is for a person "
    "to fix, no protection write can."
)
REPORT_READ_ONLY = "Found by a read-only scan: nothing was changed (`--apply` repairs it)."
REPORT_COULD_NOT_PLAIN = "Bulwark: could not repair it; the next resync will try again."
REPORT_FIXED_ITEM = "- {repo}: fixed at {at} ({kinds})"
REPORT_PUSH_ITEM = "- {sha} to {branch} of {repo} by {pusher} at {at}{forced}"
REPORT_ERROR_ITEM = "- {repo}: {reason}"
REPORT_GROUP_ITEM = "- {reason} ({count}): {names}"
REPORT_CLOSED = (
    "Every repository meets the protection policy as of {at}; closing this report. "
    "Bulwark reopens it when drift returns."
)
REPORT_CLOSED_SUMMARY = (
    "Nothing stands between the organisation and its promises: {compliant} compliant, "
    "{fixed} repaired by Bulwark, {excluded} excluded, of {total} repositories. It reopens "
    "as soon as a repository drifts, cannot be protected or read, Bulwark lacks a "
    "permission, a policy file is invalid, or a commit skips review."
)
REPORT_PRIVATE = (
    "🔒 This report is in a public repository, so it names public repositories only. "
    "{left_out} Run {command} to see them, or keep the report in a private repository "
    "(`report.repository` in the org policy)."
)
REPORT_PRIVATE_REPOS = "{count} private {repositories} ({outcomes}) counted above {are} not named."
REPORT_PRIVATE_PUSHES = "{count} direct {pushes} to private repositories {are} not shown."

_PLAIN_NAME = re.compile(r"[A-Za-z0-9._/+-]{1,100}")
_ISO_TIME = re.compile(r"[0-9TZ:.+\- ]{1,40}")
_HEX = re.compile(r"[0-9a-fA-F]{4,64}")
_REPORT_MARKER = re.compile(r"<!-- bulwark:report sha256=([0-9a-f]{64}) -->")


# --- data --------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyTerms:
    """What the policy asks of a branch, as the renderers state it."""

    approving_reviews: int = 1
    checks: tuple[str, ...] = ("CodeQL", "test")
    enforce_admins: bool = True


DEFAULT_TERMS = PolicyTerms()


@dataclass(frozen=True)
class CheckOutput:
    """A check run's conclusion, output and action buttons."""

    title: str
    summary: str
    text: str
    conclusion: str  # success / failure / neutral
    actions: tuple[Mapping[str, str], ...] = field(default=())


# --- small pieces --------------------------------------------------------------


def name(text: str) -> str:
    """Return a name as inline code when it is plain, else as escaped text."""
    return code(text) if _PLAIN_NAME.fullmatch(text) else escape(text, max_len=120)


def when(at: str) -> str:
    """Return an ISO time as it is, or escaped when it is not one."""
    return at if _ISO_TIME.fullmatch(at) else escape(at, max_len=40)


def fix_refused_note(login: str, role: str) -> str:
    """Return the sentence a check run shows when its Fix button was refused."""
    return FIX_REFUSED.format(login=person(login), role=name(role) if role else "no role")


def person(login: str) -> str:
    """Return a login shown with its `@` but never mentioning anyone."""
    return escape("@" + login, max_len=60)


def join_words(words: Sequence[str]) -> str:
    """Join already-rendered words as "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def policy_terms(terms: PolicyTerms) -> str:
    """Describe what the policy asks: "1 approving review, CodeQL and test required, ..."."""
    count = terms.approving_reviews
    parts = [f"{count} approving review{'s' if count != 1 else ''}"]
    if terms.checks:
        parts.append(join_words([name(check) for check in terms.checks[:20]]) + " required")
    parts.append("admins included" if terms.enforce_admins else "admins may bypass")
    return ", ".join(parts)


def finding_line(finding: Finding, *, max_len: int = 400) -> str:
    """Return one finding as a list item: label, kind, branch, sentence, remedy."""
    where = f" on {name(finding.branch)}" if finding.branch else ""
    message = finding.message.rstrip()
    if message and message[-1] not in ".!?:)":
        message += "."  # the remedy follows as a sentence of its own
    sentence = escape(message, max_len=max_len)
    remedy = f" {escape(finding.remedy, max_len=max_len)}" if finding.remedy else ""
    label = KIND_LABELS.get(finding.kind, finding.kind.value)
    return f"- **{label}** ({code(finding.kind.value)}){where}: {sentence}{remedy}"


class _Rendered(Sequence[str]):
    """Items rendered only when read: of 10,000 drifted repositories, only what fits."""

    def __init__(self, items: Sequence[RepoStatus], render: Callable[[RepoStatus], str]) -> None:
        self._items = items
        self._render = render

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self._render(item) for item in self._items[index]]
        return self._render(self._items[index])


def bounded(lines: Sequence[str], budget: int, more: Callable[[int], str]) -> list[str]:
    """Return as many lines as fit `budget` (with newlines), then a "…and N more" line."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        reserve = body_length(more(len(lines))) + 1 if index < len(lines) - 1 else 0
        if used + body_length(line) + 1 + reserve > budget:
            return [*out, more(len(lines) - index)]
        out.append(line)
        used += body_length(line) + 1
    return out


def _more(count: int) -> str:
    """Return the generic "…and N more." line."""
    return REPORT_MORE.format(count=count)


def _finding_list(
    findings: Sequence[Finding], budget: int, shown: int, max_len: int = 400
) -> list[str]:
    """Return findings as list items, at most `shown`, within `budget`."""
    lines = [finding_line(finding, max_len=max_len) for finding in findings[:shown]]
    extra = len(findings) - len(lines)
    if extra:
        lines.append(_more(extra))
    return bounded(lines, budget, _more)


def _branch_findings(status: RepoStatus, branch: str) -> list[Finding]:
    """Return the findings about `branch` or about the whole repository."""
    return [f for f in status.findings if f.branch in (branch, None)]


def _count(findings: Sequence[Finding]) -> str:
    """Return "1 finding" / "3 findings"."""
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"


# --- check run -------------------------------------------------------------------


def check_run_output(
    status: RepoStatus, branch: str, *, can_fix: bool, terms: PolicyTerms = DEFAULT_TERMS
) -> CheckOutput:
    """Return the `repo-protection` check run output for a pull request's base branch."""
    findings = _branch_findings(status, branch)
    if status.outcome in (Outcome.EXCLUDED, Outcome.UNSUPPORTED, Outcome.ERROR):
        return _check_neutral(status, branch)
    if status.outcome is Outcome.DRIFTED and findings:
        if all(f.kind in WAITING for f in findings):
            return _check_waiting(status, branch, findings)
        return _check_failure(status, branch, findings, can_fix=can_fix, terms=terms)
    summary = CHECK_SUCCESS.format(branch=name(branch), terms=policy_terms(terms))
    if status.outcome is Outcome.FIXED and status.fixed_at:
        summary += " " + CHECK_FIXED.format(at=when(status.fixed_at))
    title = clean(f"{branch} meets the protection policy", CHECK_TITLE_LIMIT)
    return CheckOutput(title, truncate_body(summary, CHECK_TEXT_LIMIT), "", "success")


def _check_neutral(status: RepoStatus, branch: str) -> CheckOutput:
    """Return the output for a repository the policy does not check."""
    reason = escape(status.reason or status.outcome.value, max_len=500)
    summary = CHECK_NEUTRAL.format(branch=name(branch), repo=name(status.repo), reason=reason)
    title = clean(f"{branch} is not checked ({status.outcome.value})", CHECK_TITLE_LIMIT)
    return CheckOutput(title, summary, "", "neutral")


def _check_failure(
    status: RepoStatus,
    branch: str,
    findings: Sequence[Finding],
    *,
    can_fix: bool,
    terms: PolicyTerms,
) -> CheckOutput:
    """Return the output for a base branch that drifts from the policy."""
    head = CHECK_FAILURE.format(branch=name(branch), repo=name(status.repo), count=_count(findings))
    items = _finding_list(findings, CHECK_TEXT_LIMIT - 2_000, len(findings))
    summary = "\n".join([head, "", *items])
    text = "\n\n".join(
        [
            CHECK_EXPECTED.format(terms=policy_terms(terms)),
            WHY_IT_MATTERS.format(branch=name(branch)),
            _next_step(status.mode, branch),
        ]
    )
    repairable = any(finding.kind in REPAIRABLE for finding in findings)
    actions = (FIX_ACTION,) if can_fix and repairable else ()
    title = clean(f"{branch}: {_count(findings)} against the protection policy", CHECK_TITLE_LIMIT)
    return CheckOutput(title, truncate_body(summary, CHECK_TEXT_LIMIT), text, "failure", actions)


def _check_waiting(status: RepoStatus, branch: str, findings: Sequence[Finding]) -> CheckOutput:
    """Return the output for a branch that meets the policy but for checks nothing reports.

    Neutral, not failure: nobody on this pull request can make another job report.
    """
    head = CHECK_WAITING.format(branch=name(branch), repo=name(status.repo), count=len(findings))
    items = _finding_list(findings, CHECK_TEXT_LIMIT - 2_000, len(findings))
    summary = "\n".join([head, "", *items])
    title = clean(f"{branch}: {len(findings)} policy checks not required yet", CHECK_TITLE_LIMIT)
    text = WAITING_WHY.format(branch=name(branch))
    return CheckOutput(title, truncate_body(summary, CHECK_TEXT_LIMIT), text, "neutral")


def _next_step(mode: Mode, branch: str) -> str:
    """Return what Bulwark will do, or what a person can do, for the mode."""
    return ENFORCE_NEXT.format(branch=name(branch)) if mode == Mode.ENFORCE else REPORT_NEXT


# --- pull request status comment ----------------------------------------------------


def pr_status_comment(
    repo: str,
    branch: str,
    findings: Sequence[Finding],
    *,
    resolved: bool,
    fixed_at: str | None,
    mode: Mode,
) -> str:
    """Return the one status comment on a pull request whose base branch drifts (or did)."""
    if resolved:
        state = PR_FIXED_AT.format(at=when(fixed_at)) if fixed_at else PR_NO_LONGER
        return f"{PR_STATUS_MARKER}\n{PR_RESOLVED.format(branch=name(branch), when=state)}"
    drift = [f for f in findings if f.kind not in WAITING]
    waiting = [f for f in findings if f.kind in WAITING]
    parts = [PR_STATUS_MARKER]
    if drift:
        parts += [
            PR_DRIFT.format(branch=name(branch), repo=name(repo)),
            "\n".join(_finding_list(drift, COMMENT_LIMIT - 10_000, MAX_FINDINGS_SHOWN)),
            WHY_IT_MATTERS.format(branch=name(branch)),
            _next_step(mode, branch),
        ]
    else:
        parts.append(PR_WAITING.format(branch=name(branch), repo=name(repo)))
    if waiting:
        parts += [
            WAITING_HEAD.format(branch=name(branch), count=len(waiting)),
            "\n".join(_finding_list(waiting, 4_000, MAX_FINDINGS_SHOWN)),
            WAITING_WHY.format(branch=name(branch)),
        ]
    return truncate_body("\n\n".join(parts), COMMENT_LIMIT)


# --- command replies -----------------------------------------------------------------


def _reply(*parts: str, asker: str | None = None) -> str:
    """Return a command reply: the marker, the asker (not pinged), then the parts."""
    lead = f"{person(asker)}: " if asker else ""
    body = "\n\n".join(part for part in parts if part)
    return truncate_body(f"{COMMAND_REPLY_MARKER}\n{lead}{body}", COMMENT_LIMIT)


def _command(verb: Verb | str) -> str:
    """Return a command as inline code (an odd typed word follows it escaped)."""
    if isinstance(verb, Verb) or _PLAIN_NAME.fullmatch(verb[:50]):
        return code(f"/protection {verb[:50]}")
    return f"`/protection` {escape(verb, max_len=50)}"


def status_text(status: RepoStatus) -> str:
    """Describe one repository's state in plain sentences with its findings."""
    repo = name(status.repo)
    reason = escape(status.reason or "no reason given", max_len=500)
    branches = (
        join_words([name(b) for b in status.branches[:20]]) if status.branches else "its branches"
    )
    findings = "\n".join(_finding_list(status.findings, 40_000, MAX_FINDINGS_SHOWN))
    texts = {
        Outcome.COMPLIANT: STATUS_COMPLIANT.format(repo=repo, branches=branches),
        Outcome.FIXED: STATUS_FIXED.format(
            repo=repo, at=when(status.fixed_at or "an unknown time"), branches=branches
        ),
        Outcome.DRIFTED: STATUS_DRIFTED.format(repo=repo, count=_count(status.findings)),
        Outcome.EXCLUDED: STATUS_EXCLUDED.format(repo=repo, reason=reason),
        Outcome.UNSUPPORTED: STATUS_UNSUPPORTED.format(repo=repo, reason=reason),
        Outcome.ERROR: STATUS_ERROR.format(repo=repo, reason=reason),
    }
    listed = status.outcome in (Outcome.FIXED, Outcome.DRIFTED, Outcome.UNSUPPORTED)
    return texts[status.outcome] + (f"\n\n{findings}" if listed and findings else "")


def reply_status(
    status: RepoStatus, *, asker: str | None = None, report_note: str | None = None
) -> str:
    """Return the reply to `/protection status`."""
    return _reply(status_text(status), report_note or "", asker=asker)


def reply_check(
    status: RepoStatus, *, asker: str | None = None, report_note: str | None = None
) -> str:
    """Return the reply to `/protection check`, after a fresh read."""
    return _reply(CHECK_AGAIN, status_text(status), report_note or "", asker=asker)


def reply_fix(status: RepoStatus, *, asker: str | None = None) -> str:
    """Return the reply to `/protection fix`, after the write."""
    lead = {Outcome.FIXED: FIX_DONE, Outcome.COMPLIANT: FIX_NOTHING, Outcome.DRIFTED: FIX_FAILED}
    return _reply(lead.get(status.outcome, ""), status_text(status), asker=asker)


def reply_report(url: str, *, asker: str | None = None) -> str:
    """Return the reply to `/protection report`, linking the report issue."""
    return _reply(REPORT_UPDATED.format(link=link("org report", url)), asker=asker)


def reply_refused(
    verb: Verb | str, login: str, role: str, needed: Sequence[str] = ("admin", "maintain")
) -> str:
    """Return the reply that refuses a privileged command, saying why."""
    text = REFUSED.format(
        command=_command(verb),
        needed=" or ".join(name(role_name) for role_name in needed),
        login=person(login),
        role=name(role) if role else "no role",
    )
    return _reply(text)


def reply_help(unknown_word: str | None = None, *, asker: str | None = None) -> str:
    """Return the help reply; name the unknown word first when there was one."""
    unknown = UNKNOWN_COMMAND.format(command=_command(unknown_word)) if unknown_word else ""
    return _reply(unknown, HELP, asker=asker)


def reply_failure(verb: Verb | str, reason: str, *, asker: str | None = None) -> str:
    """Return the reply when GitHub failed (down, rate-limited) while running a command."""
    return _reply(FAILURE.format(command=_command(verb), reason=escape(reason, 300)), asker=asker)


def reply_rate_limited(login: str) -> str:
    """Return the one notice after a person floods commands."""
    return _reply(RATE_LIMITED.format(login=person(login)))


def reply_report_unavailable(reason: str) -> str:
    """Return a one-line warning that the org report is missing or cannot be written."""
    return REPORT_UNAVAILABLE.format(reason=escape(reason, 300))


# --- direct push commit comment -------------------------------------------------------


def direct_push_comment(
    pusher: str, branch: str, sha: str, reason: str, *, forced: bool = False
) -> str:
    """Return the commit comment on a commit that skipped review."""
    what = DIRECT_PUSH_WHAT.format(
        pusher=person(pusher),
        pushed="force-pushed" if forced else "pushed",
        sha=_sha(sha),
        branch=name(branch),
        reason=escape(reason, 500),
    )
    parts = [
        COMMIT_COMMENT_MARKER,
        DIRECT_PUSH_TITLE.format(branch=name(branch)),
        what,
        DIRECT_PUSH_WHY.format(branch=name(branch)),
        DIRECT_PUSH_TODO.format(branch=name(branch)),
    ]
    return truncate_body("\n\n".join(parts), COMMENT_LIMIT)


def _sha(sha: str) -> str:
    """Return a commit id shortened as inline code, or escaped when it is not hex."""
    return code(sha[:12]) if _HEX.fullmatch(sha) else escape(sha, 64)


# --- org report ------------------------------------------------------------------------


def report_marker(digest: str) -> str:
    """Return the report issue's hidden marker carrying the content digest."""
    return f"{REPORT_MARKER_PREFIX} sha256={digest} -->"


def parse_report_marker(body: str) -> str | None:
    """Return the digest in a report body's marker, or None."""
    match = _REPORT_MARKER.search(body)
    return match.group(1) if match else None


def report_digest(body: str) -> str:
    """Return the sha256 of a report body without its marker and its computed-at line."""
    lines = [
        line
        for line in body.split("\n")
        if not line.startswith((REPORT_MARKER_PREFIX, COMPUTED_AT_PREFIX))
    ]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def report_closed_comment(computed_at: str, statuses: Sequence[RepoStatus] = ()) -> str:
    """Return the comment that closes the report when nothing stands in the way, with counts."""
    closed = REPORT_CLOSED.format(at=when(computed_at))
    if not statuses:
        return closed
    counts = _outcome_counts(statuses)
    summary = REPORT_CLOSED_SUMMARY.format(
        compliant=counts[Outcome.COMPLIANT],
        fixed=counts[Outcome.FIXED],
        excluded=counts[Outcome.EXCLUDED],
        total=len(statuses),
    )
    return f"{closed}\n\n{summary}"


def report_body(
    statuses: Sequence[RepoStatus],
    *,
    org: str,
    computed_at: str,
    public: bool,
    direct_pushes: Sequence[DirectPush] = (),
    delayed: bool = False,
    errors: Sequence[str] = (),
    read_only: bool = False,
    promises: str = "",
) -> str:
    """Return the org report issue body, always under 60,000 characters.

    `promises` is the Promises table, shown first under the title (a few hundred characters;
    counts only). `public`: anyone can read where it is posted, so private repositories
    (and direct pushes to them) are counted, never named.
    """
    named = [s for s in statuses if not (public and s.private)]
    public_names = {s.repo.lower() for s in named}
    pushes = [p for p in direct_pushes if not public or p.repo.lower() in public_names]
    head = _report_head(statuses, org=org, computed_at=computed_at, delayed=delayed)
    if promises:
        title, _, after = head.partition("\n")
        head = f"{title}\n\n{promises}\n{after}"
    hidden = _private_note(statuses, org, len(direct_pushes) - len(pushes)) if public else ""
    head = f"{head}\n\n{hidden}" if hidden else head
    tail = _report_tail(named, pushes, errors)
    budget = REPORT_LIMIT - body_length(head) - 200
    reserve = sum(min(_section_size(section), cap) for section, cap in tail)
    drifted = _drifted_section(named, org, max(budget - reserve, 0), read_only)
    rest = budget - body_length(drifted)
    sections = [drifted]
    for section, cap in tail:
        fitted = _fit_section(section, min(cap, rest) if rest > 0 else 0)
        rest -= body_length(fitted)
        sections.append(fitted)
    content = truncate_body("\n\n".join([head, *[s for s in sections if s]]), REPORT_LIMIT)
    return f"{report_marker(report_digest(content))}\n{content}"


def _outcome_counts(statuses: Iterable[RepoStatus]) -> dict[Outcome, int]:
    """Count repositories by outcome."""
    counts = {outcome: 0 for outcome in Outcome}
    for status in statuses:
        counts[status.outcome] += 1
    return counts


def _private_note(statuses: Sequence[RepoStatus], org: str, hidden_pushes: int) -> str:
    """Return how many private repositories (and pushes to them) a public report leaves out."""
    private = [s for s in statuses if s.private]
    left_out = []
    if private:
        counts = _outcome_counts(private)
        left_out.append(
            REPORT_PRIVATE_REPOS.format(
                count=len(private),
                repositories="repository" if len(private) == 1 else "repositories",
                outcomes=", ".join(f"{n} {o.value}" for o, n in counts.items() if n),
                are="is" if len(private) == 1 else "are",
            )
        )
    if hidden_pushes:
        left_out.append(
            REPORT_PRIVATE_PUSHES.format(
                count=hidden_pushes,
                pushes="push" if hidden_pushes == 1 else "pushes",
                are="is" if hidden_pushes == 1 else "are",
            )
        )
    if not left_out:
        return ""
    command = code(f"bulwark scan --org {org}", max_len=150)
    return REPORT_PRIVATE.format(left_out=" ".join(left_out), command=command)


def _report_head(
    statuses: Sequence[RepoStatus], *, org: str, computed_at: str, delayed: bool
) -> str:
    """Return the title, the counts, the computed-at line and the delay notice."""
    counts = _outcome_counts(statuses)
    summary = REPORT_SUMMARY.format(
        total=len(statuses),
        compliant=counts[Outcome.COMPLIANT],
        drifted=counts[Outcome.DRIFTED],
        fixed=counts[Outcome.FIXED],
        excluded=counts[Outcome.EXCLUDED],
        unsupported=counts[Outcome.UNSUPPORTED],
        errors=counts[Outcome.ERROR],
    )
    lines = [
        REPORT_TITLE.format(org=name(org)),
        "",
        summary,
        "",
        REPORT_COMPUTED.format(at=when(computed_at)),
    ]
    return "\n".join([*lines, "", REPORT_DELAYED] if delayed else lines)


def _severity(status: RepoStatus) -> tuple[bool, int, str]:
    """Sort key: unprotected first, then most findings, then name."""
    unprotected = any(f.kind is FindingKind.UNPROTECTED for f in status.findings)
    return (not unprotected, -len(status.findings), status.repo)


def _drifted_section(
    statuses: Sequence[RepoStatus], org: str, budget: int, read_only: bool = False
) -> str:
    """Return the drifted repositories, worst first, as many as fit `budget`."""
    drifted = sorted((s for s in statuses if s.outcome is Outcome.DRIFTED), key=_severity)
    if not drifted:
        return ""
    command = code(f"bulwark scan --org {org} --format markdown", max_len=150)
    entries = _Rendered(drifted, lambda status: _drifted_entry(status, read_only))
    more = lambda count: REPORT_MORE_DRIFTED.format(count=count, command=command)  # noqa: E731
    title = f"### Drifted repositories ({len(drifted)})"
    return "\n\n".join([title, *bounded(entries, budget - len(title) - 2, more)])


def _drifted_entry(status: RepoStatus, read_only: bool = False) -> str:
    """Return one drifted repository: its findings and what Bulwark did."""
    lines = _finding_list(status.findings, 4_000, MAX_REPO_FINDINGS_IN_REPORT, max_len=160)
    if read_only:
        action = REPORT_READ_ONLY
    elif status.mode != Mode.ENFORCE:
        action = REPORT_REPORTED_ONLY
    elif not any(finding.kind in REPAIRABLE for finding in status.findings):
        action = REPORT_NEEDS_PERSON  # policy files, direct pushes: no write can repair these
    elif status.reason:
        action = REPORT_COULD_NOT.format(reason=escape(status.reason, 300))
    else:
        action = REPORT_COULD_NOT_PLAIN
    header = f"#### {name(status.repo)} — {_count(status.findings)}"
    return "\n".join([header, "", *lines, "", action])


def _report_tail(
    statuses: Sequence[RepoStatus], pushes: Sequence[DirectPush], errors: Sequence[str]
) -> list[tuple[tuple[str, list[str]], int]]:
    """Return the sections after the drifted list, each with its size cap."""
    by = {outcome: [s for s in statuses if s.outcome is outcome] for outcome in Outcome}
    fixed, error = by[Outcome.FIXED], by[Outcome.ERROR]
    excluded, unsupported = by[Outcome.EXCLUDED], by[Outcome.UNSUPPORTED]
    codeql = _codeql_items(statuses)
    return [
        ((f"### CodeQL ({sum(n for n, _ in codeql)})", [i for _, i in codeql]), 4_000),
        ((f"### Recent direct pushes ({len(pushes)})", _push_items(pushes)), 6_000),
        ((f"### Fixed ({len(fixed)})", [_fixed_item(s) for s in fixed]), 4_000),
        ((f"### Errors ({len(error) + len(errors)})", _error_items(error, errors)), 3_000),
        ((f"### Excluded ({len(excluded)})", _grouped(excluded)), 3_000),
        ((f"### Unsupported ({len(unsupported)})", _grouped(unsupported)), 3_000),
    ]


CODEQL_GROUPS = {
    CodeQLState.ENABLED: "Bulwark turned on default setup; first analysis to come",
    CodeQLState.PENDING: "default setup is on; waiting for its first analysis",
    CodeQLState.AVAILABLE: "default setup can be turned on (mode report, or a read-only run)",
}


def _codeql_items(statuses: Sequence[RepoStatus]) -> list[tuple[int, str]]:
    """Return (count, line) per CodeQL group: enabled, pending, available, unavailable by reason."""
    groups: dict[str, list[str]] = {}
    for status in statuses:
        label = _codeql_group(status)
        if label is not None:
            groups.setdefault(label, []).append(status.repo)
    return [
        (len(repos), _group_item(label, sorted(repos)))
        for label, repos in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    ]


def _codeql_group(status: RepoStatus) -> str | None:
    """Return the CodeQL group a repository falls in, or None when CodeQL reports (or n/a)."""
    state = status.codeql
    if state in CODEQL_GROUPS:
        return CODEQL_GROUPS[CodeQLState(state)]
    if state != CodeQLState.UNAVAILABLE:
        return None
    finding = next((f for f in status.findings if f.kind is FindingKind.CODEQL_UNAVAILABLE), None)
    reason = next((u.value for u in Unavailable if finding and u.value in finding.message), None)
    return f"unavailable: {reason or 'default setup cannot run here'}"


def _section_size(section: tuple[str, list[str]]) -> int:
    """Return the length a titled list takes in full."""
    title, items = section
    return 0 if not items else body_length(title) + 20 + sum(body_length(i) + 1 for i in items)


def _fit_section(section: tuple[str, list[str]], budget: int) -> str:
    """Return a titled list cut to `budget`, or "" when empty or without room."""
    title, items = section
    if not items or budget < len(title) + 100:
        return ""
    return "\n".join([title, "", *bounded(items, budget - len(title) - 10, _more)])


def _push_items(pushes: Sequence[DirectPush]) -> list[str]:
    """Return the direct pushes, most recent first."""
    return [
        REPORT_PUSH_ITEM.format(
            sha=_sha(push.sha),
            branch=name(push.branch),
            repo=name(push.repo),
            pusher=person(push.pusher),
            at=when(push.at),
            forced=" (force push)" if push.forced else "",
        )
        for push in sorted(pushes, key=lambda p: (p.at, p.repo, p.sha), reverse=True)
    ]


def _fixed_item(status: RepoStatus) -> str:
    """Return one repaired repository with what was repaired."""
    kinds = sorted({finding.kind.value for finding in status.findings}) or ["drift"]
    return REPORT_FIXED_ITEM.format(
        repo=name(status.repo),
        at=when(status.fixed_at or "an unknown time"),
        kinds=", ".join(code(kind) for kind in kinds),
    )


def _error_items(statuses: Sequence[RepoStatus], errors: Sequence[str]) -> list[str]:
    """Return org-level errors, then repositories that could not be read."""
    items = [f"- {escape(error, 300)}" for error in errors]
    return items + [
        REPORT_ERROR_ITEM.format(repo=name(s.repo), reason=escape(s.reason or "unknown", 300))
        for s in sorted(statuses, key=lambda s: s.repo)
    ]


def _grouped(statuses: Iterable[RepoStatus]) -> list[str]:
    """Return repositories grouped by reason, biggest group first, with counts."""
    groups: dict[str, list[str]] = {}
    for status in statuses:
        groups.setdefault(clean(status.reason or "no reason given", 200), []).append(status.repo)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [_group_item(reason, sorted(repos)) for reason, repos in ordered]


def _group_item(reason: str, repos: Sequence[str]) -> str:
    """Return one reason with its count and up to ten repository names."""
    names = ", ".join(name(repo) for repo in repos[:10])
    if len(repos) > 10:
        names += f" and {len(repos) - 10} more"
    return REPORT_GROUP_ITEM.format(reason=escape(reason, 200), count=len(repos), names=names)
