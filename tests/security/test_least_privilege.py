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

from bot.sandbox import permissions as sandbox_permissions

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "bot" / "github" / "gateway.py"
LEVEL = {"read": 1, "write": 2}
ROOTS = ("/app", "/orgs/", "/repos/", "/installation/", "/rate_limit")

# path template (query part dropped) -> (permission, level) for the methods Bulwark uses,
# or a tuple of them where Bulwark calls the route on issues and on pull requests (the
# issues API needs `issues` on an issue, `pull_requests` on a pull request);
# None: authenticated as the App itself (JWT), or needs no permission.
Need = tuple[str, str]
_ON_ISSUES_AND_PULLS: tuple[Need, ...] = (("issues", "write"), ("pull_requests", "write"))
NEEDS: dict[str, Need | tuple[Need, ...] | None] = {
    "/app": None,
    "/app/installations": None,
    "/app/installations/{installation_id}": None,
    "/app/installations/{installation_id}/access_tokens": None,
    "/orgs/{org}/installation": None,
    "/rate_limit": None,
    "/app/hook/config": None,
    "/app/hook/deliveries": None,
    "/app/hook/deliveries/{delivery_id}/attempts": None,
    "/app-manifests/{code}/conversions": None,  # the manifest flow's code is the credential
    "/installation/repositories": None,
    "/repos/{owner}/{repo}": ("metadata", "read"),
    "/repos/{owner}/{repo}/branches": ("contents", "read"),
    "/repos/{owner}/{repo}/branches/{branch}": ("contents", "read"),
    "/repos/{owner}/{repo}/branches/{branch}/protection": ("administration", "write"),
    "/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures": (
        "administration",
        "read",
    ),
    # The sub-endpoints that change one part where a PUT would drop what REST cannot carry.
    "/repos/{owner}/{repo}/branches/{branch}/protection/enforce_admins": (
        "administration",
        "write",
    ),
    "/repos/{owner}/{repo}/branches/{branch}/protection/required_pull_request_reviews": (
        "administration",
        "write",
    ),
    "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks": (
        "administration",
        "write",
    ),
    "/repos/{owner}/{repo}/rules/branches/{branch}": ("metadata", "read"),
    "/repos/{owner}/{repo}/rulesets": ("administration", "write"),
    "/repos/{owner}/{repo}/rulesets/{ruleset_id}": ("administration", "write"),
    "/orgs/{org}/rulesets/{ruleset_id}": ("organization_administration", "read"),
    "/repos/{owner}/{repo}/contents/{+path}": ("contents", "read"),
    "/repos/{owner}/{repo}/commits/{commit_sha}/pulls": ("pull_requests", "read"),
    "/repos/{owner}/{repo}/commits/{commit_sha}/comments": ("contents", "write"),
    "/repos/{owner}/{repo}/pulls": ("pull_requests", "read"),
    "/repos/{owner}/{repo}/pulls/{pull_number}": ("pull_requests", "read"),
    "/repos/{owner}/{repo}/pulls/{pull_number}/reviews": ("pull_requests", "read"),
    "/repos/{owner}/{repo}/commits/{ref}/check-runs": ("checks", "read"),
    "/repos/{owner}/{repo}/check-runs": ("checks", "write"),
    "/repos/{owner}/{repo}/check-runs/{check_run_id}": ("checks", "write"),
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": _ON_ISSUES_AND_PULLS,
    "/repos/{owner}/{repo}/issues/comments/{comment_id}": _ON_ISSUES_AND_PULLS,
    "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": _ON_ISSUES_AND_PULLS,
    "/repos/{owner}/{repo}/issues": ("issues", "write"),
    "/repos/{owner}/{repo}/issues/{issue_number}": ("issues", "write"),
    "/repos/{owner}/{repo}/labels/{name}": ("issues", "read"),
    "/repos/{owner}/{repo}/labels": ("issues", "write"),
    "/repos/{owner}/{repo}/collaborators/{username}/permission": ("metadata", "read"),
    "/orgs/{org}/memberships/{username}": ("members", "read"),
    # `bulwark evidence` (read only). The route needs metadata; its
    # two_factor_requirement_enabled field is shown to owners only, and to an App with
    # organization Administration (read), which app.yml asks for the org rulesets anyway:
    # https://docs.github.com/rest/orgs/orgs#get-an-organization
    "/orgs/{org}": ("metadata", "read"),
    "/orgs/{org}/members": ("metadata", "read"),
    # https://docs.github.com/rest/repos/repos#check-if-private-vulnerability-reporting-is-enabled-for-a-repository
    "/repos/{owner}/{repo}/private-vulnerability-reporting": ("administration", "read"),
    # Default setup is an administration setting, not security_events: reading it needs
    # administration read, turning it on administration write (reported from the live API
    # in https://github.com/trycompai/comp/pull/3457).
    "/repos/{owner}/{repo}/code-scanning/default-setup": ("administration", "write"),
}
# Gateway paths whose permission app.yml does not grant (none: keep it so).
KNOWN_GAPS: set[str] = set()

# Permissions requested beyond what any gateway call needs (none: keep it so).
KNOWN_EXCESS: set[str] = set()


def needs(path: str) -> tuple[Need, ...]:
    """Return every (permission, level) a gateway path needs."""
    need = NEEDS[path]
    if need is None:
        return ()
    return (need,) if isinstance(need[0], str) else need  # type: ignore[return-value]


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
        for permission, level in needs(path):
            used[permission] = max(used.get(permission, 0), LEVEL[level])
    for permission, level in requested.items():
        if permission in KNOWN_EXCESS:
            continue
        assert permission in used, f"{permission} is requested but no gateway call needs it"
        assert LEVEL[level] == used[permission], f"{permission}: {level} is more than needed"


def test_every_needed_permission_is_requested(requested: dict[str, str]) -> None:
    for path in gateway_paths() - KNOWN_GAPS:
        for permission, level in needs(path):
            assert LEVEL.get(requested.get(permission, ""), 0) >= LEVEL[level], path


def test_known_gaps_are_granted(requested: dict[str, str]) -> None:
    for path in KNOWN_GAPS:
        for permission, level in needs(path):
            assert LEVEL.get(requested.get(permission, ""), 0) >= LEVEL[level], path


def test_no_known_excess(requested: dict[str, str]) -> None:
    for permission in KNOWN_EXCESS:
        needed = max(
            (LEVEL[lv] for p in gateway_paths() for pm, lv in needs(p) if pm == permission),
            default=0,
        )
        assert LEVEL[requested[permission]] == needed, permission


def test_every_mapped_permission_is_one_github_documents() -> None:
    """The map above agrees with the sandbox's, generated from GitHub's docs per route."""
    documented: dict[str, set[str]] = {}
    for key, need in sandbox_permissions.needs().items():
        template = key.split(" ", 1)[1]
        names = set() if need is None else set(need.resolved(True) + need.resolved(False))
        documented.setdefault(template, set()).update(names)
    for path in gateway_paths():
        template = path.replace("{+", "{")
        assert template in documented, f"{path}: not in bot/sandbox/spec/permissions.json.gz"
        for permission, _level in needs(path):
            assert permission in documented[template], f"{path}: GitHub documents no {permission}"


def test_every_sandbox_grants_what_app_yml_asks() -> None:
    """Each sandbox a test, benchmark or the demo starts installs the App with app.yml's grant."""
    sources = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/*.py"), ROOT / "bot/cli/demo.py"]
    calls = 0
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Sandbox"
            ):
                calls += 1
                passed = {k.arg: k.value for k in node.keywords}
                assert "permissions" in passed, f"{source}:{node.lineno} grants every permission"
                value = ast.unparse(passed["permissions"])
                assert value in {"APP_PERMISSIONS", "app_permissions()"}, f"{source}:{node.lineno}"
    assert calls >= 10
