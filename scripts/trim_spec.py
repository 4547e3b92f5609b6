"""Trim GitHub's API descriptions to what Bulwark's sandbox serves.

Reads GitHub's official REST description (OpenAPI 3.0) and writes, under
``bot/sandbox/spec/``:

- ``rest.json.gz``: the operations in ``OPERATIONS`` with every component they
  reach through ``$ref``, so the file is self-contained;
- ``webhooks.json.gz``: the ``x-webhooks`` entries of the events in ``EVENTS``
  with the components they reach;
- ``schema.graphql.gz``: a copy of GitHub's GraphQL schema;
- ``permissions.json.gz``: the GitHub App permission each operation in
  ``OPERATIONS`` needs, from octokit's map generated from GitHub's docs
  (``app-permissions.json.gz``), completed and corrected by ``DOCUMENTED`` and
  ``EITHER`` below where that map is silent or names one of two permissions.

Output is deterministic (sorted keys, gzip mtime 0), so regenerating from the
same source changes nothing. Usage::

    python scripts/trim_spec.py [--source PATH] [--graphql PATH] [--permissions PATH] [--out DIR]
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
# Operations that need no installation permission: the App's own JWT routes, and the
# installation token's own listing and revocation (https://docs.github.com/en/rest/apps/installations);
# the App's webhook and deliveries (JWT: https://docs.github.com/en/rest/apps/webhooks); the
# manifest flow's conversion, whose one-time code is the credential
# (https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest).
_APP_TOKEN_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/app"),
    ("GET", "/app/installations"),
    ("GET", "/app/installations/{installation_id}"),
    ("POST", "/app/installations/{installation_id}/access_tokens"),
    ("GET", "/orgs/{org}/installation"),
    ("GET", "/repos/{owner}/{repo}/installation"),
    ("GET", "/installation/repositories"),
    ("DELETE", "/installation/token"),
)
_APP_HOOK_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/app/hook/config"),
    ("GET", "/app/hook/deliveries"),
    ("GET", "/app/hook/deliveries/{delivery_id}"),
    ("POST", "/app/hook/deliveries/{delivery_id}/attempts"),
    ("POST", "/app-manifests/{code}/conversions"),
)
NO_PERMISSION = frozenset(_APP_TOKEN_ROUTES + _APP_HOOK_ROUTES)

OPERATIONS: tuple[tuple[str, str], ...] = (
    *_APP_TOKEN_ROUTES,
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
    *_APP_HOOK_ROUTES,
    # `bulwark evidence`: org settings, owners, admins, disclosure and code scanning.
    ("GET", "/orgs/{org}"),
    ("GET", "/orgs/{org}/members"),
    ("GET", "/repos/{owner}/{repo}/collaborators"),
    ("GET", "/repos/{owner}/{repo}/private-vulnerability-reporting"),
    ("GET", "/repos/{owner}/{repo}/code-scanning/default-setup"),
    ("PATCH", "/repos/{owner}/{repo}/code-scanning/default-setup"),
    ("GET", "/repos/{owner}/{repo}/languages"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
)

# Operations octokit's map lacks (no rulesets routes, some commit routes), as each
# operation's "Fine-grained access tokens" section in GitHub's docs states:
# https://docs.github.com/en/rest/repos/rules, https://docs.github.com/en/rest/orgs/rules,
# https://docs.github.com/en/rest/commits, https://docs.github.com/en/rest/checks/runs,
# https://docs.github.com/en/rest/collaborators/collaborators
_REPO = "/repos/{owner}/{repo}"
DOCUMENTED: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", _REPO + "/rules/branches/{branch}"): ("metadata", "read"),
    ("GET", _REPO + "/rulesets"): ("metadata", "read"),
    ("GET", _REPO + "/rulesets/{ruleset_id}"): ("metadata", "read"),
    ("POST", _REPO + "/rulesets"): ("administration", "write"),
    ("PUT", _REPO + "/rulesets/{ruleset_id}"): ("administration", "write"),
    ("DELETE", _REPO + "/rulesets/{ruleset_id}"): ("administration", "write"),
    # Listing an org's rulesets needs organization administration *write*.
    ("GET", "/orgs/{org}/rulesets"): ("organization_administration", "write"),
    ("GET", "/orgs/{org}/rulesets/{ruleset_id}"): ("organization_administration", "read"),
    ("GET", _REPO + "/commits/{ref}"): ("contents", "read"),
    ("GET", _REPO + "/commits/{commit_sha}/pulls"): ("pull_requests", "read"),
    ("GET", _REPO + "/commits/{commit_sha}/comments"): ("metadata", "read"),
    ("POST", _REPO + "/commits/{commit_sha}/comments"): ("contents", "write"),
    ("GET", _REPO + "/commits/{ref}/check-runs"): ("checks", "read"),
    ("GET", _REPO + "/collaborators/{username}/permission"): ("metadata", "read"),
    # https://docs.github.com/en/rest/repos/repos#check-if-private-vulnerability-reporting-is-enabled-for-a-repository
    ("GET", _REPO + "/private-vulnerability-reporting"): ("administration", "read"),
    # https://docs.github.com/en/rest/code-scanning/code-scanning#get-a-code-scanning-default-setup-configuration
    ("GET", _REPO + "/code-scanning/default-setup"): ("administration", "read"),
    # https://docs.github.com/en/rest/code-scanning/code-scanning#update-a-code-scanning-default-setup-configuration
    ("PATCH", _REPO + "/code-scanning/default-setup"): ("administration", "write"),
}

# Where GitHub accepts either of two permissions (octokit names only one). "target"
# means: `issues` on an issue, `pull_requests` on a pull request. "If your GitHub App has
# permissions for issues but not for pull requests, these endpoints will be limited to
# issues" (https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps):
# commenting or reacting on a pull request through the issues API needs pull_requests.
TARGET = "target"
_ISSUE = "/repos/{owner}/{repo}/issues/{issue_number}"
_COMMENT = "/repos/{owner}/{repo}/issues/comments/{comment_id}"
EITHER: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/repos/{owner}/{repo}/issues"): ("issues", "pull_requests"),
    ("GET", _ISSUE): (TARGET,),
    ("PATCH", _ISSUE): (TARGET,),
    ("GET", _ISSUE + "/comments"): (TARGET,),
    ("POST", _ISSUE + "/comments"): (TARGET,),
    ("GET", _COMMENT): (TARGET,),
    ("PATCH", _COMMENT): (TARGET,),
    ("POST", _COMMENT + "/reactions"): (TARGET,),
    ("GET", "/repos/{owner}/{repo}/labels/{name}"): ("issues", "pull_requests"),
    ("POST", "/repos/{owner}/{repo}/labels"): ("issues", "pull_requests"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"): ("contents", "single_file"),
    ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}"): ("checks", "contents"),
}

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


def trim_permissions(
    source: dict[str, Any], spec: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Map each kept operation to what it needs: {any_of, access, docs}, or None."""
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for method, template in OPERATIONS:
        key = f"{method} {template}"
        if (method, template) in NO_PERMISSION:
            out[key] = None
            continue
        listed = source["paths"].get(template, {}).get(method)
        documented = DOCUMENTED.get((method, template))
        if documented is not None:
            permission, access = documented
        elif listed is not None:
            permission, access = listed["permission"], listed["access"]
        else:
            unknown.append(key)
            continue
        operation = spec["paths"].get(template, {}).get(method.lower(), {})
        docs = operation.get("externalDocs", {}).get("url", "")
        any_of = list(EITHER.get((method, template), (permission,)))
        out[key] = {"any_of": any_of, "access": access, "docs": docs}
    return out, unknown


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
    parser.add_argument("--permissions", type=Path, default=SHARED / "app-permissions.json.gz")
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
    with gzip.open(args.permissions, "rb") as raw:
        permissions, unknown = trim_permissions(json.load(raw), spec)
    write_gzip(args.out / "permissions.json.gz", dump_json(permissions))
    print(f"kept {len(OPERATIONS) - len(missing)} operations in {args.out}")
    for operation in missing:
        print(f"not in the description: {operation}", file=sys.stderr)
    for operation in unknown:
        print(f"no permission known: {operation}", file=sys.stderr)
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
