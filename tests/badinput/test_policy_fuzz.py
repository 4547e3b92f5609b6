"""The policy loader on arbitrary YAML text and arbitrary YAML-shaped data: never raises.

tests/core/test_policy.py tables the known cases; these properties cover the rest.
Every error names the file, and its line (when given) lies inside the file.
"""

from __future__ import annotations

import os
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.policy import (
    DEFAULT_POLICY,
    PolicyError,
    load_policy_file,
    org_policy,
    policy_as_dict,
    repo_policy,
)

EXAMPLES = int(os.environ.get("BULWARK_FUZZ_EXAMPLES", "150"))
FILE = ".github/repo-protection.yml"
KEYS = [
    *policy_as_dict(DEFAULT_POLICY),
    "required_approving_review_count",
    "dismiss_stale_reviews",
    "require_code_owner_reviews",
    "strict",
    "checks",
    "context",
    "app_id",
    "test_check",
    "archived",
    "forks",
    "repositories",
    "name",
    "reason",
    "repository",
    "enforce_with",
]
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["enforce", "report", "default", "release/*", "CodeQL", "ruleset"])
)
_KEYS = st.sampled_from(KEYS) | st.text(max_size=10) | st.integers(-3, 3)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=30,
)
_PIECES = st.sampled_from(
    [
        "mode: ",
        "branches:",
        "  - ",
        "pull_request_reviews:\n  required_approving_review_count: ",
        "required_status_checks:\n  checks:\n    - context: ",
        "exclude:\n  repositories:\n    - {name: x, reason: ",
        "&a ",
        "*a",
        "!!python/object:os.system ",
        "!!binary ",
        "? ",
        "{",
        "}",
        "[",
        "]",
        ": ",
        "'",
        '"',
        "\t",
        "\n",
        "  ",
        "- ",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        "\x00",
        "\ufeff",
        "7",
        "yes",
        "~",
    ]
)
_TEXT = st.one_of(st.text(max_size=300), st.lists(_PIECES | st.text(max_size=4)).map("".join))


def assert_located(errors: list[PolicyError], text: str) -> None:
    # YAML (1.1, as PyYAML reads it) also breaks lines at \r, NEL and the Unicode separators.
    lines = sum(text.count(c) for c in ("\n", "\r", "\x85", "\u2028", "\u2029")) + 2
    for error in errors:
        assert error.file == FILE
        assert error.message
        assert error.line is None or 1 <= error.line <= lines, (error, text)
        assert str(error).startswith(FILE)


def apply(doc: dict[str, Any] | None) -> None:
    """Use a loaded document both ways it is used: as the org's file and as a repo's."""
    org = org_policy(doc)
    policy, errors = repo_policy(org, doc, FILE)
    assert (policy == org) if errors else True
    policy_as_dict(policy)


@settings(max_examples=EXAMPLES, deadline=None)
@given(text=_TEXT)
def test_arbitrary_text_loads_or_errs_with_a_line(text: str) -> None:
    doc, errors = load_policy_file(text, FILE)

    assert (doc is None) == bool(errors)
    assert_located(errors, text)
    if doc is not None:
        apply(doc)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=_DATA, flow=st.booleans())
def test_arbitrary_yaml_data_loads_or_errs_with_a_line(data: Any, flow: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)

    doc, errors = load_policy_file(text, FILE)

    assert (doc is None) == bool(errors)
    assert_located(errors, text)
    if doc is not None:
        apply(doc)
    if isinstance(data, dict) and set(map(str, data)) - set(KEYS):
        assert errors, "an unknown top-level key is an error"


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.dictionaries(st.sampled_from(KEYS), _DATA, min_size=1, max_size=4))
def test_wrong_values_under_known_keys_point_at_their_line(data: dict[str, Any]) -> None:
    text = "# policy\n\n" + yaml.safe_dump(data, default_flow_style=False, allow_unicode=True)

    _, errors = load_policy_file(text, FILE)

    assert_located(errors, text)
    for error in errors:
        assert error.line is None or error.line >= 3, "a line before the document is wrong"


def test_a_python_tag_is_not_executed() -> None:
    doc, errors = load_policy_file("mode: !!python/object/apply:os.system ['true']\n", FILE)
    assert doc is None
    assert errors and errors[0].line == 1
