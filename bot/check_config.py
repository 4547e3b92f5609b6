"""`bulwark check-config FILE`: validate a policy file, print the effective policy or the errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from bot.core.policy import load_policy_file, org_policy, policy_as_dict


def main(argv: list[str]) -> int:
    """Validate one policy file; exit 1 when it has errors, 2 when it cannot be read."""
    parser = argparse.ArgumentParser(
        prog="bulwark check-config",
        description="Validate a .github/repo-protection.yml policy file.",
    )
    parser.add_argument("file", type=Path, help="the policy file to check")
    args = parser.parse_args(argv)
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"bulwark: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    doc, errors = load_policy_file(text, str(args.file))
    if errors or doc is None:
        for error in errors:
            print(error, file=sys.stderr)
        print(f"{len(errors)} error(s); the policy was not applied.", file=sys.stderr)
        return 1
    print(f"# {args.file} is valid. The effective policy (defaults filled in):")
    print(yaml.safe_dump(policy_as_dict(org_policy(doc)), sort_keys=False), end="")
    return 0
