"""Shared fixtures: a fake clock and one RSA test key per session."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import settings

from bot.clock import FakeClock
from tests.browser import chromium

__all__ = ["chromium"]  # a fixture for every test: a real headless browser


def pytest_configure(config: pytest.Config) -> None:
    """Property tests assert properties, not speed (benchmarks measure that).

    Hypothesis's per-example deadline would turn a loaded 2-core CI machine into
    flaky failures, so there is none.
    """
    settings.register_profile("bulwark", deadline=None)
    settings.load_profile("bulwark")


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when told to."""
    return FakeClock()


@pytest.fixture(scope="session")
def rsa_private_key() -> str:
    """An RSA private key in PEM, generated once per test session."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode()
