"""`bulwark check-config`: the effective policy, or each error with its line; repo files too."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.check_config import main


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_valid_org_file_prints_the_effective_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "org.yml", 'branches: [default, "release/*"]\n')
    assert main([path]) == 0
    out = capsys.readouterr().out
    assert "release/*" in out and "required_approving_review_count: 1" in out


def test_errors_carry_their_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.yml", "mode: enforse\nmode: report\n")
    assert main([path]) == 1
    assert f"{path}:2: mode: given twice" in capsys.readouterr().err


def test_an_org_file_weaker_than_the_default_is_valid_but_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path, "weak.yml", "pull_request_reviews:\n  required_approving_review_count: 0\n"
    )
    assert main([path]) == 0
    assert "warning: weaker than Bulwark's default policy" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("pull_request_reviews:\n  required_approving_review_count: 2\n", 0),
        ("pull_request_reviews:\n  required_approving_review_count: 0\n", 1),
        ("exclude: {archived: true}\n", 1),  # org-only key
    ],
)
def test_a_repo_file_may_only_tighten(tmp_path: Path, text: str, code: int) -> None:
    assert main(["--repo", write(tmp_path, "repo.yml", text)]) == code


def test_a_repo_file_is_checked_against_the_org_file(tmp_path: Path) -> None:
    org = write(
        tmp_path, "org.yml", "pull_request_reviews:\n  required_approving_review_count: 3\n"
    )
    repo = write(
        tmp_path, "repo.yml", "pull_request_reviews:\n  required_approving_review_count: 2\n"
    )
    assert main(["--repo", repo]) == 0
    assert main(["--repo", repo, "--org", org]) == 1


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    assert main([str(tmp_path / "missing.yml")]) == 2


def test_require_unreported_is_accepted_and_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "org.yml", "required_status_checks:\n  require_unreported: true\n")
    assert main([path]) == 0
    assert "require_unreported: true" in capsys.readouterr().out


def test_require_unreported_must_be_a_boolean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "org.yml", "required_status_checks:\n  require_unreported: yes please\n")
    assert main([path]) == 1
    assert f"{path}:2: required_status_checks.require_unreported: expected true or false" in (
        capsys.readouterr().err
    )
