"""Make user text inert in GitHub-flavoured markdown, and keep bodies within GitHub's limits.

User text (repository, branch, check and role names, logins, commit messages,
reasons) goes through `escape`: markdown punctuation is backslash-escaped, `<`,
`>` and `&` become entities so no raw HTML survives, line breaks become spaces
so it never starts a block, control and bidi-override characters are dropped,
and a zero-width joiner follows every `@` so nobody is ever mentioned (pinged)
and every `#` before a digit so no cross-reference is created. Bulwark never
@-mentions anyone: the people it answers are subscribed to the thread anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

ELLIPSIS = "…"
ZWJ = "\u200d"
BODY_LIMIT = 60_000
DEFAULT_MAX_LEN = 256
TRUNCATED_NOTE = "\n\n…(truncated to fit GitHub's size limit)"

_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$^=\"'])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ENTITY = re.compile(r"[&<>]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")
_DROP = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_MENTION = re.compile(r"([@＠])")
_ISSUE_REF = re.compile(r"#(?=\\?[0-9])")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")
_URL_SAFE = "/:?#[]@!$&'*+,;=%-._~"


def clean(text: str, max_len: int = DEFAULT_MAX_LEN) -> str:
    """Return text on one line, without control characters, cut to `max_len` with "…"."""
    text = _SURROGATES.sub("", _DROP.sub("", _LINE_BREAKS.sub(" ", text.replace("\t", " "))))
    return _cut(text, max_len)


def escape(text: str, max_len: int = DEFAULT_MAX_LEN) -> str:
    """Return user text made inert in GitHub markdown: no markup, HTML, mentions or new blocks."""
    text = _ENTITY.sub(lambda m: _ENTITIES[m.group()], clean(text, max_len))
    text = _PUNCTUATION.sub(r"\\\1", text)
    text = _ISSUE_REF.sub("#" + ZWJ, text)
    return _MENTION.sub(r"\1" + ZWJ, text)


def code(text: str, max_len: int = DEFAULT_MAX_LEN) -> str:
    """Return text as an inline code span that stays one span whatever backticks it holds."""
    text = clean(text, max_len)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith(("`", " ")) or text.endswith(("`", " ")):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def link(text: str, url: str) -> str:
    """Return a markdown link with escaped text to an https URL Bulwark built."""
    if not url.startswith("https://") or len(url) > 2_000:
        raise ValueError(f"refusing to link to a URL Bulwark did not build: {url[:100]!r}")
    return f"[{escape(text)}]({quote(url, safe=_URL_SAFE)})"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a GFM table of markdown cells (already escaped), escaping any bare `|`."""
    width = len(headers)
    lines = [_row(headers), "|" + " --- |" * width]
    lines += [_row([*row, *[""] * width][:width]) for row in rows]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    """Return one table row."""
    safe = (_UNESCAPED_PIPE.sub(r"\1\\|", clean(cell, max_len=10_000)) for cell in cells)
    return "| " + " | ".join(safe) + " |"


def body_length(text: str) -> int:
    """Return the length GitHub may count: UTF-16 code units, never less than code points."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def truncate_body(text: str, limit: int = BODY_LIMIT) -> str:
    """Return a body that fits `limit` (UTF-16 units), cut at a line break with a note."""
    text = _SURROGATES.sub("", text)
    if body_length(text) <= limit:
        return text
    budget = limit - body_length(TRUNCATED_NOTE)
    if budget <= 0:
        return _fit(text, max(limit, 0))
    head = _fit(text, budget)
    line_end = head.rfind("\n")
    if line_end > 0 and line_end > len(head) - 2_000:
        head = head[:line_end]
    return head.rstrip("\\") + TRUNCATED_NOTE


def _fit(text: str, budget: int) -> str:
    """Return the longest prefix of text within `budget` UTF-16 units."""
    head = text[:budget]
    while head and (excess := body_length(head) - budget) > 0:
        head = head[: -((excess + 1) // 2)]  # a character is one or two units
    return head


def _cut(text: str, max_len: int) -> str:
    """Cut text to `max_len` characters, ending with "…" when cut."""
    if len(text) <= max_len:
        return text
    return text[: max(max_len - 1, 0)] + ELLIPSIS


def counted(n: int, word: str, plural: str | None = None) -> str:
    """Return `n word`, the word in the plural unless n is 1 ("1 org owner", "2 merges")."""
    return f"{n} {word if n == 1 else plural or word + 's'}"
