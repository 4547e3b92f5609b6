"""The HTML trust page in a real headless Chromium: it renders, and its figures are the JSON's."""

from __future__ import annotations

import json
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from tests.browser import Chromium
from tests.e2e.test_evidence import evidence, planted  # noqa: F401 - the planted org fixture


class Figures(HTMLParser):
    """Collect each promise card's status, figures and exception count from a DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, dict[str, Any]] = {}
        self.card: str | None = None
        self.figure: str | None = None
        self.overall: str | None = None
        self.weeks: list[tuple[str, int, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        ident = found.get("id") or ""
        if tag == "section" and ident.startswith("promise-"):
            self.card = ident.removeprefix("promise-")
            self.cards[self.card] = {"status": found["data-status"], "figures": {}, "exceptions": 0}
        elif ident == "overall":
            self.overall = found["data-status"]
        elif tag == "dd" and self.card:
            self.figure = found.get("data-figure")
        elif tag == "li" and self.card and found.get("class") == "exception":
            self.cards[self.card]["exceptions"] += 1
        elif tag == "g" and found.get("data-week"):
            changes, bad = int(found["data-changes"] or 0), int(found["data-exceptions"] or 0)
            self.weeks.append((str(found["data-week"]), changes, bad))

    def handle_data(self, data: str) -> None:
        if self.card and self.figure:
            self.cards[self.card]["figures"][self.figure] = data
            self.figure = None


def shown(value: Any) -> str:
    return (", ".join(value) or "none") if isinstance(value, list) else str(value)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


async def test_trust_page_renders_with_the_json_figures(
    sandbox: Sandbox,
    clock: FakeClock,
    planted: dict[str, Any],  # noqa: F811
    chromium: Chromium,
    tmp_path: Path,
) -> None:
    page, data = tmp_path / "trust.html", tmp_path / "evidence.json"
    assert (await evidence(sandbox, clock, "--format", "html", "--out", str(page)))[0] == 1
    assert (await evidence(sandbox, clock, "--format", "json", "--out", str(data)))[0] == 1
    doc = json.loads(data.read_text())

    parsed = Figures()
    parsed.feed(await chromium.dom(page))
    assert parsed.overall == doc["status"] == "not_met"
    assert list(parsed.cards) == [p["id"] for p in doc["promises"]]
    for promise in doc["promises"]:
        card = parsed.cards[promise["id"]]
        assert card["status"] == promise["status"]
        assert card["figures"] == {k: shown(v) for k, v in promise["figures"].items()}
        assert card["exceptions"] == len(promise["exceptions"])
    assert parsed.weeks == [(w["week"], w["changes"], w["exceptions"]) for w in doc["weekly"]]

    shot = await chromium.screenshot(page, tmp_path / "trust.png")
    width, height = png_size(shot)
    assert (width, height) == (1100, 1600)
    assert shot.stat().st_size > 20_000  # cards, text and the chart, not a blank page
    printed = await chromium.pdf(page, tmp_path / "trust.pdf")
    assert printed.read_bytes().startswith(b"%PDF")
