"""Escaping of user text, inline code, links, tables and body truncation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.markdown import (
    ELLIPSIS,
    ZWJ,
    body_length,
    clean,
    code,
    escape,
    link,
    table,
    truncate_body,
)

LIVE_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9-]+")
RAW_TAG = re.compile(r"<[A-Za-z/!]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("main", "main"),
        ("release/1.x", "release/1\\.x"),
        ("a*b_c", "a\\*b\\_c"),
        ("[x](y)", "\\[x\\]\\(y\\)"),
        ("`tick`", "\\`tick\\`"),
        ("a|b", "a\\|b"),
        ("back\\slash", "back\\\\slash"),
        ("<b>&", "&lt;b&gt;&amp;"),
        ("@octocat", "@" + ZWJ + "octocat"),
        ("@org/team", "@" + ZWJ + "org/team"),
        ("fix #12", "fix \\#" + ZWJ + "12"),
        ("line1\nline2\r\nline3", "line1 line2 line3"),
        ("tab\there", "tab here"),
        ("bell\x07\x00", "bell"),
        ("rtl\u202eevil", "rtlevil"),
        ("lone\ud800surrogate", "lonesurrogate"),
        ("~~strike~~ $x$", "\\~\\~strike\\~\\~ \\$x\\$"),
        ("https://evil.example", "https\\://evil\\.example"),
        ("", ""),
    ],
)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


@pytest.mark.parametrize(
    ("text", "max_len", "expected"),
    [("abcdef", 6, "abcdef"), ("abcdefg", 6, "abcde" + ELLIPSIS), ("ab", 1, ELLIPSIS)],
)
def test_clean_truncates(text: str, max_len: int, expected: str) -> None:
    assert clean(text, max_len) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("main", "`main`"),
        ("a`b", "``a`b``"),
        ("a``b`", "``` a``b` ```"),
        ("`x", "`` `x ``"),
        (" x", "`  x `"),
        ("two\nlines", "`two lines`"),
    ],
)
def test_code(text: str, expected: str) -> None:
    assert code(text) == expected


@pytest.mark.parametrize(
    ("text", "url", "expected"),
    [
        (
            "report",
            "https://github.com/o/.github/issues/1",
            "[report](https://github.com/o/.github/issues/1)",
        ),
        (
            "x",
            "https://github.com/o/r/tree/a b(c)",
            "[x](https://github.com/o/r/tree/a%20b%28c%29)",
        ),
        ("[x]", "https://ghe.example/o", "[\\[x\\]](https://ghe.example/o)"),
    ],
)
def test_link(text: str, url: str, expected: str) -> None:
    assert link(text, url) == expected


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "http://github.com/o", "data:text/html,x", "//x", ""]
)
def test_link_refuses_foreign_urls(url: str) -> None:
    with pytest.raises(ValueError, match="did not build"):
        link("x", url)


@pytest.mark.parametrize(
    ("rows", "expected_rows"),
    [
        ([[escape("a|b"), "ok"]], ["| a\\|b | ok |"]),
        ([[code("p|q"), "x"]], ["| `p\\|q` | x |"]),
        ([["only"]], ["| only |  |"]),
        ([["a", "b", "extra"]], ["| a | b |"]),
        ([["multi\nline", "\\\\|"]], ["| multi line | \\\\\\| |"]),
    ],
)
def test_table(rows: list[list[str]], expected_rows: list[str]) -> None:
    assert table(["H1", "H2"], rows).split("\n") == ["| H1 | H2 |", "| --- | --- |", *expected_rows]


@pytest.mark.parametrize(
    ("text", "limit"),
    [("x" * 70_000, 60_000), ("😀" * 40_000, 60_000), ("line\n" * 20_000, 60_000), ("é" * 10, 5)],
)
def test_truncate_body_fits(text: str, limit: int) -> None:
    body = truncate_body(text, limit)
    assert body_length(body) <= limit
    body.encode("utf-8")


def test_truncate_body_keeps_short_text() -> None:
    assert truncate_body("short", 60_000) == "short"


def test_truncate_body_cuts_at_a_line() -> None:
    body = truncate_body("a" * 10 + "\n" + "b" * 100, 80)
    assert body.startswith("a" * 10 + "\n\n…")


@given(st.text(max_size=3_000), st.integers(min_value=1, max_value=500))
def test_escape_properties(text: str, max_len: int) -> None:
    out = escape(text, max_len)
    assert "\n" not in out and "\r" not in out
    assert not RAW_TAG.search(out)
    assert not LIVE_MENTION.search(out)
    assert len(clean(text, max_len)) <= max_len
    out.encode("utf-8")


@given(st.text(max_size=500))
def test_code_is_one_span(text: str) -> None:
    out = code(text)
    fence = re.match(r"`+", out)
    assert fence is not None
    inner = out[len(fence.group()) : -len(fence.group())]
    assert fence.group() not in inner.replace(fence.group() + "`", "")
    assert out.endswith(fence.group())


@given(st.text(max_size=5_000), st.integers(min_value=100, max_value=70_000))
def test_truncate_body_properties(text: str, limit: int) -> None:
    body = truncate_body(text, limit)
    assert body_length(body) <= limit
    body.encode("utf-8")
