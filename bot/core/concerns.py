"""What stands between an org and its promises: the org report stays open while any does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from bot.core.models import DirectPush, FindingKind, Outcome, RepoStatus

DIRECT_PUSH_WINDOW = 7 * 24 * 3600.0  # a direct push keeps the report open this long


class Concern(StrEnum):
    """One kind of reason the org's promises do not hold everywhere."""

    DRIFT = "drift"
    UNSUPPORTED = "unsupported"
    NO_PERMISSION = "no permission"
    POLICY_INVALID = "invalid policy"
    UNREADABLE = "unreadable"
    DIRECT_PUSH = "direct push"


_BY_FINDING = {
    FindingKind.NOT_SUPPORTED: Concern.UNSUPPORTED,
    FindingKind.NO_PERMISSION: Concern.NO_PERMISSION,
    FindingKind.POLICY_INVALID: Concern.POLICY_INVALID,
}
# A repository without branches has nothing to protect until its first push.
_NOTHING_TO_PROTECT = {FindingKind.EMPTY_REPOSITORY}


def concerns(
    statuses: Iterable[RepoStatus],
    pushes: Sequence[DirectPush],
    *,
    now: float,
    push_window: float = DIRECT_PUSH_WINDOW,
) -> list[Concern]:
    """Return every kind of concern present, in the order of `Concern`, none when all hold."""
    found: set[Concern] = set()
    for status in statuses:
        found.update(_of_status(status))
    if any(_within(push.at, now, push_window) for push in pushes):
        found.add(Concern.DIRECT_PUSH)
    return [c for c in Concern if c in found]


def _of_status(status: RepoStatus) -> set[Concern]:
    """What one repository's status stands in the way with (an empty one: nothing)."""
    kinds = {f.kind for f in status.findings}
    found = {_BY_FINDING[k] for k in kinds if k in _BY_FINDING}
    if status.outcome is Outcome.DRIFTED:
        found.add(Concern.DRIFT)
    elif status.outcome is Outcome.ERROR:
        found.add(Concern.UNREADABLE)
    elif status.outcome is Outcome.UNSUPPORTED and not found and kinds != _NOTHING_TO_PROTECT:
        found.add(Concern.UNSUPPORTED)
    return found


def _within(at: str, now: float, window: float) -> bool:
    """Tell whether an ISO 8601 time lies within `window` seconds before `now`."""
    try:
        when = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True  # a time we cannot read is treated as recent, never dropped
    return when >= now - window
