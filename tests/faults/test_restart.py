"""`bulwark serve` stopped mid-scan (SIGTERM, SIGKILL) and started again: it converges once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox import Sandbox
from tests.faults.conftest import meets_policy, protection_puts
from tests.fixtures import report_policy_checks
from tests.manifest import APP_PERMISSIONS

REPOS = 40
LATENCY = 0.02  # real seconds per sandbox answer: the scan is still running when the signal comes
BOUND = 30.0  # seconds any wait below may take at most


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """A sandbox on the real clock with unprotected repositories and the App installed."""
    box = Sandbox(latency=LATENCY, permissions=APP_PERMISSIONS)
    report_policy_checks(box.state)
    box.state.add_org("acme")
    box.state.add_repo("acme", ".github")
    for n in range(REPOS):
        box.state.add_repo("acme", f"svc-{n:02d}")
    box.state.install("acme")
    await box.start()
    yield box
    await box.stop()
    assert box.state.violations == []  # nothing GitHub's description refuses


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(done: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until `done()` holds, yielding to the sandbox in between."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while not done():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class Serve:
    """`bulwark serve` as a child process, pointed at the sandbox."""

    def __init__(self, sandbox: Sandbox, key: Path) -> None:
        self.port = _free_port()
        self.env = dict(
            os.environ,
            APP_ID=str(sandbox.app_id),
            PRIVATE_KEY_PATH=str(key),
            WEBHOOK_SECRET=sandbox.webhook_secret,
            GITHUB_API_URL=sandbox.url,
            GITHUB_WRITE_INTERVAL="0",
            RESYNC_INTERVAL="3600",
            HOST="127.0.0.1",
            PORT=str(self.port),
            LOG_FORMAT="text",
        )
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        ready = False

        async def healthy() -> None:
            nonlocal ready
            async with aiohttp.ClientSession() as http:
                while not ready:
                    assert self.proc is not None and self.proc.returncode is None, "serve died"
                    try:
                        async with http.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                            ready = r.status == 200
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)

        await asyncio.wait_for(healthy(), BOUND)

    async def resyncs_done(self) -> int:
        """Return how many resync jobs finished, read from /metrics."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as r:
            text = await r.text()
        wanted = ("bulwark_jobs_total{", 'kind="resync"', 'outcome="ok"')
        for line in text.splitlines():
            if line.startswith(wanted[0]) and all(w in line for w in wanted[1:]):
                return int(float(line.rsplit(" ", 1)[1]))
        return 0

    async def stop(self, sig: signal.Signals) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        _, err = await asyncio.wait_for(self.proc.communicate(), BOUND)
        self.stderr = err.decode(errors="replace")
        return int(self.proc.returncode or 0)


@pytest.fixture
def key(live: Sandbox, tmp_path: Path) -> Path:
    path = tmp_path / "app.pem"
    path.write_text(live.private_key_pem)
    return path


def _names() -> list[str]:
    return [".github", *(f"svc-{n:02d}" for n in range(REPOS))]


def _all_protected(sandbox: Sandbox) -> bool:
    return all(meets_policy(sandbox.state.protection("acme", n, "main")) for n in _names())


async def _restart_converges(live: Sandbox, key: Path) -> None:
    again = Serve(live, key)
    await again.start()
    try:
        await _until(lambda: _all_protected(live), "the org to converge after the restart")
        done = 0

        async def finished() -> None:
            nonlocal done
            while done < 1:
                done = await again.resyncs_done()
                await asyncio.sleep(0.05)

        await asyncio.wait_for(finished(), BOUND)
    finally:
        assert await again.stop(signal.SIGTERM) == 0, again.stderr[-2000:]
    puts = protection_puts(live.requests)
    assert set(puts) == {f"acme/{n}" for n in _names()}
    assert max(puts.values()) == 1, {r: n for r, n in puts.items() if n > 1}


async def test_sigterm_mid_scan_finishes_the_running_job(live: Sandbox, key: Path) -> None:
    first = Serve(live, key)
    await first.start()
    await _until(lambda: len(protection_puts(live.requests)) >= 1, "the scan to start writing")
    assert not _all_protected(live)  # the signal comes mid-scan

    assert await first.stop(signal.SIGTERM) == 0, first.stderr[-2000:]

    assert _all_protected(live)  # the running resync job finished before the process left
    assert "Traceback" not in first.stderr, first.stderr[-2000:]
    await _restart_converges(live, key)


async def test_sigkill_mid_scan_then_restart_converges(live: Sandbox, key: Path) -> None:
    first = Serve(live, key)
    await first.start()
    await _until(lambda: len(protection_puts(live.requests)) >= 3, "the scan to start writing")

    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert not _all_protected(live)  # cut off mid-scan

    await _restart_converges(live, key)
