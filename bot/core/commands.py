"""Slash commands in issue and pull request comments (`/protection status`, ...).

A command is a line of its own that begins with `/protection` (up to three
leading spaces, any case), then spaces or tabs and a verb. Text after the verb
is ignored, so `/protection status please` asks for `status`. A bare
`/protection` asks for help; an unknown verb is answered with help too.

Lines that GitHub would not show as plain text are never commands: fenced code
(``` or ~~~, unterminated fences run to the end), indented code (four or more
columns), inline code spans (also when they span lines), block quotes at any
depth (and the lazy lines that continue a quoted paragraph), HTML comments and
raw `<pre>`/`<script>`/`<style>`/`<textarea>` blocks. Where the markdown is
ambiguous the parser leans towards "not a command".

Several commands in one comment are answered in order of first appearance; a
verb asked twice is answered once (for unknown verbs, the first word is kept).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Verb(StrEnum):
    """What a slash command asks for."""

    STATUS = "status"
    CHECK = "check"
    FIX = "fix"
    REPORT = "report"
    HELP = "help"
    UNKNOWN = "unknown"


# Verbs that need the admin or maintain role on the repository (DESIGN.md section 3).
PRIVILEGED = frozenset({Verb.FIX, Verb.REPORT})

# An unknown word is echoed back in the help reply; keep it short.
MAX_WORD_LENGTH = 50

_KNOWN = {verb.value: verb for verb in Verb if verb is not Verb.UNKNOWN}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_COMMAND = re.compile(r" {0,3}/protection(?=[ \t]|$)", re.IGNORECASE)
_BLANKS = re.compile(r"[ \t]+")
_FENCE_OPEN = re.compile(r"^( {0,3}(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)*)(`{3,}|~{3,})(.*)$")
_QUOTE = re.compile(r"^ {0,3}>")
_RAW_BLOCK = re.compile(r"^ {0,3}<(pre|script|style|textarea)(?=[\s>]|$)", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")


@dataclass(frozen=True)
class Command:
    """One slash command: its verb and the word as typed ("" for a bare `/protection`)."""

    verb: Verb
    word: str


@dataclass
class _Fence:
    char: str
    length: int
    indent: int


def parse_commands(body: str, limit: int = 10) -> list[Command]:
    """Return the distinct slash commands of a comment body, in order, at most `limit`."""
    commands: list[Command] = []
    seen: set[Verb] = set()
    for line in _command_lines(body):
        command = _parse_line(line)
        if command is None or command.verb in seen:
            continue
        if len(commands) >= limit:
            break
        seen.add(command.verb)
        commands.append(command)
    return commands


def _parse_line(line: str) -> Command | None:
    """Parse one candidate line, or None when it is not a command."""
    match = _COMMAND.match(line)
    if match is None:
        return None
    words = _BLANKS.split(line[match.end() :].strip(" \t"))
    word = words[0][:MAX_WORD_LENGTH]
    if not word:
        return Command(Verb.HELP, "")
    verb = _KNOWN.get(word.lower()) if word.isascii() else None
    return Command(verb or Verb.UNKNOWN, word)


def _command_lines(body: str) -> Iterator[str]:
    """Yield the lines that start as plain paragraph text, outside code, quotes and HTML."""
    paragraph: list[str] = []
    for line, plain in _classify(_LINE_BREAK.split(body)):
        if plain:
            paragraph.append(line)
            continue
        yield from _outside_code_spans(paragraph)
        paragraph = []
    yield from _outside_code_spans(paragraph)


def _classify(lines: Sequence[str]) -> Iterator[tuple[str, bool]]:
    """Pair each line with whether it is plain paragraph text (False ends a paragraph)."""
    fence: _Fence | None = None
    raw_end: str | None = None
    in_comment = quoted = False
    for line in lines:
        if fence is not None:
            fence = None if _closes(fence, line) else fence
            yield line, False
            continue
        if raw_end is not None:
            raw_end = None if raw_end in line.lower() else raw_end
            yield line, False
            continue
        starts_in_comment = in_comment
        in_comment = _comment_state(line, in_comment)
        if starts_in_comment or in_comment:
            yield line, False
            continue
        blank = not line.strip(" \t")
        quoted = bool(_QUOTE.match(line)) or (quoted and not blank)
        fence = _opens(line)
        raw_end = _raw_block_end(line) if fence is None else None
        plain = not (blank or quoted or fence or raw_end)
        yield line, plain


def _opens(line: str) -> _Fence | None:
    """Return the fence a line opens, if any."""
    match = _FENCE_OPEN.match(line)
    if match is None:
        return None
    prefix, marks, info = match.groups()
    if marks[0] == "`" and "`" in info:
        return None  # an inline code span, not a fence
    return _Fence(marks[0], len(marks), len(prefix.expandtabs(4)))


def _closes(fence: _Fence, line: str) -> bool:
    """Tell whether a line closes the open fence."""
    stripped = line.lstrip(" \t")
    indent = len(line[: len(line) - len(stripped)].expandtabs(4))
    marks = len(stripped) - len(stripped.lstrip(fence.char))
    return (
        indent <= fence.indent + 3 and marks >= fence.length and not stripped[marks:].strip(" \t")
    )


def _raw_block_end(line: str) -> str | None:
    """Return the closing tag of a raw HTML block the line opens, unless it closes on it."""
    match = _RAW_BLOCK.match(line)
    if match is None:
        return None
    end = f"</{match.group(1).lower()}>"
    return None if end in line.lower()[match.end() :] else end


def _comment_state(line: str, in_comment: bool) -> bool:
    """Return whether an HTML comment is still open at the end of the line."""
    position = 0
    while True:
        token = "-->" if in_comment else "<!--"
        found = line.find(token, position)
        if found < 0:
            return in_comment
        in_comment = not in_comment
        position = found + len(token)


def _outside_code_spans(paragraph: Sequence[str]) -> Iterator[str]:
    """Yield the paragraph's lines whose start is not inside a multi-line code span."""
    text = "\n".join(paragraph)
    spans = _code_spans(text) if "`" in text else []
    starts = [start for start, _ in spans]
    offset = 0
    for line in paragraph:
        index = bisect.bisect_right(starts, offset) - 1
        if index < 0 or spans[index][1] <= offset:
            yield line
        offset += len(line) + 1


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Return the [start, end) ranges of the code spans in a paragraph (CommonMark rules)."""
    runs = [(m.start(), m.end() - m.start()) for m in _BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for index, (_, length) in enumerate(runs):
        by_length.setdefault(length, []).append(index)
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(runs):
        start, length = runs[index]
        if _escaped(text, start):
            start, length = start + 1, length - 1
        closer = _next_run(by_length.get(length, []), index)
        if length == 0 or closer is None:
            index += 1
            continue
        spans.append((start, runs[closer][0] + length))
        index = closer + 1
    return spans


def _next_run(indexes: list[int], after: int) -> int | None:
    """Return the first run index in `indexes` greater than `after`."""
    position = bisect.bisect_right(indexes, after)
    return indexes[position] if position < len(indexes) else None


def _escaped(text: str, position: int) -> bool:
    """Tell whether the character at `position` follows an odd run of backslashes."""
    count = 0
    while position - count - 1 >= 0 and text[position - count - 1] == "\\":
        count += 1
    return count % 2 == 1
