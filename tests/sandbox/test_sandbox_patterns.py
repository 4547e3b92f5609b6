"""The sandbox's branch-name patterns against GitHub's and Ruby's documented examples.

GitHub: https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/managing-a-branch-protection-rule#about-branch-protection-rules
Ruby: https://rubydoc.info/stdlib/core/File.fnmatch and ruby/ruby test/ruby/test_fnmatch.rb
"""

from __future__ import annotations

import pytest

from bot.sandbox.patterns import fnmatch_pathname, ruleset_refs_match, ruleset_repos_match

CASES = [
    # GitHub: "*release*" protects any branch containing the word release.
    ("*release*", "release", True),
    ("*release*", "pre-release-2", True),
    ("*release*", "main", False),
    ("*release*", "team/release", False),  # `*` stops at `/`
    # GitHub: "*" is every branch, but does not match directory separators.
    ("*", "main", True),
    ("*", "feature/a", False),
    # GitHub: "qa/*" matches branches beginning with qa/ with a single slash, not qa/foo/bar.
    ("qa/*", "qa/foo", True),
    ("qa/*", "qa/foo/bar", False),
    ("qa/*", "qa", False),
    ("qa*", "qa", True),
    ("qa*", "qa-2", True),
    ("qa*", "qa/foo", False),
    # GitHub: "qa/**/*" takes any number of slashes after qa, e.g. qa/foo/bar/foobar/hello-world.
    ("qa/**/*", "qa/foo/bar/foobar/hello-world", True),
    ("qa/**/*", "qa/foo", True),  # `**/` also matches zero segments
    ("qa/**/*", "qa", False),
    ("qa/**/*", "qab/foo", False),
    # GitHub: "qa**/**/*" is more inclusive still.
    ("qa**/**/*", "qa/foo", True),
    ("qa**/**/*", "qafoo/bar/baz", True),
    ("qa**/**/*", "qafoo", False),
    # The brief's and the docs' other shapes.
    ("releases/**/*", "releases/v1", True),
    ("releases/**/*", "releases/v1/hotfix/a", True),
    ("releases/**/*", "release/v1", False),
    ("feature/*", "feature/a", True),
    ("feature/*", "feature/a/b", False),
    # Ruby: `**` not followed by `/` is a plain `*`.
    ("releases/**", "releases/v1", True),
    ("releases/**", "releases/v1/a", False),
    ("**", "one/two", False),
    ("**/*", "main", True),
    ("**/*", "one/two/three/four", True),
    ("h**o/**/b/**/*", "hello/a/b/c/t", True),
    ("h**o/**/b/**", "hello/a/b/c/t", False),
    ("*/**/*", "one/two/three", True),
    ("*/**", "one/two/three", False),
    # `?` is one character, never `/`.
    ("v?", "v1", True),
    ("v?", "v10", False),
    ("foo?boo", "foo/boo", False),
    # Character sets and ranges.
    ("v[12].*", "v1.0", True),
    ("v[12].*", "v2.x", True),
    ("v[12].*", "v3.0", False),
    ("v[12].*", "v1", False),
    ("ca[a-z]", "cat", True),
    ("ca[a-z]", "caT", False),
    ("[bd-gikl-mosv-x]", "f", True),
    ("[bd-gikl-mosv-x]", "h", False),
    ("[!a-c]x", "dx", True),  # `!` complements
    ("[!a-c]x", "bx", False),
    ("[^a-c]x", "bx", True),  # GitHub: `^` does not complement a set
    ("[^a-c]x", "dx", False),
    ("a[/]b", "a/b", False),  # a set never matches `/`
    ("[!x]", "/", False),
    ("[z-a]", "z", True),  # Ruby compares against a reversed range's two ends only
    ("[z-a]", "m", False),
    ("[abc", "a", False),  # a set never closed matches nothing
    # GitHub: a backslash quotes nothing; extglob braces are literal.
    (r"\a", "a", False),
    (r"\a", r"\a", True),
    ("c{at,ub}s", "cats", False),
    ("c{at,ub}s", "c{at,ub}s", True),
    # Whole-name matches only, case-sensitive.
    ("main", "main", True),
    ("main", "main2", False),
    ("main", "Main", False),
    # Ruby without FNM_DOTMATCH: wildcards skip a segment's leading dot.
    ("*", ".hidden", False),
    (".*", ".hidden", True),
    ("a/*", "a/.b", False),
    ("**/foo", "a/.b/c/foo", False),
    ("**/foo", "a/b/c/foo", True),
    ("**/foo", "/foo", True),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), CASES)
def test_pattern_matches_as_github_documents(pattern: str, name: str, expected: bool) -> None:
    assert fnmatch_pathname(pattern, name) is expected


@pytest.mark.parametrize(
    ("include", "exclude", "branch", "expected"),
    [
        (["~DEFAULT_BRANCH"], [], "trunk", True),
        (["~DEFAULT_BRANCH"], [], "main", False),
        (["~ALL"], [], "any/thing", True),
        (["~ALL"], ["refs/heads/releases/**/*"], "releases/v1", False),
        (["~ALL"], ["refs/heads/releases/**/*"], "main", True),
        (["refs/heads/feature/*"], [], "feature/a/b", False),
        (["refs/heads/**/*"], ["~DEFAULT_BRANCH"], "trunk", False),
        ([], [], "trunk", False),
    ],
)
def test_ruleset_ref_name_condition(
    include: list[str], exclude: list[str], branch: str, expected: bool
) -> None:
    assert ruleset_refs_match(f"refs/heads/{branch}", include, exclude, "trunk") is expected


@pytest.mark.parametrize(
    ("include", "exclude", "name", "expected"),
    [
        (["~ALL"], [], ".github", True),
        (["*"], [], ".github", True),
        (["api-*"], [], "api-gateway", True),
        (["api-*"], ["*-legacy"], "api-legacy", False),
        (["web"], [], "website", False),
    ],
)
def test_ruleset_repository_name_condition(
    include: list[str], exclude: list[str], name: str, expected: bool
) -> None:
    assert ruleset_repos_match(name, include, exclude) is expected
