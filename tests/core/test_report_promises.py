"""The report's Promises table: judged from current state only, counts and no names."""

from __future__ import annotations

import pytest

from bot.core.models import Finding, FindingKind, Outcome, RepoStatus
from bot.core.render import report_body
from bot.core.report_promises import OrgSettings, promises_table

GOOD = OrgSettings(two_factor=True, owners=2, max_owners=5, security_policy=True)


def status(outcome: Outcome, *kinds: tuple[FindingKind, str | None]) -> RepoStatus:
    findings = tuple(Finding(kind, "m", detail=detail) for kind, detail in kinds)
    return RepoStatus("acme/secret-name", outcome, findings)


def row(table: str, promise: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| `{promise}`"))


@pytest.mark.parametrize(
    ("statuses", "settings", "promise", "expected"),
    [
        (
            [status(Outcome.COMPLIANT)],
            GOOD, "no_admin_bypass", "✅ `met` | protection requires it on 1 of 1",
        ),
        (
            [status(Outcome.DRIFTED, (FindingKind.ADMINS_NOT_ENFORCED, None))],
            GOOD, "no_admin_bypass", "❌ `not_met` | protection requires it on 0 of 1",
        ),
        (
            [status(Outcome.FIXED, (FindingKind.ADMINS_NOT_ENFORCED, None))],
            GOOD, "no_admin_bypass", "✅ `met`",
        ),
        (
            [status(Outcome.DRIFTED, (FindingKind.CHECK_MISSING, "test"))],
            GOOD, "codeql_every_change", "✅ `met`",
        ),
        (
            [status(Outcome.DRIFTED, (FindingKind.CHECK_MISSING, "test"))],
            GOOD, "failing_tests_block_merge", "❌ `not_met`",
        ),
        (
            [status(Outcome.DRIFTED, (FindingKind.UNPROTECTED, None))],
            GOOD, "independent_review", "❌ `not_met`",
        ),
        (  # held back until it reports: not required now
            [status(Outcome.DRIFTED, (FindingKind.CHECK_NOT_REPORTING, "test"))],
            GOOD, "failing_tests_block_merge", "❌ `not_met` | protection requires it on 0 of 1",
        ),
        (
            [status(Outcome.DRIFTED, (FindingKind.CODEQL_UNAVAILABLE, "CodeQL"))],
            GOOD, "codeql_every_change", "❌ `not_met`",
        ),
        (
            [status(Outcome.DRIFTED, (FindingKind.BYPASS_UNKNOWN, None))],
            GOOD, "no_admin_bypass", "❌ `not_met`",
        ),
        ([status(Outcome.EXCLUDED)], GOOD, "independent_review", "on 0 of 0"),
        ([], GOOD, "mfa_required", "✅ `met`"),
        ([], OrgSettings(two_factor=False), "mfa_required", "❌ `not_met`"),
        ([], OrgSettings(), "mfa_required", "❔ `unknown` | shown to org owners"),
        ([], OrgSettings(owners=6), "few_admins", "❌ `not_met` | 6 org owners (limit 5)"),
        ([], GOOD, "few_admins", "✅ `met`"),
        ([], OrgSettings(security_policy=False), "vulnerability_disclosure", "❌ `not_met`"),
    ],
)  # fmt: skip
def test_promise_rows(
    statuses: list[RepoStatus], settings: OrgSettings, promise: str, expected: str
) -> None:
    assert expected in row(promises_table(statuses, settings, "acme"), promise)


def test_the_table_is_at_the_top_of_the_report_and_names_no_repository() -> None:
    statuses = [status(Outcome.DRIFTED, (FindingKind.ADMINS_NOT_ENFORCED, None))]
    table = promises_table(statuses, GOOD, "acme")
    body = report_body(
        statuses, org="acme", computed_at="2026-12-01T00:00:00Z", public=True, promises=table
    )
    lines = body.splitlines()
    assert lines[3] == "### Promises"
    assert body.index("### Promises") < body.index("**1 repositories:**")
    assert "secret-name" not in table
    assert "`bulwark evidence --org acme --days 90 --format html`" in table
