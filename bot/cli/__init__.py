"""The `bulwark` command line: one module per verb, each with `main(argv) -> int`."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from bot.settings import ConfigError

# verb -> (module, function taking argv -> int, help). Imported only when run, so
# `bulwark --help` stays quick and a verb's optional extras are needed only by it.
DELEGATES: dict[str, tuple[str, str, str]] = {
    "serve": ("bot.cli.serve", "main", "run the GitHub App: webhooks, health, metrics, worker"),
    "worker": ("bot.cli.worker", "main", "run a queue worker only (needs REDIS_URL)"),
    "demo": ("bot.cli.demo", "main", "run the app end to end against the local sandbox"),
    "scan": ("bot.cli.scan", "main", "scan an organization once (--org ORG [--apply])"),
    "check-config": ("bot.cli.check_config", "main", "validate a policy file"),
    "evidence": ("bot.cli.evidence", "main", "prove each SDLC promise over a period (--org ORG)"),
    "sandbox": ("bot.sandbox", "main", "run the local GitHub sandbox alone"),
    "doctor": ("bot.cli.doctor", "main", "tell what is wrong with this deployment (read-only)"),
    "setup": ("bot.cli.setup", "main", "register the App on GitHub from a local page (.env)"),
}

log = logging.getLogger("bot.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulwark", description="A GitHub App that enforces and proves branch protection."
    )
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, (_, _, help_text) in DELEGATES.items():
        # No help of our own: `bulwark scan --help` is answered by the command itself.
        verbs.add_parser(verb, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a `bulwark` sub-command and return its exit status."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        module_name, function, _ = DELEGATES[args.command]
        entry = getattr(importlib.import_module(module_name), function)
        return int(entry(rest) or 0)
    except ConfigError as exc:
        print(f"bulwark: configuration error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bulwark scan … | head`: the reader left
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return 2
    except Exception:
        # 1 means "drift remains" to a CI gate: a crash must never look like that.
        log.exception("bulwark: internal error")
        print("bulwark: internal error (the traceback is above); exit 2", file=sys.stderr)
        return 2
