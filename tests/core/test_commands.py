"""Slash-command parsing: tables of real and junk comments, and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.commands import PRIVILEGED, Command, Verb, parse_commands

S, C, F, R, H, U = Verb.STATUS, Verb.CHECK, Verb.FIX, Verb.REPORT, Verb.HELP, Verb.UNKNOWN


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/protection status", [Command(S, "status")]),
        ("/protection check", [Command(C, "check")]),
        ("/protection fix", [Command(F, "fix")]),
        ("/protection report", [Command(R, "report")]),
        ("/protection help", [Command(H, "help")]),
        ("/protection", [Command(H, "")]),
        ("/protection   \t", [Command(H, "")]),
        ("/protection frobnicate", [Command(U, "frobnicate")]),
        ("/PROTECTION Fix", [Command(F, "Fix")]),
        ("/Protection\t\tSTATUS", [Command(S, "STATUS")]),
        ("   /protection fix", [Command(F, "fix")]),
        ("/protection status please", [Command(S, "status")]),
        ("/protection fix now!", [Command(F, "fix")]),
        ("/protection status   ", [Command(S, "status")]),
        ("Thanks!\n/protection status\nbye", [Command(S, "status")]),
        ("/protection status\r\n/protection fix\r\n", [Command(S, "status"), Command(F, "fix")]),
        ("/protection status\r/protection check", [Command(S, "status"), Command(C, "check")]),
        ("/protection fix\n/protection status", [Command(F, "fix"), Command(S, "status")]),
        ("/protection fix\n/protection fix\n/protection FIX", [Command(F, "fix")]),
        ("/protection foo\n/protection bar", [Command(U, "foo")]),
        ("```\ncode\n```\n/protection fix", [Command(F, "fix")]),
        ("<!-- note -->\n/protection fix", [Command(F, "fix")]),
        ("> quoted\n\n/protection fix", [Command(F, "fix")]),
        ("`a` and `b`\n/protection fix", [Command(F, "fix")]),
        ("- item\n\n/protection check", [Command(C, "check")]),
        ("<details>\n/protection status\n</details>", [Command(S, "status")]),
        ("/protection ſtatus", [Command(U, "ſtatus")]),
        ("/protection " + "x" * 80, [Command(U, "x" * 50)]),
    ],
)
def test_parses_commands(body: str, expected: list[Command]) -> None:
    assert parse_commands(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "\n\n\n",
        "/protectionfix",
        "/protection-fix",
        "/protection\u00a0fix",
        "x /protection fix",
        "please run /protection fix",
        "`/protection fix`",
        "``/protection fix``",
        "    /protection fix",
        "\t/protection fix",
        "  \t/protection fix",
        "> /protection fix",
        ">> /protection fix",
        "> > > /protection fix",
        "  > /protection fix",
        "> quoted\n/protection fix",
        "```\n/protection fix\n```",
        "```python\n/protection fix\n```",
        "~~~\n/protection fix\n~~~",
        "~~~ yaml\n/protection fix",
        "```\n/protection fix",
        "```\n    ```\n/protection fix",
        "````\n```\n/protection fix\n````",
        "```\n~~~\n/protection fix\n```",
        "- ```\n  /protection fix\n  ```",
        "<!-- /protection fix -->",
        "<!--\n/protection fix\n-->",
        "text <!-- start\n/protection fix\nend -->",
        "<!--\n/protection fix",
        "<pre>\n/protection fix\n</pre>",
        "<PRE>\n/protection fix",
        "a `code\n/protection fix\nspan` b",
        "``x\n/protection fix\n``",
        "\\/protection fix",
        "# /protection fix",
        "- /protection fix",
        "1. /protection fix",
        "**/protection fix**",
        "[/protection fix](https://example.com)",
        "／protection fix",
    ],
)
def test_ignores_non_commands(body: str) -> None:
    assert parse_commands(body) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("\\`x\n/protection fix\n`", [Command(F, "fix")]),
        ("`x``\n/protection fix", [Command(F, "fix")]),
        ("```\n/protection fix\n```\n/protection status", [Command(S, "status")]),
        ("~~~\n```\n~~~\n/protection check", [Command(C, "check")]),
        ("<!-- a --> <!-- b\n/protection fix\n-->\n/protection check", [Command(C, "check")]),
        ("<pre>x</pre>\n/protection fix", [Command(F, "fix")]),
        ("```\n/protection fix\n   ```\n/protection check", [Command(C, "check")]),
    ],
)
def test_resumes_after_code_and_comments(body: str, expected: list[Command]) -> None:
    assert parse_commands(body) == expected


@pytest.mark.parametrize(("limit", "count"), [(0, 0), (1, 1), (2, 2), (10, 5)])
def test_answers_at_most_limit_commands(limit: int, count: int) -> None:
    body = "\n".join(f"/protection {verb}" for verb in ("status", "check", "fix", "report", "x"))
    assert len(parse_commands(body, limit=limit)) == count


def test_fix_and_report_are_privileged() -> None:
    assert frozenset({Verb.FIX, Verb.REPORT}) == PRIVILEGED


def test_huge_comment_is_parsed_quickly() -> None:
    body = ("`" * 3 + "x" + "`" * 7 + "\n") * 5_000 + "\\" * 10_000 + "/protection fix"
    assert parse_commands(body + "\n\n/protection status") == [Command(S, "status")]


_LINE = re.compile(r" {0,3}/protection(?:[ \t].*)?", re.IGNORECASE)
_PIECES = st.sampled_from(
    [
        "/protection fix",
        "/protection status",
        "/PROTECTION report",
        "/protection",
        "/protection zap",
        "   /protection check",
        "    /protection fix",
        "```",
        "~~~",
        "`",
        "``",
        "> ",
        "<!--",
        "-->",
        "<pre>",
        "</pre>",
        "\\",
        "\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "- ",
        "x",
    ]
)
_BODIES = st.one_of(
    st.text(max_size=2_000),
    st.lists(_PIECES | st.text(max_size=5), max_size=80).map("".join),
)


@settings(max_examples=300)
@given(body=_BODIES, limit=st.integers(min_value=0, max_value=12))
def test_parse_properties(body: str, limit: int) -> None:
    commands = parse_commands(body, limit=limit)
    assert len(commands) <= limit
    assert len({command.verb for command in commands}) == len(commands)
    lines = re.split(r"\r\n|\r|\n", body)
    for command in commands:
        assert any(_LINE.fullmatch(line) for line in lines)
        assert command.word in body


@settings(max_examples=50)
@given(prefix=st.sampled_from(["```\n", "~~~ x\n", "<!--\n", "> q\n", "    "]), body=_BODIES)
def test_nothing_inside_an_unterminated_block_is_a_command(prefix: str, body: str) -> None:
    inner = body.replace("```", "").replace("~~~", "").replace("-->", "").replace("\r", "")
    inner = inner.replace("\n", " ") if prefix in ("> q\n", "    ") else inner
    assert parse_commands(prefix + inner) == []
