"""A real headless Chromium for tests of pages Bulwark writes; the one place that skips without it.

CI fails on skipped tests, so a machine without Chromium is noticed, not passed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

SKIP_REASON = "chromium is not installed (Debian: apt-get install chromium)"
# Set by .ci/run: there a missing browser fails the run instead of skipping its tests.
REQUIRE = "BULWARK_REQUIRE_BROWSER"
TIMEOUT = 60.0


@dataclass(frozen=True)
class Chromium:
    """Drive Chromium headless through its command line: DOM, screenshot, PDF."""

    binary: str
    profile: Path

    async def _run(self, *args: str) -> bytes:
        process = await asyncio.create_subprocess_exec(
            self.binary,
            "--headless=new",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={self.profile}",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode == 0, err.decode(errors="replace")[-2000:]
        return out

    async def dom(self, page: Path) -> str:
        """Return the DOM Chromium built from a page."""
        return (await self._run("--dump-dom", page.as_uri())).decode()

    async def screenshot(
        self, page: Path, out: Path, width: int = 1100, height: int = 1600
    ) -> Path:
        """Render a page to a PNG."""
        await self._run(f"--screenshot={out}", f"--window-size={width},{height}", page.as_uri())
        return out

    async def pdf(self, page: Path, out: Path) -> Path:
        """Print a page to PDF, as a person printing it would."""
        await self._run(f"--print-to-pdf={out}", "--no-pdf-header-footer", page.as_uri())
        return out


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    """A headless Chromium; skips when none is installed (fails where REQUIRE is set)."""
    return Chromium(chromium_binary(), tmp_path / "chromium-profile")


def chromium_binary() -> str:
    """Return Chromium's path; skip the test without one, or fail it where REQUIRE is set."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is not None:
        return binary
    if os.environ.get(REQUIRE):
        pytest.fail(f"{REQUIRE} is set but chromium is not installed")
    pytest.skip(SKIP_REASON)
