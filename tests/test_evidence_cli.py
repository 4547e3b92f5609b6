"""`bulwark evidence`'s period arguments and its place among the verbs."""

from __future__ import annotations

import argparse

import pytest

from bot.cli import DELEGATES
from bot.cli.evidence import period
from bot.clock import FakeClock
from bot.settings import ConfigError

NOW = FakeClock(1_800_000_000.0).time()  # 2027-01-15T08:00:00Z


def args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**{"since": None, "until": None, "days": None, **given})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ("2026-10-17T08:00:00Z", "2027-01-15T08:00:00Z")),
        ({"days": 7}, ("2027-01-08T08:00:00Z", "2027-01-15T08:00:00Z")),
        (
            {"since": "2026-10-01", "until": "2026-12-31"},
            ("2026-10-01T00:00:00Z", "2026-12-31T23:59:59Z"),
        ),
        ({"since": "2026-10-01T12:00:00+02:00"}, ("2026-10-01T10:00:00Z", "2027-01-15T08:00:00Z")),
    ],
)  # fmt: skip
def test_period(given: dict[str, object], expected: tuple[str, str]) -> None:
    assert period(args(**given), NOW) == expected


@pytest.mark.parametrize(
    "given",
    [{"since": "last week"}, {"days": 0}, {"since": "2027-02-01"}, {"until": "2020-13-01"}],
)
def test_bad_periods_are_configuration_errors(given: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        period(args(**given), NOW)


def test_evidence_is_a_verb() -> None:
    assert DELEGATES["evidence"][0] == "bot.cli.evidence"
