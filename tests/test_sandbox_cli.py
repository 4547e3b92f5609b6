"""`bulwark sandbox`: prints how to reach it, serves, and stops cleanly on a signal."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

BANNER_END = "Webhook secret: "


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _banner(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith(BANNER_END):
        line = process.stdout.readline()
        assert line, f"exited early: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_sandbox_prints_its_banner_and_stops_cleanly(stop: signal.Signals) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _banner(process)
        assert lines[0].startswith(f"GitHub sandbox on http://127.0.0.1:{port} (org acme")
        assert "App id: 424242" in lines
        key = Path(next(ln for ln in lines if ln.startswith("Private key: ")).split(": ", 1)[1])
        assert "BEGIN" in key.read_text()
        assert len(lines[-1].removeprefix(BANNER_END)) >= 20
        assert _status(f"http://127.0.0.1:{port}/app") == 401  # it answers, as GitHub would
    except Exception:
        process.kill()
        raise
    finally:
        if process.poll() is None:
            process.send_signal(stop)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Sandbox stopped." in out
    assert not key.exists()


def test_sandbox_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "--port" in done.stdout
