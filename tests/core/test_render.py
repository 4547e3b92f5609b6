"""Rendered bodies: content, hostile names, size limits and the report digest."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.commands import Verb
from bot.core.markdown import body_length
from bot.core.models import DirectPush, Finding, FindingKind, Outcome, RepoStatus
from bot.core.render import (
    COMMAND_REPLY_MARKER,
    COMMIT_COMMENT_MARKER,
    FIX_ACTION,
    PR_STATUS_MARKER,
    check_run_output,
    direct_push_comment,
    parse_report_marker,
    pr_status_comment,
    reply_check,
    reply_failure,
    reply_fix,
    reply_help,
    reply_rate_limited,
    reply_refused,
    reply_report,
    reply_report_unavailable,
    reply_status,
    report_body,
    report_closed_comment,
    report_digest,
    report_marker,
)

LIVE_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9-]+")
RAW_TAG = re.compile(r"<(?!!-- bulwark:)[A-Za-z/!]")
NOW = "2024-05-01T12:00:00Z"
HOSTILE = [
    "</details><img src=x onerror=alert(1)>",
    "@org/team",
    "x @octocat y",
    "]]( javascript:alert(1))",
    "`code` ``more``",
    "a|b|c",
    "line1\nline2\r\n# heading",
    "<!-- bulwark:report sha256=" + "0" * 64 + " -->",
    "x" * 10_000,
]
UNPROTECTED = Finding(FindingKind.UNPROTECTED, "main is not protected.", "Protect it.", "main")
NO_CODEQL = Finding(FindingKind.CHECK_MISSING, "CodeQL is not required.", "", "main", "CodeQL")
BAD_POLICY = Finding(FindingKind.POLICY_INVALID, "The policy file is invalid at line 3.")
DRIFTED = RepoStatus("octo/api", Outcome.DRIFTED, (UNPROTECTED, NO_CODEQL), branches=("main",))


def assert_inert(body: str) -> None:
    """Assert a body has no raw HTML from user text and mentions nobody."""
    assert not RAW_TAG.search(body), RAW_TAG.search(body)
    assert not LIVE_MENTION.search(body), LIVE_MENTION.search(body)
    assert body_length(body) <= 60_000


def test_fix_action_fits_github_limits() -> None:
    assert len(FIX_ACTION["label"]) <= 20
    assert len(FIX_ACTION["description"]) <= 40
    assert len(FIX_ACTION["identifier"]) <= 20


@pytest.mark.parametrize(
    ("status", "branch", "can_fix", "conclusion", "actions"),
    [
        (RepoStatus("octo/api", Outcome.COMPLIANT), "main", True, "success", ()),
        (DRIFTED, "main", True, "failure", (FIX_ACTION,)),
        (DRIFTED, "main", False, "failure", ()),
        (DRIFTED, "release/1", True, "success", ()),
        (replace(DRIFTED, findings=(BAD_POLICY,)), "main", True, "failure", ()),
        (replace(DRIFTED, outcome=Outcome.FIXED, fixed_at=NOW), "main", True, "success", ()),
        (RepoStatus("octo/api", Outcome.UNSUPPORTED, reason="plan"), "main", True, "neutral", ()),
        (RepoStatus("octo/api", Outcome.EXCLUDED, reason="archived"), "main", True, "neutral", ()),
        (RepoStatus("octo/api", Outcome.ERROR, reason="502"), "main", True, "neutral", ()),
    ],
)
def test_check_run_conclusion(
    status: RepoStatus, branch: str, can_fix: bool, conclusion: str, actions: tuple[object, ...]
) -> None:
    output = check_run_output(status, branch, can_fix=can_fix)
    assert (output.conclusion, output.actions) == (conclusion, actions)
    assert len(output.title) <= 255


def test_check_run_success_states_the_policy() -> None:
    output = check_run_output(RepoStatus("octo/api", Outcome.COMPLIANT), "main", can_fix=False)
    assert output.summary == (
        "`main` meets the protection policy: 1 approving review, "
        "`CodeQL` and `test` required, admins included."
    )


def test_check_run_failure_lists_findings_and_remedies() -> None:
    output = check_run_output(DRIFTED, "main", can_fix=True)
    assert "main is not protected" in output.summary
    assert "Protect it" in output.summary
    assert "`check_missing`" in output.summary
    assert "Why it matters" in output.text


def test_check_run_stays_within_limits_with_many_findings() -> None:
    findings = tuple(
        Finding(FindingKind.CHECK_MISSING, "y" * 400, "z" * 400, "m" * 300, str(i))
        for i in range(500)
    )
    output = check_run_output(replace(DRIFTED, findings=findings), "m" * 300, can_fix=True)
    assert len(output.summary) <= 65_535 and len(output.text) <= 65_535
    assert len(output.title) <= 255
    assert "more" in output.summary


@pytest.mark.parametrize(
    ("mode", "expected"), [("enforce", "Bulwark repairs drift"), ("report", "only reports drift")]
)
def test_pr_status_comment_drift(mode: str, expected: str) -> None:
    body = pr_status_comment(
        "octo/api", "main", DRIFTED.findings, resolved=False, fixed_at=None, mode=mode
    )
    assert body.startswith(PR_STATUS_MARKER)
    assert "main is not protected" in body and "Why it matters" in body and expected in body


@pytest.mark.parametrize(
    ("fixed_at", "expected"),
    [
        (NOW, f"The protection of `main` now meets the policy (fixed at {NOW})."),
        (None, "The protection of `main` now meets the policy (no longer drifts)."),
    ],
)
def test_pr_status_comment_resolved(fixed_at: str | None, expected: str) -> None:
    body = pr_status_comment("octo/api", "main", (), resolved=True, fixed_at=fixed_at, mode="x")
    assert body.startswith(PR_STATUS_MARKER) and expected in body


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RepoStatus("octo/api", Outcome.COMPLIANT, branches=("main",)), "meets the protection"),
        (DRIFTED, "does not meet the protection policy (2 findings)"),
        (replace(DRIFTED, outcome=Outcome.FIXED, fixed_at=NOW), f"repaired it at {NOW}"),
        (RepoStatus("octo/api", Outcome.EXCLUDED, reason="archived"), "excluded"),
        (RepoStatus("octo/api", Outcome.UNSUPPORTED, reason="free plan"), "free plan"),
        (RepoStatus("octo/api", Outcome.ERROR, reason="GitHub 502"), "next resync"),
    ],
)
def test_reply_status(status: RepoStatus, expected: str) -> None:
    body = reply_status(status, asker="octocat")
    assert body.startswith(COMMAND_REPLY_MARKER) and expected in body
    assert_inert(body)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (Outcome.FIXED, "I applied the org policy."),
        (Outcome.COMPLIANT, "Nothing to fix."),
        (Outcome.DRIFTED, "I could not bring"),
    ],
)
def test_reply_fix(outcome: Outcome, expected: str) -> None:
    assert expected in reply_fix(replace(DRIFTED, outcome=outcome, fixed_at=NOW))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (reply_check(DRIFTED), "I checked again just now."),
        (reply_status(DRIFTED, report_note=reply_report_unavailable("410")), "not available: 410"),
        (reply_report("https://github.com/octo/.github/issues/7"), "(https://github.com/octo/"),
        (reply_refused(Verb.FIX, "mallory", "write"), "needs the `admin` or `maintain` role"),
        (reply_refused(Verb.REPORT, "mallory", ""), "has no role"),
        (reply_help(None), "| `/protection fix` |"),
        (reply_help("frobnicate"), "I do not know `/protection frobnicate`."),
        (reply_failure(Verb.CHECK, "502 Bad Gateway"), "GitHub answered: 502 Bad Gateway"),
        (reply_rate_limited("spammer"), "many commands"),
    ],
)
def test_replies(body: str, expected: str) -> None:
    assert body.startswith(COMMAND_REPLY_MARKER) and expected in body
    assert_inert(body)


def test_help_says_who_may_use_each_command() -> None:
    body = reply_help(None)
    for verb in ("status", "check", "fix", "report", "help"):
        assert f"`/protection {verb}`" in body
    assert "admin, maintain" in body and "anyone" in body


def test_reply_report_refuses_foreign_urls() -> None:
    with pytest.raises(ValueError, match="did not build"):
        reply_report("javascript:alert(1)")


def test_direct_push_comment() -> None:
    body = direct_push_comment("bob", "main", "a" * 40, "no pull request contains this commit")
    assert body.startswith(COMMIT_COMMENT_MARKER)
    assert "`aaaaaaaaaaaa`" in body and "Why it matters" in body and "What to do" in body
    assert_inert(body)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_stay_inert(hostile: str) -> None:
    finding = Finding(FindingKind.CHECK_MISSING, hostile, hostile, hostile, hostile, hostile)
    status = RepoStatus(hostile, Outcome.DRIFTED, (finding,), reason=hostile, branches=(hostile,))
    push = DirectPush(hostile, hostile, hostile, hostile, hostile)
    bodies = [
        check_run_output(status, hostile, can_fix=True).summary,
        pr_status_comment(hostile, hostile, (finding,), resolved=False, fixed_at=None, mode="x"),
        pr_status_comment(hostile, hostile, (), resolved=True, fixed_at=hostile, mode="x"),
        reply_status(status, asker=hostile),
        reply_refused(hostile, hostile, hostile),
        reply_help(hostile),
        reply_failure(hostile, hostile),
        reply_rate_limited(hostile),
        reply_report_unavailable(hostile),
        direct_push_comment(hostile, hostile, hostile, hostile),
        report_body([status], org=hostile, computed_at=hostile, public=False, direct_pushes=[push]),
        report_closed_comment(hostile),
    ]
    for body in bodies:
        assert_inert(body)
        assert body.count("bulwark:report") <= 1


def test_hostile_reason_keeps_table_rows_intact() -> None:
    lines = reply_help("a|b\n| x | y |").split("\n")
    rows = [line for line in lines if line.startswith("|")]
    assert len(rows) == 7 and all(row.count(" | ") == 2 for row in rows[2:])


def _status(i: int, outcome: Outcome, findings: int = 3) -> RepoStatus:
    name = f"octo/{'r' * 80}-{i:05d}"
    kinds = [FindingKind.UNPROTECTED if i % 7 == 0 else FindingKind.CHECK_MISSING]
    kinds += [FindingKind.CHECK_MISSING] * (findings - 1)
    found = tuple(Finding(k, "m" * 300, "r" * 300, "main", str(n)) for n, k in enumerate(kinds))
    return RepoStatus(name, outcome, found, reason=f"reason {i % 13}", fixed_at=NOW)


def test_report_of_a_huge_org_fits_and_lists_the_worst_first() -> None:
    outcomes = [Outcome.DRIFTED, Outcome.EXCLUDED, Outcome.UNSUPPORTED, Outcome.FIXED]
    statuses = [_status(i, outcomes[i % 4], findings=1 + i % 30) for i in range(10_000)]
    pushes = [DirectPush("octo/r", "main", f"{i:040x}", "bob", NOW) for i in range(500)]
    body = report_body(
        statuses, org="octo", computed_at=NOW, public=False, direct_pushes=pushes, delayed=True
    )
    assert body_length(body) < 60_000
    assert "more drifted repositories — run `bulwark scan --org octo --format markdown`" in body
    drifted = body.split("### Drifted repositories (2500)")[1]
    assert drifted.index("**Unprotected**") < drifted.index("**Check not required**")
    assert "### Excluded (2500)" in body and "delayed by GitHub's rate limit" in body
    assert parse_report_marker(body) == report_digest(body)


def test_a_public_report_counts_private_repositories_and_never_names_them() -> None:
    outcomes = [o for o in Outcome if o is not Outcome.COMPLIANT]
    statuses = [
        replace(_status(i, outcomes[i % len(outcomes)]), private=i % 2 == 1) for i in range(2_000)
    ]
    sha = lambda i: f"{i:05x}" + "c" * 35  # noqa: E731
    pushes = [DirectPush(s.repo, "main", sha(i), "bob", NOW) for i, s in enumerate(statuses)]

    body = report_body(statuses, org="octo", computed_at=NOW, public=True, direct_pushes=pushes)

    names = re.findall(r"octo/r+-(\d{5})", body)
    assert names and all(int(n) % 2 == 0 for n in names)
    assert any(sha(i)[:12] in body for i in range(0, 2_000, 2))
    assert all(sha(i)[:12] not in body for i in range(1, 2_000, 2))
    assert "1000 private repositories (" in body and "not named" in body
    assert "1000 direct pushes to private repositories are not shown" in body
    assert "**2000 repositories:**" in body  # the counts still cover every repository
    assert body_length(body) < 60_000


@pytest.mark.parametrize(
    ("text", "count"),
    [("compliant", "1 compliant"), ("drifted", "1 drifted"), ("fixed", "1 fixed"), ("err", "0 e")],
)
def test_report_summary_counts(text: str, count: str) -> None:
    statuses = [RepoStatus("octo/a", Outcome.COMPLIANT), DRIFTED, _status(1, Outcome.FIXED)]
    assert count in report_body(statuses, org="octo", computed_at=NOW, public=False)


def test_report_digest_ignores_the_time_but_not_the_state() -> None:
    first = report_body([DRIFTED], org="octo", computed_at=NOW, public=False)
    later = report_body([DRIFTED], org="octo", computed_at="2024-05-02T00:00:00Z", public=False)
    changed = report_body([DRIFTED, DRIFTED], org="octo", computed_at=NOW, public=False)
    assert parse_report_marker(first) == parse_report_marker(later) != parse_report_marker(changed)
    assert first.startswith(report_marker(report_digest(first)) + "\n")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (report_marker("a" * 64), "a" * 64),
        ("<!-- bulwark:report sha256=xyz -->", None),
        ("no marker", None),
    ],
)
def test_parse_report_marker(body: str, expected: str | None) -> None:
    assert parse_report_marker(body) == expected


def test_report_closed_comment() -> None:
    assert NOW in report_closed_comment(NOW) and "reopens" in report_closed_comment(NOW)
    statuses = [RepoStatus("octo/a", Outcome.COMPLIANT), _status(1, Outcome.FIXED)]
    summary = report_closed_comment(NOW, statuses)
    assert "1 compliant, 1 repaired by Bulwark, 0 excluded, of 2 repositories" in summary
    assert "octo/a" not in summary  # counts only


_TEXT = st.text(max_size=300) | st.sampled_from(HOSTILE)


@settings(max_examples=60, deadline=None)
@given(repo=_TEXT, branch=_TEXT, login=_TEXT, message=_TEXT)
def test_renderers_escape_arbitrary_text(repo: str, branch: str, login: str, message: str) -> None:
    finding = Finding(FindingKind.UNPROTECTED, message, message, branch, message, login)
    status = RepoStatus(repo, Outcome.DRIFTED, (finding,), reason=message, branches=(branch,))
    push = DirectPush(repo, branch, message, login, message, forced=True)
    output = check_run_output(status, branch, can_fix=True)
    assert_inert(output.summary)
    assert len(output.title) <= 255 and "\n" not in output.title
    assert_inert(
        pr_status_comment(repo, branch, (finding,), resolved=False, fixed_at=None, mode="")
    )
    assert_inert(reply_status(status, asker=login))
    assert_inert(reply_refused(message, login, message))
    assert_inert(direct_push_comment(login, branch, message, message))
    assert_inert(
        report_body(
            [status] * 3, org=login, computed_at=message, public=False, direct_pushes=[push]
        )
    )
