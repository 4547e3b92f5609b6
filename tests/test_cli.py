"""The `bulwark` command line."""

from __future__ import annotations

import gc
import hashlib
import hmac
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import cli
from bot.app import build_services, freeze_start_up_objects
from bot.clock import FakeClock
from bot.service.queue import Job
from bot.service.server import QUEUE
from bot.settings import Settings

VERBS = ["serve", "worker", "demo", "scan", "check-config", "sandbox", "setup"]


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for verb in VERBS:
        assert verb in out


def test_python_dash_m_bot_is_bulwark() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "check-config" in done.stdout


def test_serve_without_app_id_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("APP_ID", raising=False)
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bulwark: configuration error: APP_ID: missing")
    assert err.count("\n") == 1


def test_serve_reads_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("APP_ID", raising=False)
    (tmp_path / ".env").write_text("APP_ID=not-a-number\n")
    assert cli.main(["serve"]) == 2
    assert "APP_ID: expected a positive integer" in capsys.readouterr().err


def test_delegate_receives_remaining_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.DELEGATES, "scan", ("tests.test_cli", "fake_scan", "x"))
    assert cli.main(["scan", "--org", "acme", "--apply"]) == 7
    assert received == [["--org", "acme", "--apply"]]


received: list[list[str]] = []


def fake_scan(argv: list[str]) -> int:
    received.append(argv)
    return 7


class RecordingRuntime:
    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.closed = False

    async def run(self, job: Job) -> None:
        self.jobs.append(job)

    async def close(self) -> None:
        self.closed = True


async def test_build_services_runs_jobs_and_shuts_down(
    rsa_private_key: str, clock: FakeClock
) -> None:
    settings = Settings(app_id=1, private_key=rsa_private_key, webhook_secret="s")
    runtime = RecordingRuntime()
    app = build_services(settings, clock=clock, runtime=runtime)
    body = b'{"repository": {"full_name": "acme/w"}}'
    signature = "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
    hdrs = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": signature,
    }
    client: TestClient[Any, Any]
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(settings.webhook_path, data=body, headers=hdrs)
        assert resp.status == 202
        await client.server.app[QUEUE].join()
        assert [job.repo for job in runtime.jobs] == ["acme/w"]
    assert runtime.closed


def test_start_up_objects_stay_out_of_collections_and_later_cycles_are_freed() -> None:
    class Node:
        me: object = None

    frozen = gc.get_freeze_count()
    try:
        freeze_start_up_objects()
        assert gc.get_freeze_count() > frozen  # what start-up built is no longer walked
        cycle = Node()
        cycle.me = cycle
        alive = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert alive() is None  # a cycle made after start-up is still collected
    finally:
        gc.unfreeze()


def test_worker_help_needs_no_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["worker", "--help"])
    assert exited.value.code == 0
    assert "--concurrency" in capsys.readouterr().out


def test_serve_without_app_id_points_to_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("APP_ID", raising=False)
    assert cli.main(["serve"]) == 2
    assert "`bulwark setup` registers one" in capsys.readouterr().err


def test_setup_refuses_to_start_where_env_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("APP_ID", raising=False)
    (tmp_path / ".env").write_text("LOG_LEVEL=INFO\n")
    assert cli.main(["setup", "--org", "acme"]) == 2
    assert "setup never overwrites it" in capsys.readouterr().err
    assert (tmp_path / ".env").read_text() == "LOG_LEVEL=INFO\n"


def test_setup_refuses_to_start_where_credentials_are_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APP_ID", "12")
    assert cli.main(["setup"]) == 2
    assert "APP_ID: set already" in capsys.readouterr().err
    assert not (tmp_path / ".env").exists()
