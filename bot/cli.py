"""The `bulwark` command line (placeholder until the commands land)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run a `bulwark` sub-command."""
    return 0
