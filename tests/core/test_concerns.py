"""What keeps the org report open: each concern, and what is no concern."""

from __future__ import annotations

import pytest

from bot.core.concerns import DIRECT_PUSH_WINDOW, Concern, concerns
from bot.core.models import DirectPush, Finding, FindingKind, Outcome, RepoStatus

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def _status(outcome: Outcome, *kinds: FindingKind) -> RepoStatus:
    findings = tuple(Finding(kind, f"{kind.value}.") for kind in kinds)
    return RepoStatus("acme/api", outcome, findings)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (_status(Outcome.COMPLIANT), []),
        (_status(Outcome.FIXED, FindingKind.UNPROTECTED), []),
        (_status(Outcome.EXCLUDED), []),
        (_status(Outcome.UNSUPPORTED, FindingKind.EMPTY_REPOSITORY), []),
        (_status(Outcome.DRIFTED, FindingKind.UNPROTECTED), [Concern.DRIFT]),
        (_status(Outcome.UNSUPPORTED, FindingKind.NOT_SUPPORTED), [Concern.UNSUPPORTED]),
        (_status(Outcome.UNSUPPORTED, FindingKind.NO_PERMISSION), [Concern.NO_PERMISSION]),
        (
            _status(Outcome.DRIFTED, FindingKind.POLICY_INVALID),
            [Concern.DRIFT, Concern.POLICY_INVALID],
        ),
        (_status(Outcome.ERROR), [Concern.UNREADABLE]),
    ],
    ids=lambda v: v.outcome.value if isinstance(v, RepoStatus) else None,
)
def test_each_status_concern(status: RepoStatus, expected: list[Concern]) -> None:
    assert concerns([status], [], now=NOW) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2027-01-15T07:00:00Z", [Concern.DIRECT_PUSH]),
        ("2027-01-08T08:00:00Z", [Concern.DIRECT_PUSH]),  # exactly a week ago
        ("2027-01-08T07:59:59Z", []),
        ("not a time", [Concern.DIRECT_PUSH]),  # unreadable: kept, never dropped
    ],
)
def test_a_direct_push_stands_in_the_way_for_a_week(at: str, expected: list[Concern]) -> None:
    push = DirectPush("acme/api", "main", "a" * 40, "bob", at)
    assert DIRECT_PUSH_WINDOW == 7 * 24 * 3600
    assert concerns([_status(Outcome.COMPLIANT)], [push], now=NOW) == expected
