"""Trim GitHub's API descriptions to what Bulwark's sandbox serves.

Reads GitHub's official REST description (OpenAPI 3.0) and writes, under
``bot/sandbox/spec/``:

- ``rest.json.gz``: the operations in ``OPERATIONS`` with every component they
  reach through ``$ref``, so the file is self-contained;
- ``webhooks.json.gz``: the ``x-webhooks`` entries of the events in ``EVENTS``
  with the components they reach;
- ``schema.graphql.gz``: a copy of GitHub's GraphQL schema.

Output is deterministic (sorted keys, gzip mtime 0), so regenerating from the
same source changes nothing. Usage::

    python scripts/trim_spec.py [--source PATH] [--graphql PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SHARED = Path("/work/shared/github")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "bot" / "sandbox" / "spec"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

_BRANCH = "/repos/{owner}/{repo}/branches/{branch}"
_PROTECTION = f"{_BRANCH}/protection"
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("GET", "/app"),
    ("GET", "/app/installations"),
    ("GET", "/app/installations/{installation_id}"),
    ("POST", "/app/installations/{installation_id}/access_tokens"),
    ("GET", "/orgs/{org}/installation"),
    ("GET", "/repos/{owner}/{repo}/installation"),
    ("GET", "/installation/repositories"),
    ("DELETE", "/installation/token"),
    ("GET", "/orgs/{org}/repos"),
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/repos/{owner}/{repo}/branches"),
    ("GET", _BRANCH),
    ("GET", _PROTECTION),
    ("PUT", _PROTECTION),
    ("DELETE", _PROTECTION),
    ("GET", f"{_PROTECTION}/required_signatures"),
    ("POST", f"{_PROTECTION}/required_signatures"),
    ("DELETE", f"{_PROTECTION}/required_signatures"),
    ("GET", f"{_PROTECTION}/enforce_admins"),
    ("POST", f"{_PROTECTION}/enforce_admins"),
    ("DELETE", f"{_PROTECTION}/enforce_admins"),
    ("GET", f"{_PROTECTION}/required_status_checks"),
    ("PATCH", f"{_PROTECTION}/required_status_checks"),
    ("GET", f"{_PROTECTION}/required_pull_request_reviews"),
    ("PATCH", f"{_PROTECTION}/required_pull_request_reviews"),
    ("DELETE", f"{_PROTECTION}/required_pull_request_reviews"),
    ("GET", "/repos/{owner}/{repo}/rules/branches/{branch}"),
    ("GET", "/repos/{owner}/{repo}/rulesets"),
    ("POST", "/repos/{owner}/{repo}/rulesets"),
    ("GET", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"),
    ("PUT", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"),
    ("DELETE", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"),
    ("GET", "/orgs/{org}/rulesets"),
    ("GET", "/orgs/{org}/rulesets/{ruleset_id}"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("GET", "/repos/{owner}/{repo}/commits"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}"),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
    ("POST", "/repos/{owner}/{repo}/commits/{commit_sha}/comments"),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/comments"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("POST", "/repos/{owner}/{repo}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("GET", "/repos/{owner}/{repo}/issues"),
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("GET", "/repos/{owner}/{repo}/labels/{name}"),
    ("POST", "/repos/{owner}/{repo}/labels"),
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("GET", "/orgs/{org}/memberships/{username}"),
    ("GET", "/rate_limit"),
    ("GET", "/repos/{owner}/{repo}/code-scanning/default-setup"),
    ("PATCH", "/repos/{owner}/{repo}/code-scanning/default-setup"),
    ("GET", "/repos/{owner}/{repo}/languages"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
)

# Webhook events Bulwark handles, as named in X-GitHub-Event.
EVENTS = frozenset(
    {
        "installation",
        "installation_repositories",
        "repository",
        "branch_protection_rule",
        "branch_protection_configuration",
        "repository_ruleset",
        "push",
        "pull_request",
        "check_run",
        "check_suite",
        "issue_comment",
        "ping",
    }
)


def iter_refs(node: Any) -> Iterator[str]:
    """Yield every ``$ref`` string inside a JSON value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def reachable_components(spec: dict[str, Any], roots: Any) -> dict[str, Any]:
    """Return the ``components`` subset reached from ``roots`` by ``$ref``."""
    kept: dict[str, dict[str, Any]] = {}
    pending = list(iter_refs(roots))
    while pending:
        ref = pending.pop()
        _, _, section, name = ref.split("/", 3)
        if name in kept.get(section, {}):
            continue
        target = spec["components"][section][name]
        kept.setdefault(section, {})[name] = target
        pending.extend(iter_refs(target))
    return kept


def trim_paths(spec: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return the kept path items and the operations missing from ``spec``."""
    paths: dict[str, Any] = {}
    missing: list[str] = []
    for method, template in OPERATIONS:
        item = spec["paths"].get(template, {})
        operation = item.get(method.lower())
        if operation is None:
            missing.append(f"{method} {template}")
            continue
        kept = paths.setdefault(template, {k: v for k, v in item.items() if k not in HTTP_METHODS})
        kept[method.lower()] = operation
    return paths, missing


def trim_rest(spec: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return the self-contained REST description and the missing operations."""
    paths, missing = trim_paths(spec)
    head = {k: spec[k] for k in ("openapi", "info", "servers", "externalDocs") if k in spec}
    trimmed = {**head, "paths": paths, "components": reachable_components(spec, paths)}
    return trimmed, missing


def trim_webhooks(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the ``x-webhooks`` entries of ``EVENTS`` with their components."""
    hooks = {
        key: item
        for key, item in spec["x-webhooks"].items()
        if item["post"].get("x-github", {}).get("subcategory") in EVENTS
    }
    return {"x-webhooks": hooks, "components": reachable_components(spec, hooks)}


def write_gzip(path: Path, data: bytes) -> None:
    """Write ``data`` gzip-compressed with a fixed header, for reproducible output."""
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out,
    ):
        out.write(data)


def dump_json(value: Any) -> bytes:
    """Serialize ``value`` compactly with sorted keys."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def main(argv: list[str] | None = None) -> int:
    """Generate the trimmed descriptions; print what was written or skipped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SHARED / "api.github.com.json.gz")
    parser.add_argument("--graphql", type=Path, default=SHARED / "schema.graphql.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with gzip.open(args.source, "rb") as source:
        spec = json.load(source)
    rest, missing = trim_rest(spec)
    args.out.mkdir(parents=True, exist_ok=True)
    write_gzip(args.out / "rest.json.gz", dump_json(rest))
    write_gzip(args.out / "webhooks.json.gz", dump_json(trim_webhooks(spec)))
    with gzip.open(args.graphql, "rb") as sdl:
        write_gzip(args.out / "schema.graphql.gz", sdl.read())
    print(f"kept {len(OPERATIONS) - len(missing)} operations in {args.out}")
    for operation in missing:
        print(f"not in the description: {operation}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
