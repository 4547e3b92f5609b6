"""What Bulwark last saw of each repository, by org, in memory (on Redis: `redis_statuses`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import cast

from cachetools import LRUCache

from bot.core.models import DirectPush, Finding, FindingKind, Outcome, RepoStatus
from bot.core.policy import Mode

DIRECT_PUSH_MEMORY = 50

# A status as the store keeps it: one flat tuple of strings, booleans, numbers and None.
# CPython's cyclic garbage collector stops following a tuple that holds nothing it tracks
# (and a dict that holds only such values) the first time a pass sees it, so the statuses
# of a 10,000-repository org cost a full collection next to nothing. Kept as RepoStatus
# objects they were most of what each full pass walked (about 100,000 references), and on
# a busy machine a pass held the event loop 15-35 ms in the middle of a resync. A nested
# tuple would take one pass per level to be let go: the row is flat.
# https://docs.python.org/3/library/gc.html#gc.is_tracked
Row = tuple[str | bool | int | None, ...]

# repo, outcome, mode, fixed_at, reason, private, codeql, how many branches; then the
# branches; then each finding's kind, message, remedy, branch, detail, actor.
_HEAD = 8
_FINDING = 6


def _plain(text: str | None) -> str | None:
    """Return a plain str (a StrEnum member is an object the collector follows), or None."""
    return None if text is None else str(text)


def pack(status: RepoStatus) -> Row:
    """Return the row the store keeps for a status (see `Row`)."""
    row: list[str | bool | int | None] = [
        str(status.repo),
        str(status.outcome),
        str(status.mode),
        _plain(status.fixed_at),
        _plain(status.reason),
        status.private is not False,  # unknown counts as private
        _plain(status.codeql),
        len(status.branches),
    ]
    row.extend(str(b) for b in status.branches)
    for f in status.findings:
        row += (str(f.kind), str(f.message), str(f.remedy))
        row += (_plain(f.branch), _plain(f.detail), _plain(f.actor))
    return tuple(row)


# Lookups, not Enum calls: a report rebuilds every status of the org.
_OUTCOMES = {o.value: o for o in Outcome}
_MODES = {m.value: m for m in Mode}
_KINDS = {k.value: k for k in FindingKind}


def unpack(row: Row, shared: dict[Row, tuple[Finding, ...]] | None = None) -> RepoStatus:
    """Rebuild the status a row was packed from (equal to it).

    Rows whose findings are alike get one findings tuple through `shared`: a report
    rebuilds a whole org, and each Finding is one more object for the collector.
    """
    text = cast(tuple[str | None, ...], row)
    branches = _HEAD + cast(int, row[7])
    findings: tuple[Finding, ...] = ()
    if branches < len(row):
        key = row[branches:]
        known = None if shared is None else shared.get(key)
        if known is not None:
            findings = known
        else:
            findings = tuple(
                Finding(
                    _KINDS[cast(str, text[i])],
                    *cast(tuple[str, str], text[i + 1 : i + 3]),
                    *text[i + 3 : i + 6],
                )
                for i in range(branches, len(row), _FINDING)
            )
            if shared is not None:
                shared[key] = findings
    return RepoStatus(
        cast(str, row[0]),
        _OUTCOMES[cast(str, row[1])],
        findings,
        _MODES[cast(str, row[2])],
        text[3],
        text[4],
        cast(tuple[str, ...], row[_HEAD:branches]),
        bool(row[5]),
        text[6],
    )


class StatusMap(MutableMapping[str, RepoStatus]):
    """An org's statuses by lowercased `owner/name`: RepoStatus in and out, rows inside."""

    def __init__(self, statuses: Mapping[str, RepoStatus] | None = None) -> None:
        self._rows: dict[str, Row] = {}
        if statuses:
            self.update(statuses)

    def __getitem__(self, key: str) -> RepoStatus:
        return unpack(self._rows[key])

    def __setitem__(self, key: str, status: RepoStatus) -> None:
        self._rows[key] = pack(status)

    def __delitem__(self, key: str) -> None:
        del self._rows[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows  # no status rebuilt to answer

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"StatusMap({len(self._rows)} repositories)"

    def outcome(self, key: str) -> str | None:
        """Return a repository's outcome (an `Outcome` value) without rebuilding its status."""
        row = self._rows.get(key)
        return None if row is None else cast(str, row[1])

    def rows(self) -> tuple[Row, ...]:
        """Return every row: a snapshot, cheap to take on the event loop, to unpack elsewhere."""
        return tuple(self._rows.values())


def keep_fix(old: RepoStatus | None, new: RepoStatus) -> RepoStatus:
    """A repository Bulwark fixed stays "fixed at T" while it stays compliant.

    The report is read by auditors: a later check that finds nothing wrong must
    not erase that Bulwark repaired the repository, and when.
    """
    if old is not None and old.outcome is Outcome.FIXED and new.outcome is Outcome.COMPLIANT:
        return replace(new, outcome=Outcome.FIXED, findings=old.findings, fixed_at=old.fixed_at)
    return new


@dataclass
class OrgState:
    """What Bulwark last saw of an org's repositories."""

    statuses: StatusMap = field(default_factory=StatusMap)
    direct_pushes: deque[DirectPush] = field(
        default_factory=lambda: deque(maxlen=DIRECT_PUSH_MEMORY)
    )
    delayed: bool = False


class StatusStore:
    """The latest status of every repository, grouped by org (bounded)."""

    def __init__(self, max_orgs: int = 10_000) -> None:
        self._orgs: LRUCache[str, OrgState] = LRUCache(maxsize=max_orgs)

    def org(self, org: str) -> OrgState:
        """Return (creating if needed) the state of one org."""
        key = org.lower()
        state = self._orgs.get(key)
        if state is None:
            state = OrgState()
            self._orgs[key] = state
        return state

    def record(self, status: RepoStatus) -> RepoStatus:
        """Remember the latest status of a repository; return what is kept."""
        statuses = self.org(status.repo.split("/", 1)[0]).statuses
        key = status.repo.lower()
        # Only a fixed repository's old status matters to the new one (`keep_fix`).
        old = statuses.get(key) if statuses.outcome(key) == Outcome.FIXED.value else None
        kept = keep_fix(old, status)
        statuses[key] = kept
        return kept

    def get(self, repo: str) -> RepoStatus | None:
        """Return the latest status of `owner/name`, if any."""
        return self.org(repo.split("/", 1)[0]).statuses.get(repo.lower())

    def forget(self, repo: str) -> None:
        """Drop a repository (deleted, transferred away, uninstalled)."""
        statuses = self.org(repo.split("/", 1)[0]).statuses
        if repo.lower() in statuses:
            del statuses[repo.lower()]

    def set_delayed(self, org: str, delayed: bool) -> None:
        """Record whether the org's last scan waited for (or stopped at) a rate limit."""
        self.org(org).delayed = delayed

    async def keep_only(self, org: str, repos: Iterable[str]) -> None:
        """Forget the org's repositories a full scan no longer saw (deleted, moved away)."""
        seen = {r.lower() for r in repos}
        for repo in [r for r in self.org(org).statuses if r not in seen]:
            self.forget(repo)

    async def flush(self) -> None:
        """Send what was recorded to a shared store before a repository's lock is released."""

    async def refresh(self, org: str) -> None:
        """Bring the org's state up to date before a report (shared stores load it here)."""

    def forget_org(self, org: str) -> None:
        """Drop everything known of an org (the App was uninstalled)."""
        self._orgs.pop(org.lower(), None)

    def add_direct_push(self, org: str, push: DirectPush) -> None:
        """Remember a direct push for the org report."""
        self.org(org).direct_pushes.appendleft(push)
