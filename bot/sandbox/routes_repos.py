"""Repository endpoints: branches, protection, rules, rulesets, contents, commits, people."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from bot.sandbox.routes_common import (
    BODY,
    account_from,
    body_of,
    branch_from,
    caller_of,
    check_body_length,
    error,
    invalid,
    may_see_bypass,
    not_found,
    paginate,
    repo_from,
    respond,
    state_of,
)
from bot.sandbox.shapes import (
    author_fields,
    commit_json,
    permission_json,
    pull_json,
    user_json,
)
from bot.sandbox.state import (
    JSON,
    Repo,
    State,
    b64,
    git_blob_sha,
    normalize_protection,
    patch_reviews,
    patch_status_checks,
    reporters,
)

routes = web.RouteTableDef()
PROTECTION = "/repos/{owner}/{repo}/branches/{branch:.+}/protection"
NOT_PROTECTED_DOC = "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"
UPGRADE = "Upgrade to GitHub Pro or make this repository public to enable this feature."
DISABLED = "Branch protection has been disabled on this repository"
PROTECTION_KEYS = (
    "required_status_checks",
    "enforce_admins",
    "required_pull_request_reviews",
    "restrictions",
)


def _check_plan(state: State, repo: Repo) -> None:
    if repo.private and state.account(repo.owner).plan == "free":
        raise error(403, UPGRADE, "https://docs.github.com/rest/branches/branch-protection")


def _check_enabled(repo: Repo) -> None:
    # Where classic protection is disabled for a repository, GitHub answers every
    # protection route, the GET included, with this 404 (public reports of the live API;
    # the description lists only "Branch not protected"): only rulesets can protect it.
    # https://docs.github.com/rest/branches/branch-protection#get-branch-protection
    if repo.protection_disabled:
        raise error(404, DISABLED, NOT_PROTECTED_DOC)


def _protected_repo(request: web.Request, *, write: bool = False) -> tuple[Repo, str]:
    repo = repo_from(request, write=write)
    _check_plan(state_of(request), repo)
    _check_enabled(repo)
    return repo, branch_from(request, repo)


def _stored(repo: Repo, branch: str) -> JSON:
    stored = repo.protections.get(branch)
    if stored is None:
        raise error(404, "Branch not protected", NOT_PROTECTED_DOC)
    return stored


# ---- branches ------------------------------------------------------------------------------


def _branch_json(state: State, repo: Repo, name: str) -> JSON:
    sha = repo.branches[name]
    protected = name in repo.protections or bool(state.rules_for_branch(repo, name))
    url = f"{state.base_url}/repos/{repo.full_name}/branches/{name}"
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{state.base_url}/repos/{repo.full_name}/commits/{sha}"},
        "protected": protected,
        "protection_url": f"{url}/protection",
    }


@routes.get("/repos/{owner}/{repo}/branches")
async def list_branches(request: web.Request) -> web.Response:
    """List a repository's branches."""
    state, repo = state_of(request), repo_from(request)
    page, headers = paginate(request, list(repo.branches))
    return respond([_branch_json(state, repo, b) for b in page], headers=headers)


# ---- classic protection --------------------------------------------------------------------


@routes.get(PROTECTION + "/enforce_admins")
async def get_enforce_admins(request: web.Request) -> web.Response:
    """Return whether admins are included."""
    repo, branch = _protected_repo(request)
    stored = _stored(repo, branch)
    url = state_of(request).protection_url(repo, branch) + "/enforce_admins"
    return respond({"url": url, "enabled": stored["enforce_admins"]})


@routes.post(PROTECTION + "/enforce_admins")
async def set_enforce_admins(request: web.Request) -> web.Response:
    """Include admins in the protection."""
    return await _toggle(request, "enforce_admins", True)


@routes.delete(PROTECTION + "/enforce_admins")
async def delete_enforce_admins(request: web.Request) -> web.Response:
    """Exclude admins from the protection."""
    return await _toggle(request, "enforce_admins", False)


@routes.get(PROTECTION + "/required_signatures")
async def get_signatures(request: web.Request) -> web.Response:
    """Return whether signed commits are required."""
    repo, branch = _protected_repo(request)
    stored = _stored(repo, branch)
    url = state_of(request).protection_url(repo, branch) + "/required_signatures"
    return respond({"url": url, "enabled": stored["required_signatures"]})


@routes.post(PROTECTION + "/required_signatures")
async def set_signatures(request: web.Request) -> web.Response:
    """Require signed commits."""
    return await _toggle(request, "required_signatures", True)


@routes.delete(PROTECTION + "/required_signatures")
async def delete_signatures(request: web.Request) -> web.Response:
    """Stop requiring signed commits."""
    return await _toggle(request, "required_signatures", False)


async def _toggle(request: web.Request, key: str, enabled: bool) -> web.Response:
    repo, branch = _protected_repo(request, write=True)
    _stored(repo, branch)[key] = enabled
    if not enabled:
        return respond(None, 204)
    url = state_of(request).protection_url(repo, branch) + f"/{key}"
    return respond({"url": url, "enabled": True})


@routes.get(PROTECTION + "/required_status_checks")
async def get_status_checks(request: web.Request) -> web.Response:
    """Return the required status checks."""
    repo, branch = _protected_repo(request)
    rendered = state_of(request).protection(repo.owner, repo.name, branch) or {}
    if "required_status_checks" not in rendered:
        raise error(404, "Required status checks not enabled")
    return respond(rendered["required_status_checks"])


@routes.patch(PROTECTION + "/required_status_checks")
async def update_status_checks(request: web.Request) -> web.Response:
    """Change the required checks alone; every other setting of the protection stays.

    https://docs.github.com/rest/branches/branch-protection#update-status-check-protection
    """
    repo, branch = _protected_repo(request, write=True)
    stored = _stored(repo, branch)
    if not stored["required_status_checks"]:
        raise error(404, "Required status checks not enabled")
    body = body_of(request)
    if "checks" in body and "contexts" in body:
        raise invalid('Invalid request.\n\nMore than one subschema in "oneOf" matched.')
    patch_status_checks(stored, body, reporters(repo))
    rendered = state_of(request).protection(repo.owner, repo.name, branch) or {}
    return respond(rendered["required_status_checks"])


@routes.patch(PROTECTION + "/required_pull_request_reviews")
async def update_reviews(request: web.Request) -> web.Response:
    """Change the review requirement alone; every other setting of the protection stays.

    https://docs.github.com/rest/branches/branch-protection#update-pull-request-review-protection
    The description lists only 200 and 422; where reviews are off, the sandbox answers
    404 "Pull request reviews not enabled" as GitHub's GET of this resource does
    (Bulwark calls it only where reviews are on).
    """
    repo, branch = _protected_repo(request, write=True)
    stored = _stored(repo, branch)
    if not stored["required_pull_request_reviews"]:
        raise error(404, "Pull request reviews not enabled")
    patch_reviews(stored, body_of(request))
    rendered = state_of(request).protection(repo.owner, repo.name, branch) or {}
    return respond(rendered["required_pull_request_reviews"])


@routes.get(PROTECTION)
async def get_protection(request: web.Request) -> web.Response:
    """Return a branch's classic protection, or 404 Branch not protected."""
    repo, branch = _protected_repo(request)  # 404 where classic protection is disabled
    _stored(repo, branch)
    return respond(state_of(request).protection(repo.owner, repo.name, branch))


@routes.put(PROTECTION)
async def put_protection(request: web.Request) -> web.Response:
    """Replace a branch's protection (required signatures are kept)."""
    state = state_of(request)
    repo, branch = _protected_repo(request, write=True)
    body = request.get(BODY)
    _check_protection_body(body)
    assert isinstance(body, dict)
    old = repo.protections.get(branch)
    repo.protections[branch] = normalize_protection(body, old, reporters(repo))
    return respond(state.protection(repo.owner, repo.name, branch))


def _check_protection_body(body: Any) -> None:
    if not isinstance(body, dict):
        raise invalid("Invalid request.\n\nFor 'links/0/schema', nil is not an object.")
    for key in PROTECTION_KEYS:
        if key not in body:
            raise invalid(f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    checks = body.get("required_status_checks")
    if checks is None:
        return
    has_contexts, has_checks = "contexts" in checks, "checks" in checks
    if has_contexts and has_checks:
        raise invalid('Invalid request.\n\nMore than one subschema in "oneOf" matched.')
    if not has_contexts and not has_checks:
        raise invalid('Invalid request.\n\nNo subschema in "oneOf" matched.')
    for entry in checks.get("checks") or []:
        app_id = entry.get("app_id") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("context"), str):
            raise invalid('Invalid request.\n\n"context" wasn\'t supplied.')
        if app_id is not None and (not isinstance(app_id, int) or isinstance(app_id, bool)):
            raise invalid(f"Invalid request.\n\n{app_id!r} is not an integer.")


@routes.delete(PROTECTION)
async def delete_protection(request: web.Request) -> web.Response:
    """Remove a branch's protection."""
    repo, branch = _protected_repo(request, write=True)
    _stored(repo, branch)
    del repo.protections[branch]
    return respond(None, 204)


@routes.get("/repos/{owner}/{repo}/branches/{branch:.+}")
async def get_branch(request: web.Request) -> web.Response:
    """Return a branch (protected is true for classic protection or matching rules)."""
    state, repo = state_of(request), repo_from(request)
    branch = branch_from(request, repo)
    return respond(_branch_json(state, repo, branch))


# ---- rules and rulesets ----------------------------------------------------------------------


@routes.get("/repos/{owner}/{repo}/rules/branches/{branch:.+}")
async def rules_for_branch(request: web.Request) -> web.Response:
    """List the rules of active rulesets that apply to a branch."""
    state, repo = state_of(request), repo_from(request)
    _check_plan(state, repo)
    rules = state.rules_for_branch(repo, request.match_info["branch"])
    page, headers = paginate(request, rules)
    return respond(page, headers=headers)


def _ruleset_json(
    state: State, ruleset: JSON, *, full: bool, app_id: int, show_bypass: bool = True
) -> JSON:
    base = f"{state.base_url}/repos/{ruleset['source']}/rulesets/{ruleset['id']}"
    if ruleset["source_type"] == "Organization":
        base = f"{state.base_url}/orgs/{ruleset['source']}/rulesets/{ruleset['id']}"
    out = {
        "id": ruleset["id"],
        "name": ruleset.get("name", f"ruleset-{ruleset['id']}"),
        "target": ruleset["target"],
        "source_type": ruleset["source_type"],
        "source": ruleset["source"],
        "enforcement": ruleset["enforcement"],
        "node_id": f"RRS_{ruleset['id']}",
        "_links": {"self": {"href": base}},
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
    }
    if full:
        bypass = [a for a in ruleset["bypass_actors"] if a.get("actor_type") == "Integration"
                  and a.get("actor_id") == app_id]  # fmt: skip
        out.update(
            current_user_can_bypass=bypass[0].get("bypass_mode", "always") if bypass else "never",
            conditions=ruleset["conditions"],
            rules=ruleset["rules"],
        )
        if show_bypass:  # GitHub: only to callers with write access to the ruleset
            out["bypass_actors"] = ruleset["bypass_actors"]
    return out


@routes.get("/repos/{owner}/{repo}/rulesets")
async def list_rulesets(request: web.Request) -> web.Response:
    """List a repository's rulesets (with its org's unless includes_parents=false)."""
    state, repo = state_of(request), repo_from(request)
    _check_plan(state, repo)
    found = state.rulesets(repo.owner, repo.name)
    if request.query.get("includes_parents", "true") == "false":
        found = [r for r in found if r["source_type"] == "Repository"]
    page, headers = paginate(request, found)
    items = [_ruleset_json(state, r, full=False, app_id=state.app_id) for r in page]
    return respond(items, headers=headers)


@routes.get("/repos/{owner}/{repo}/rulesets/{ruleset_id}")
async def get_ruleset(request: web.Request) -> web.Response:
    """Return one ruleset with bypass actors and conditions."""
    state, repo = state_of(request), repo_from(request)
    _check_plan(state, repo)
    try:
        ruleset = state.ruleset(repo, int(request.match_info["ruleset_id"]))
    except ValueError:
        ruleset = None
    if ruleset is None:
        raise not_found()
    shown = may_see_bypass(state, caller_of(request), ruleset)
    return respond(_ruleset_json(state, ruleset, full=True, app_id=state.app_id, show_bypass=shown))


@routes.post("/repos/{owner}/{repo}/rulesets")
async def create_ruleset(request: web.Request) -> web.Response:
    """Create a repository ruleset."""
    state, repo = state_of(request), repo_from(request, write=True)
    _check_plan(state, repo)
    ruleset_id = state.add_ruleset(repo.owner, repo.name, body_of(request))
    ruleset = repo.rulesets[ruleset_id]
    return respond(_ruleset_json(state, ruleset, full=True, app_id=state.app_id), 201)


@routes.put("/repos/{owner}/{repo}/rulesets/{ruleset_id}")
async def update_ruleset(request: web.Request) -> web.Response:
    """Update a repository ruleset: the fields given replace the stored ones."""
    state, repo = state_of(request), repo_from(request, write=True)
    _check_plan(state, repo)
    try:
        ruleset = repo.rulesets.get(int(request.match_info["ruleset_id"]))
    except ValueError:
        ruleset = None
    if ruleset is None:
        raise not_found()
    changes = body_of(request)
    for key in ("name", "target", "enforcement", "bypass_actors", "conditions", "rules"):
        if key in changes:
            ruleset[key] = copy.deepcopy(changes[key])
    return respond(_ruleset_json(state, ruleset, full=True, app_id=state.app_id))


@routes.get("/orgs/{org}/rulesets")
async def list_org_rulesets(request: web.Request) -> web.Response:
    """List an org's rulesets."""
    state, account = state_of(request), account_from(request)
    page, headers = paginate(request, list(account.rulesets.values()))
    items = [_ruleset_json(state, r, full=False, app_id=state.app_id) for r in page]
    return respond(items, headers=headers)


@routes.get("/orgs/{org}/rulesets/{ruleset_id}")
async def get_org_ruleset(request: web.Request) -> web.Response:
    """Return one org ruleset."""
    state, account = state_of(request), account_from(request)
    try:
        ruleset = account.rulesets.get(int(request.match_info["ruleset_id"]))
    except ValueError:
        ruleset = None
    if ruleset is None:
        raise not_found()
    shown = may_see_bypass(state, caller_of(request), ruleset)
    return respond(_ruleset_json(state, ruleset, full=True, app_id=state.app_id, show_bypass=shown))


# ---- contents, people, commits -----------------------------------------------------------------


@routes.get("/repos/{owner}/{repo}/contents/{path:.+}")
async def get_contents(request: web.Request) -> web.Response:
    """Return a file, base64-encoded, at `ref` (default branch by default)."""
    state, repo = state_of(request), repo_from(request)
    path = request.match_info["path"]
    text = state.file(repo, path, request.query.get("ref"))
    if text is None:
        raise error(
            404, "Not Found", "https://docs.github.com/rest/repos/contents#get-repository-content"
        )
    sha = git_blob_sha(text)
    url = f"{state.base_url}/repos/{repo.full_name}/contents/{path}"
    return respond(
        {
            "type": "file",
            "encoding": "base64",
            "size": len(text.encode()),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": b64(text),
            "sha": sha,
            "url": url,
            "git_url": f"{state.base_url}/repos/{repo.full_name}/git/blobs/{sha}",
            "html_url": f"https://github.com/{repo.full_name}/blob/{repo.default_branch}/{path}",
            "download_url": None,
            "_links": {"self": url, "git": None, "html": None},
        }
    )


@routes.get("/repos/{owner}/{repo}/collaborators/{username}/permission")
async def collaborator_permission(request: web.Request) -> web.Response:
    """Return a user's permission: legacy `permission` and `role_name` ("none" without access)."""
    state, repo = state_of(request), repo_from(request)
    login = request.match_info["username"]
    if login.lower() not in state.users:
        raise error(404, f"{login} is not a user")
    return respond(permission_json(state, repo, login))


def _commit_for(repo: Repo, ref: str) -> JSON:
    sha = repo.branches.get(ref, ref)
    commit = repo.commits.get(sha)
    if commit is None:
        raise error(422, f"No commit found for SHA: {ref}")
    return commit


@routes.get("/repos/{owner}/{repo}/commits")
async def list_commits(request: web.Request) -> web.Response:
    """List commits reachable from `sha` (a branch or commit; default branch by default)."""
    state, repo = state_of(request), repo_from(request)
    if repo.empty:
        raise error(409, "Git Repository is empty.")
    commit: JSON | None = _commit_for(repo, request.query.get("sha", repo.default_branch))
    chain: list[JSON] = []
    while commit is not None and len(chain) < 1000:
        chain.append(commit)
        parents = commit["parents"]
        commit = repo.commits.get(parents[0]) if parents else None
    page, headers = paginate(request, chain)
    return respond([commit_json(state, repo, c) for c in page], headers=headers)


@routes.get("/repos/{owner}/{repo}/commits/{ref}")
async def get_commit(request: web.Request) -> web.Response:
    """Return one commit."""
    state, repo = state_of(request), repo_from(request)
    return respond(commit_json(state, repo, _commit_for(repo, request.match_info["ref"])))


@routes.get("/repos/{owner}/{repo}/commits/{commit_sha}/pulls")
async def commit_pulls(request: web.Request) -> web.Response:
    """List pull requests whose head or merge commit is this commit, once GitHub links them."""
    state, repo = state_of(request), repo_from(request)
    sha = request.match_info["commit_sha"]
    if sha not in repo.commits and sha not in repo.branches:
        raise error(422, f"No commit found for SHA: {sha}")
    sha = repo.branches.get(sha, sha)
    now = state.clock.time()
    found = [
        p
        for p in repo.pulls.values()
        if sha in (p["head_sha"], p["merge_commit_sha"], *p.get("commits", ()))
        and (not p["merged"] or p.get("associated_at", 0.0) <= now)
    ]
    page, headers = paginate(request, found)
    return respond([pull_json(state, repo, p) for p in page], headers=headers)


@routes.post("/repos/{owner}/{repo}/commits/{commit_sha}/comments")
async def create_commit_comment(request: web.Request) -> web.Response:
    """Comment on a commit."""
    state, repo = state_of(request), repo_from(request, write=True)
    body = body_of(request)
    check_body_length(body.get("body"))
    sha = request.match_info["commit_sha"]
    if sha not in repo.commits:
        raise error(422, f"No commit found for SHA: {sha}")
    caller = caller_of(request)
    comment = {
        "id": state.new_id(),
        "commit_id": sha,
        "body": body.get("body", ""),
        "author": caller.login,
        "via_app": caller.kind == "installation",
        "created_at": state.now(),
    }
    repo.commit_comments.append(comment)
    return respond(_commit_comment_json(state, repo, comment), 201)


def _commit_comment_json(state: State, repo: Repo, comment: JSON) -> JSON:
    return {
        "id": comment["id"],
        "url": f"{state.base_url}/repos/{repo.full_name}/comments/{comment['id']}",
        "html_url": f"https://github.com/{repo.full_name}/commit/{comment['commit_id']}",
        "commit_id": comment["commit_id"],
        "body": comment["body"],
        "path": None,
        "position": None,
        "line": None,
        "created_at": comment["created_at"],
        "updated_at": comment["created_at"],
        **author_fields(state, comment["author"], comment["via_app"]),
    }


@routes.get("/repos/{owner}/{repo}/commits/{commit_sha}/comments")
async def list_comments_of_commit(request: web.Request) -> web.Response:
    """List the comments on one commit."""
    state, repo = state_of(request), repo_from(request)
    sha = request.match_info["commit_sha"]
    found = [c for c in repo.commit_comments if c["commit_id"] == sha]
    page, headers = paginate(request, found)
    return respond([_commit_comment_json(state, repo, c) for c in page], headers=headers)


@routes.get("/repos/{owner}/{repo}/comments")
async def list_commit_comments(request: web.Request) -> web.Response:
    """List a repository's commit comments."""
    state, repo = state_of(request), repo_from(request)
    page, headers = paginate(request, repo.commit_comments)
    return respond([_commit_comment_json(state, repo, c) for c in page], headers=headers)


@routes.get("/repos/{owner}/{repo}/collaborators")
async def list_collaborators(request: web.Request) -> web.Response:
    """List a repository's collaborators with their role."""
    state, repo = state_of(request), repo_from(request)
    people = [login for login, role in repo.collaborators.items() if role]
    page, headers = paginate(request, people)
    items = [{**user_json(state, p), "role_name": repo.collaborators[p]} for p in page]
    return respond(items, headers=headers)
