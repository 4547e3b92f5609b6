"""Branch and ruleset name patterns, matched as GitHub matches them.

GitHub matches branch protection rule patterns and ruleset `ref_name` patterns with
Ruby's `File.fnmatch` and the `File::FNM_PATHNAME` flag, and names three limits:
a backslash quotes nothing, `[^set]` does not complement, and `{a,b}` (FNM_EXTGLOB)
is not supported.
https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/managing-a-branch-protection-rule#about-branch-protection-rules
https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/creating-rulesets-for-a-repository#using-fnmatch-syntax

What FNM_PATHNAME means is Ruby's (https://rubydoc.info/stdlib/core/File.fnmatch and
ruby/ruby test/ruby/test_fnmatch.rb): `*`, `?` and `[set]` never match `/`; `**/` at
the start of a segment matches zero or more whole segments; `**` anywhere else is
`*`; and, without FNM_DOTMATCH, no wildcard matches a `.` that starts a segment.
"""

from __future__ import annotations

import re
from functools import cache

_SEGMENTS = "(?:{dot}[^/]*/)*"
_NO_DOT = r"(?!\.)"
_NEVER = "(?!)"


def fnmatch_pathname(pattern: str, name: str, *, dotmatch: bool = False) -> bool:
    """Return whether `name` matches `pattern` as `File.fnmatch(p, n, File::FNM_PATHNAME)`."""
    return _compiled(pattern, dotmatch).match(name) is not None


@cache
def _compiled(pattern: str, dotmatch: bool) -> re.Pattern[str]:
    return re.compile(_translate(pattern, dotmatch) + r"\Z")


def _translate(pattern: str, dotmatch: bool) -> str:
    """Turn a pattern into a regular expression, one segment after another."""
    out: list[str] = []
    i, start = 0, True
    while i < len(pattern):
        if start:
            i = _segment_start(pattern, i, dotmatch, out)
            start = False
            continue
        char = pattern[i]
        if char == "/":
            out.append("/")
            start = True
            i += 1
        elif char == "*":
            while i < len(pattern) and pattern[i] == "*":
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            piece, i = _bracket(pattern, i + 1)
            out.append(piece)
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def _segment_start(pattern: str, i: int, dotmatch: bool, out: list[str]) -> int:
    """Emit what a segment's start means: `**/` recursion, then the leading-dot rule."""
    dot = "" if dotmatch else _NO_DOT
    if pattern.startswith("**/", i):
        while pattern.startswith("**/", i):
            i += 3
        out.append(_SEGMENTS.format(dot=dot))
    if not pattern.startswith(".", i):
        out.append(dot)
    return i


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """Translate the set opened just before `i`; return it and the index after its `]`.

    A set that is never closed matches nothing, as in Ruby. Only `!` complements:
    GitHub documents that `^` does not. A reversed range such as `z-a` matches its two
    ends only, as Ruby's comparison does.
    """
    negate = pattern.startswith("!", i)
    if negate:
        i += 1
    members: list[str] = []
    while i < len(pattern) and pattern[i] != "]":
        low = pattern[i]
        if pattern.startswith("-", i + 1) and i + 2 < len(pattern) and pattern[i + 2] != "]":
            high = pattern[i + 2]
            members.append(_range(low, high))
            i += 3
        else:
            members.append(re.escape(low))
            i += 1
    if i >= len(pattern):
        return _NEVER, i
    body = "".join(members)
    if negate:
        return "[^/" + body + "]", i + 1
    return ("(?!/)[" + body + "]" if body else _NEVER), i + 1


def _range(low: str, high: str) -> str:
    if low <= high:
        return re.escape(low) + "-" + re.escape(high)
    return re.escape(low) + re.escape(high)


def ruleset_refs_match(ref: str, include: list[str], exclude: list[str], default: str) -> bool:
    """Return whether a ruleset's `ref_name` condition targets `ref` (`refs/heads/…`).

    `~ALL` targets every branch and `~DEFAULT_BRANCH` the repository's default one (the
    REST description's `repository-ruleset-conditions` schema).
    https://docs.github.com/en/rest/orgs/rules#create-an-organization-repository-ruleset
    """
    aliases = {"~DEFAULT_BRANCH": f"refs/heads/{default}"}

    def hit(pattern: str) -> bool:
        return pattern == "~ALL" or fnmatch_pathname(aliases.get(pattern, pattern), ref)

    return any(map(hit, include)) and not any(map(hit, exclude))


def ruleset_repos_match(name: str, include: list[str], exclude: list[str]) -> bool:
    """Return whether a ruleset's `repository_name` condition targets a repository.

    GitHub does not document whether a wildcard there matches a leading dot (`.github`);
    the sandbox lets it, as it always has.
    """

    def hit(pattern: str) -> bool:
        return pattern == "~ALL" or fnmatch_pathname(pattern, name, dotmatch=True)

    return any(map(hit, include)) and not any(map(hit, exclude))
