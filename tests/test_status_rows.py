"""The status store keeps flat rows: the same statuses out, nothing for the collector."""

from __future__ import annotations

import gc
import itertools

import pytest

from bot.core.models import Finding, FindingKind, Outcome, RepoStatus
from bot.core.policy import Mode
from bot.core.reporting import CodeQLState
from bot.engine import report
from bot.store.statuses import Row, StatusMap, StatusStore, pack, unpack
from tests.fixtures import most_in_one_step

FINDINGS = (
    Finding(FindingKind.CHECK_MISSING, "CodeQL is not required", "require it", "main", "CodeQL"),
    Finding(FindingKind.UNPROTECTED, "release/1 is unprotected", branch="release/1"),
    Finding(FindingKind.DIRECT_PUSH, "pushed without review", "", "main", "abc123", "mallory"),
    Finding(FindingKind.POLICY_INVALID, "line 3: `[` *not* closed", "fix .github/bulwark.yml"),
)


def statuses() -> list[RepoStatus]:
    """Every shape of status: each outcome and mode, 0-4 findings, 0-2 branches, None fields."""
    made = []
    shapes = itertools.product(Outcome, Mode, range(len(FINDINGS) + 1), range(3), (True, False))
    for n, (outcome, mode, findings, branches, private) in enumerate(shapes):
        made.append(
            RepoStatus(
                f"acme/repo-{n}",
                outcome,
                FINDINGS[:findings],
                mode,
                fixed_at="2026-12-01T10:00:00Z" if n % 3 == 0 else None,
                reason="archived" if n % 4 == 0 else None,
                branches=("main", "release/*")[:branches],
                private=private,
                codeql=(None, CodeQLState.PENDING.value, "reporting")[n % 3],
            )
        )
    return made


def test_a_row_gives_back_an_equal_status_of_the_same_types() -> None:
    for status in statuses():
        again = unpack(pack(status))
        assert again == status
        assert type(again.outcome) is Outcome and type(again.mode) is Mode
        assert all(type(f.kind) is FindingKind for f in again.findings)
        assert isinstance(again.branches, tuple) and isinstance(again.findings, tuple)


def test_a_row_holds_nothing_the_collector_follows() -> None:
    made = statuses()
    rows = [pack(s) for s in made]
    gc.collect(0)  # the first pass that sees a row lets it go for good
    assert not any(gc.is_tracked(r) for r in rows)
    assert all(gc.is_tracked(s) for s in made)  # a RepoStatus is walked by every full pass


def test_a_status_with_a_str_enum_anywhere_packs_to_plain_strings() -> None:
    status = RepoStatus("acme/api", Outcome.DRIFTED, (FINDINGS[0],), codeql=CodeQLState.PENDING)
    row = pack(status)
    assert all(type(v) in (str, int, bool, type(None)) for v in row)
    assert unpack(row) == status


def test_ten_thousand_stored_statuses_give_the_collector_nothing_to_walk() -> None:
    store = StatusStore()
    made = statuses()
    gc.collect()
    before = len(gc.get_objects())
    for n in range(10_000):
        template = made[n % len(made)]
        store.record(RepoStatus(f"acme/service-{n}", template.outcome, template.findings))
    gc.collect()
    assert len(store.org("acme").statuses) == 10_000
    # As RepoStatus objects, the same statuses were 10,000 tracked objects and more.
    assert len(gc.get_objects()) - before < 100


def test_the_map_reads_and_writes_like_a_dict_of_statuses() -> None:
    status = RepoStatus("acme/api", Outcome.COMPLIANT, branches=("main",))
    kept = StatusMap({"acme/api": status})
    assert kept == {"acme/api": status}
    assert kept["acme/api"] == status and kept.get("acme/web") is None
    assert kept.outcome("acme/api") == "compliant" and kept.outcome("acme/web") is None
    kept["acme/web"] = RepoStatus("acme/web", Outcome.DRIFTED, FINDINGS[:1])
    assert list(kept) == ["acme/api", "acme/web"] and len(kept) == 2
    assert [unpack(r).repo for r in kept.rows()] == ["acme/api", "acme/web"]
    del kept["acme/api"]
    assert list(kept.values()) == [RepoStatus("acme/web", Outcome.DRIFTED, FINDINGS[:1])]
    with pytest.raises(KeyError):
        kept["acme/api"]
    assert "1 repositories" in repr(kept)


def test_a_fixed_repository_stays_fixed_through_the_rows() -> None:
    store = StatusStore()
    fixed = RepoStatus("acme/api", Outcome.FIXED, FINDINGS[:1], fixed_at="2026-12-01T10:00:00Z")
    store.record(fixed)
    kept = store.record(RepoStatus("acme/api", Outcome.COMPLIANT))
    assert kept == fixed and store.get("acme/api") == fixed
    assert store.record(RepoStatus("acme/api", Outcome.DRIFTED)).outcome is Outcome.DRIFTED


def test_rows_with_alike_findings_share_one_tuple_when_asked() -> None:
    rows = [pack(RepoStatus(f"acme/r{n}", Outcome.DRIFTED, FINDINGS[:2])) for n in range(3)]
    shared: dict[Row, tuple[Finding, ...]] = {}
    rebuilt = [unpack(r, shared) for r in rows]
    assert rebuilt[0].findings is rebuilt[1].findings is rebuilt[2].findings
    assert rebuilt[0].findings == FINDINGS[:2] and len(shared) == 1
    assert unpack(rows[0]).findings is not unpack(rows[1]).findings  # without: each its own


def test_unknown_visibility_is_kept_as_private() -> None:
    unknown = RepoStatus("acme/api", Outcome.COMPLIANT, private=None)  # type: ignore[arg-type]
    assert unpack(pack(unknown)).private is True


async def test_the_report_rebuilds_its_snapshot_a_slice_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = tuple(pack(RepoStatus(f"acme/r{n}", Outcome.COMPLIANT)) for n in range(1_207))
    rebuilt = 0

    def counted(row: Row, shared: dict[Row, tuple[Finding, ...]] | None = None) -> RepoStatus:
        nonlocal rebuilt
        rebuilt += 1
        return unpack(row, shared)

    monkeypatch.setattr(report, "unpack", counted)
    statuses, most = await most_in_one_step(lambda: rebuilt, report._unpacked(rows))

    assert [s.repo for s in statuses] == [f"acme/r{n}" for n in range(1_207)]
    assert most <= report.UNPACK_SLICE
