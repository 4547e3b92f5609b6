"""`bulwark check-config FILE`: validate a policy file, print the effective policy or the errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.core.policy import (
    DEFAULT_POLICY,
    ORG_ONLY_KEYS,
    Policy,
    PolicyDoc,
    PolicyError,
    load_policy_file,
    org_policy,
    policy_as_dict,
    repo_policy,
)

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulwark check-config",
        description=(
            "Validate a .github/repo-protection.yml policy file: the org's (in the org's "
            ".github repository) by default, or a repository's with --repo."
        ),
        epilog="Exit status: 0 valid, 1 invalid, 2 unreadable.",
    )
    parser.add_argument("file", type=Path, help="the policy file to check")
    parser.add_argument(
        "--repo", action="store_true", help="check it as a repository's file (it may only tighten)"
    )
    parser.add_argument(
        "--org",
        type=Path,
        metavar="ORG_FILE",
        help="with --repo: the org policy it tightens (default: Bulwark's default policy)",
    )
    return parser


def main(argv: list[str]) -> int:
    """Validate one policy file; exit 1 when it has errors, 2 when it cannot be read."""
    args = _parser().parse_args(argv)
    loaded = _load(args.file)
    if isinstance(loaded, int):
        return loaded
    doc, errors = loaded
    if args.repo and not errors:
        base = DEFAULT_POLICY if args.org is None else _org(args.org)
        if isinstance(base, int):
            return base
        policy, errors = repo_policy(base, doc, str(args.file))
    else:
        policy = org_policy(doc)
    if errors:
        return _refused(errors)
    print(f"# {args.file} is valid. The effective policy (defaults filled in):")
    print(yaml.safe_dump(policy_as_dict(policy), sort_keys=False), end="")
    if not args.repo:
        _warn_weaker_than_default(doc, str(args.file))
    return EXIT_OK


def _load(path: Path) -> tuple[Mapping[str, Any], list[PolicyError]] | int:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"bulwark: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    doc, errors = load_policy_file(text, str(path))
    if errors or doc is None:
        return _refused(errors)
    return doc, []


def _org(path: Path) -> Policy | int:
    loaded = _load(path)
    return loaded if isinstance(loaded, int) else org_policy(loaded[0])


def _refused(errors: list[PolicyError]) -> int:
    for error in errors:
        print(error, file=sys.stderr)
    print(f"{len(errors)} error(s); the policy was not applied.", file=sys.stderr)
    return EXIT_INVALID


def _warn_weaker_than_default(doc: Mapping[str, Any], filename: str) -> None:
    """An org may lower Bulwark's default; say so, since the promises depend on it."""
    lines: Mapping[str, int] = getattr(doc, "lines", {})
    own = PolicyDoc({k: v for k, v in doc.items() if k not in ORG_ONLY_KEYS}, lines)
    _, weaker = repo_policy(DEFAULT_POLICY, own, filename)
    for warning in weaker:
        print(f"warning: weaker than Bulwark's default policy: {warning}", file=sys.stderr)
