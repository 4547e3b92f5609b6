"""app.yml asks for no permission the code does not use, and for each one a gateway path needs.

Each REST path of bot/github/gateway.py is mapped to the App permission GitHub
requires for the way Bulwark calls it
(https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps).
A new gateway path fails the first test until it is mapped here.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "bot" / "github" / "gateway.py"
LEVEL = {"read": 1, "write": 2}
ROOTS = ("/app", "/orgs/", "/repos/", "/installation/", "/rate_limit")

# path template (query part dropped) -> (permission, level) for the methods Bulwark uses;
# None: authenticated as the App itself (JWT), or needs no permission.
NEEDS: dict[str, tuple[str, str] | None] = {
    "/app": None,
    "/app/installations": None,
    "/app/installations/{installation_id}": None,
    "/app/installations/{installation_id}/access_tokens": None,
    "/orgs/{org}/installation": None,
    "/installation/repositories": ("metadata", "read"),
    "/repos/{owner}/{repo}": ("metadata", "read"),
    "/repos/{owner}/{repo}/branches": ("metadata", "read"),
    "/repos/{owner}/{repo}/branches/{branch}": ("metadata", "read"),
    "/repos/{owner}/{repo}/branches/{branch}/protection": ("administration", "write"),
    "/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures": (
        "administration",
        "read",
    ),
    "/repos/{owner}/{repo}/rules/branches/{branch}": ("metadata", "read"),
    "/repos/{owner}/{repo}/rulesets": ("administration", "write"),
    "/repos/{owner}/{repo}/rulesets/{ruleset_id}": ("administration", "write"),
    "/orgs/{org}/rulesets/{ruleset_id}": ("organization_administration", "read"),
    "/repos/{owner}/{repo}/contents/{+path}": ("contents", "read"),
    "/repos/{owner}/{repo}/commits/{commit_sha}/pulls": ("pull_requests", "read"),
    "/repos/{owner}/{repo}/commits/{commit_sha}/comments": ("contents", "write"),
    "/repos/{owner}/{repo}/pulls/{pull_number}": ("pull_requests", "read"),
    "/repos/{owner}/{repo}/pulls/{pull_number}/reviews": ("pull_requests", "read"),
    "/repos/{owner}/{repo}/commits/{ref}/check-runs": ("checks", "read"),
    "/repos/{owner}/{repo}/check-runs": ("checks", "write"),
    "/repos/{owner}/{repo}/check-runs/{check_run_id}": ("checks", "write"),
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": ("issues", "write"),
    "/repos/{owner}/{repo}/issues/comments/{comment_id}": ("issues", "write"),
    "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": ("issues", "write"),
    "/repos/{owner}/{repo}/issues": ("issues", "write"),
    "/repos/{owner}/{repo}/issues/{issue_number}": ("issues", "write"),
    "/repos/{owner}/{repo}/labels/{name}": ("issues", "read"),
    "/repos/{owner}/{repo}/labels": ("issues", "write"),
    "/repos/{owner}/{repo}/collaborators/{username}/permission": ("metadata", "read"),
    "/orgs/{org}/memberships/{username}": ("members", "read"),
    # Default setup is an administration setting, not security_events: reading it needs
    # administration read, turning it on administration write (reported from the live API
    # in https://github.com/trycompai/comp/pull/3457).
    "/repos/{owner}/{repo}/code-scanning/default-setup": ("administration", "write"),
}
# Gateway paths whose permission app.yml does not grant (none: keep it so).
KNOWN_GAPS: set[str] = set()

# Permissions requested beyond what any gateway call needs (none: keep it so).
KNOWN_EXCESS: set[str] = set()


def gateway_paths() -> set[str]:
    """Every path template the gateway builds, constants expanded, query templates dropped."""
    tree = ast.parse(GATEWAY.read_text())
    constants: dict[str, str] = {}

    def value(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = value(node.left), value(node.right)
            return left + right if left is not None and right is not None else None
        return None

    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            found = value(stmt.value)
            if found is not None:
                constants[stmt.targets[0].id] = found
    paths = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.expr):
            found = value(node)
            if found and found.startswith(ROOTS) and found not in constants.values():
                paths.add(found.split("{?")[0])
    return paths


@pytest.fixture(scope="module")
def requested() -> dict[str, str]:
    manifest: Any = yaml.safe_load((ROOT / "app.yml").read_text())
    return dict(manifest["default_permissions"])


def test_every_gateway_path_is_mapped_to_a_permission() -> None:
    paths = gateway_paths()
    assert len(paths) >= 25
    assert paths - set(NEEDS) == set(), "map the new gateway path's permission above"


def test_every_requested_permission_is_used_at_its_level(requested: dict[str, str]) -> None:
    used: dict[str, int] = {}
    for path in gateway_paths() - KNOWN_GAPS:
        need = NEEDS[path]
        if need is not None:
            used[need[0]] = max(used.get(need[0], 0), LEVEL[need[1]])
    for permission, level in requested.items():
        if permission in KNOWN_EXCESS:
            continue
        assert permission in used, f"{permission} is requested but no gateway call needs it"
        assert LEVEL[level] == used[permission], f"{permission}: {level} is more than needed"


def test_every_needed_permission_is_requested(requested: dict[str, str]) -> None:
    for path in gateway_paths() - KNOWN_GAPS:
        need = NEEDS[path]
        if need is not None:
            permission, level = need
            assert LEVEL[requested.get(permission, "none")] >= LEVEL[level], path


def test_known_gaps_are_granted(requested: dict[str, str]) -> None:
    for path in KNOWN_GAPS:
        permission, level = NEEDS[path] or ("", "read")
        assert LEVEL.get(requested.get(permission, ""), 0) >= LEVEL[level], path


def test_no_known_excess(requested: dict[str, str]) -> None:
    for permission in KNOWN_EXCESS:
        needed = max(
            (LEVEL[n[1]] for p in gateway_paths() if (n := NEEDS[p]) and n[0] == permission),
            default=0,
        )
        assert LEVEL[requested[permission]] == needed, permission
