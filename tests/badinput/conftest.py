"""The end-to-end fixtures: a running sandbox and a running Bulwark wired to it."""

from tests.e2e.conftest import bulwark, clock, sandbox

__all__ = ["bulwark", "clock", "sandbox"]
