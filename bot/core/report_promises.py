"""The report issue's "Promises" table: what can be judged from current state, no history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.evidence import ICONS, PromiseId, Status
from bot.core.markdown import code, counted, table
from bot.core.models import FindingKind, Outcome, RepoStatus

JUDGED = (Outcome.COMPLIANT, Outcome.FIXED, Outcome.DRIFTED)


@dataclass(frozen=True)
class OrgSettings:
    """The org settings a resync reads; None where GitHub would not say."""

    two_factor: bool | None = None
    owners: int | None = None
    max_owners: int = 5
    security_policy: bool | None = None  # SECURITY.md in the org's `.github`


def _short(statuses: Sequence[RepoStatus], kinds: Sequence[FindingKind], detail: str | None) -> int:
    """Count judged repositories unprotected, or with a finding of these kinds (and detail)."""

    def lacks(status: RepoStatus) -> bool:
        return any(
            f.kind is FindingKind.UNPROTECTED
            or (f.kind in kinds and (detail is None or f.detail == detail))
            for f in status.findings
        )

    # A fixed repository's findings are what Bulwark repaired: it complies now.
    return sum(1 for s in statuses if s.outcome is Outcome.DRIFTED and lacks(s))


def _row(promise: PromiseId, status: Status, line: str) -> list[str]:
    return [f"`{promise.value}`", f"{ICONS[status]} `{status.value}`", line]


def _protection_row(
    statuses: Sequence[RepoStatus],
    promise: PromiseId,
    kinds: Sequence[FindingKind],
    detail: str | None = None,
) -> list[str]:
    judged = sum(1 for s in statuses if s.outcome in JUDGED)
    short = _short(statuses, kinds, detail)
    status = Status.NOT_MET if short else Status.MET
    return _row(
        promise, status, f"protection requires it on {judged - short} of {judged} repositories"
    )


def promises_table(statuses: Sequence[RepoStatus], settings: OrgSettings, org: str) -> str:
    """Return the Promises section: protection now, two-factor, owners, a security policy."""
    reviews = (FindingKind.REVIEWS_MISSING, FindingKind.REVIEWS_TOO_FEW)
    # A check held back because nothing reports it is not required either.
    check = (
        FindingKind.CHECK_MISSING,
        FindingKind.CHECK_NOT_REPORTING,
        FindingKind.CODEQL_UNAVAILABLE,
    )
    # A hidden bypass list leaves the promise unproven: not met until classic protection binds.
    admins = (FindingKind.ADMINS_NOT_ENFORCED, FindingKind.BYPASS_UNKNOWN)
    rows = [
        _protection_row(statuses, PromiseId.CHANGES_VIA_PULL_REQUEST, reviews[:1]),
        _protection_row(statuses, PromiseId.INDEPENDENT_REVIEW, reviews),
        _protection_row(statuses, PromiseId.CODEQL_EVERY_CHANGE, check, "CodeQL"),
        _protection_row(statuses, PromiseId.FAILING_TESTS_BLOCK_MERGE, check, "test"),
        _protection_row(statuses, PromiseId.NO_ADMIN_BYPASS, admins),
        _mfa_row(settings),
        _owners_row(settings),
        _disclosure_row(settings),
    ]
    command = code(f"bulwark evidence --org {org} --days 90 --format html", max_len=150)
    return "\n".join(
        [
            "### Promises",
            "",
            table(["promise", "now", "from current settings"], rows),
            "",
            f"This judges settings as they are now. For the record over a period "
            f"(every change, review and check), run {command}.",
        ]
    )


def _mfa_row(settings: OrgSettings) -> list[str]:
    if settings.two_factor is None:
        return _row(PromiseId.MFA_REQUIRED, Status.UNKNOWN, "shown to org owners only")
    if settings.two_factor:
        return _row(
            PromiseId.MFA_REQUIRED, Status.MET, "the org requires two-factor authentication"
        )
    return _row(
        PromiseId.MFA_REQUIRED, Status.NOT_MET, "the org does not require two-factor authentication"
    )


def _owners_row(settings: OrgSettings) -> list[str]:
    if settings.owners is None:
        return _row(PromiseId.FEW_ADMINS, Status.UNKNOWN, "the owners could not be read")
    status = Status.MET if settings.owners <= settings.max_owners else Status.NOT_MET
    return _row(
        PromiseId.FEW_ADMINS,
        status,
        f"{counted(settings.owners, 'org owner')} (limit {settings.max_owners})",
    )


def _disclosure_row(settings: OrgSettings) -> list[str]:
    if settings.security_policy is None:
        return _row(
            PromiseId.VULNERABILITY_DISCLOSURE,
            Status.UNKNOWN,
            "the org's .github could not be read",
        )
    if settings.security_policy:
        line = "the org's .github has a SECURITY.md (private reporting: see the evidence)"
        return _row(PromiseId.VULNERABILITY_DISCLOSURE, Status.MET, line)
    return _row(
        PromiseId.VULNERABILITY_DISCLOSURE, Status.NOT_MET, "no SECURITY.md in the org's .github"
    )
