"""App and installation endpoints: JWT-authenticated routes and installation tokens."""

from __future__ import annotations

from aiohttp import web

from bot.clock import isoformat
from bot.sandbox.context import context_of
from bot.sandbox.routes_common import (
    COST,
    account_from,
    body_of,
    caller_of,
    error,
    not_found,
    paginate,
    repo_from,
    respond,
    state_of,
)
from bot.sandbox.routes_evidence import org_settings
from bot.sandbox.shapes import (
    app_json,
    granted_permissions,
    installation_json,
    org_json,
    repo_json,
    user_json,
)
from bot.sandbox.state import Installation

routes = web.RouteTableDef()


@routes.get("/app")
async def get_app(request: web.Request) -> web.Response:
    """Return the authenticated App."""
    return respond(app_json(state_of(request)))


@routes.get("/app/installations")
async def list_installations(request: web.Request) -> web.Response:
    """List the App's installations."""
    state = state_of(request)
    items = [installation_json(state, i) for i in state.installations.values()]
    page, headers = paginate(request, items)
    return respond(page, headers=headers)


def _installation(request: web.Request) -> Installation:
    state = state_of(request)
    try:
        inst = state.installations.get(int(request.match_info["installation_id"]))
    except ValueError:
        inst = None
    if inst is None:
        raise not_found()
    return inst


@routes.get("/app/installations/{installation_id}")
async def get_installation(request: web.Request) -> web.Response:
    """Return one installation."""
    return respond(installation_json(state_of(request), _installation(request)))


@routes.post("/app/installations/{installation_id}/access_tokens")
async def create_token(request: web.Request) -> web.Response:
    """Mint an installation access token (optionally narrowed to some repositories)."""
    state = state_of(request)
    inst = _installation(request)
    if inst.suspended:
        raise error(403, "This installation has been suspended")
    wanted = body_of(request).get("repositories")
    ids: set[int] | None = None
    if wanted:
        repos = [state.find_repo(inst.account, name) for name in wanted]
        if any(r is None or not state.can_reach(inst, r) for r in repos):
            raise error(422, "There is at least one repository that does not exist or is not "
                        "accessible to the parent installation.")  # fmt: skip
        ids = {r.id for r in repos if r is not None}
    token = state.create_token(inst.id, ids)
    return respond(
        {
            "token": token.token,
            "expires_at": isoformat(token.expires_at),
            "permissions": dict(granted_permissions(state, inst)),
            "repository_selection": "all" if ids is None else "selected",
        },
        201,
    )


@routes.get("/orgs/{org}/installation")
async def org_installation(request: web.Request) -> web.Response:
    """Return the App's installation on an org."""
    state = state_of(request)
    inst = state.installation_for(request.match_info["org"])
    if inst is None:
        raise not_found()
    return respond(installation_json(state, inst))


@routes.get("/repos/{owner}/{repo}/installation")
async def repo_installation(request: web.Request) -> web.Response:
    """Return the App's installation that reaches a repository."""
    state = state_of(request)
    repo = state.find_repo(request.match_info["owner"], request.match_info["repo"])
    inst = state.installation_for(request.match_info["owner"])
    if repo is None or inst is None or not state.can_reach(inst, repo):
        raise not_found()
    return respond(installation_json(state, inst))


@routes.get("/installation/repositories")
async def installation_repositories(request: web.Request) -> web.Response:
    """List the repositories the installation token can reach."""
    state = state_of(request)
    caller = caller_of(request)
    if caller.installation is None:
        raise error(403, "This endpoint requires you to be authenticated as an installation.")
    repos = [
        r for r in state.installation_repos(caller.installation)
        if state.can_reach(caller.installation, r, caller.token)
    ]  # fmt: skip
    page, headers = paginate(request, repos)
    body = {
        "total_count": len(repos),
        "repository_selection": "all" if caller.installation.repository_ids is None else "selected",
        "repositories": [repo_json(state, r, "admin") for r in page],
    }
    return respond(body, headers=headers)


@routes.get("/rate_limit")
async def rate_limit(request: web.Request) -> web.Response:
    """Return the caller's rate limits (this request is free)."""
    limits = context_of(request).rate_limits
    key = caller_of(request).rate_key
    request[COST] = 0
    resources = {}
    for resource in ("core", "graphql"):
        used, remaining, reset = limits.status(resource, key)
        limit = limits.limit(resource, key)
        resources[resource] = {"limit": limit, "used": used, "remaining": remaining, "reset": reset}
    return respond({"resources": resources, "rate": resources["core"]})


@routes.get("/users/{username}")
async def get_user(request: web.Request) -> web.Response:
    """Return a user."""
    state = state_of(request)
    login = request.match_info["username"]
    if login.lower() not in state.users:
        raise not_found()
    return respond(user_json(state, login))


@routes.get("/orgs/{org}")
async def get_org(request: web.Request) -> web.Response:
    """Return an organization."""
    state = state_of(request)
    account = account_from(request)
    settings = org_settings(state, request, account)
    return respond({**org_json(state, account), "plan": {"name": account.plan}, **settings})


@routes.get("/orgs/{org}/memberships/{username}")
async def org_membership(request: web.Request) -> web.Response:
    """Return a user's org membership: admin for owners, member for members, else 404."""
    state = state_of(request)
    account = account_from(request)
    login = request.match_info["username"].lower()
    if login in account.owners:
        role = "admin"
    elif login in account.members:
        role = "member"
    else:
        raise not_found()
    return respond(
        {
            "url": f"{state.base_url}/orgs/{account.login}/memberships/{login}",
            "state": "active",
            "role": role,
            "organization_url": f"{state.base_url}/orgs/{account.login}",
            "organization": org_json(state, account),
            "user": user_json(state, login),
        }
    )


@routes.get("/orgs/{org}/repos")
async def org_repos(request: web.Request) -> web.Response:
    """List an org's repositories visible to the caller."""
    state = state_of(request)
    account = account_from(request)
    caller = caller_of(request)
    repos = list(account.repos.values())
    if caller.installation is not None:
        inst, token = caller.installation, caller.token
        repos = [r for r in repos if state.can_reach(inst, r, token)]
    page, headers = paginate(request, repos)
    return respond([repo_json(state, r, "admin") for r in page], headers=headers)


@routes.get("/repos/{owner}/{repo}")
async def get_repo(request: web.Request) -> web.Response:
    """Return a repository."""
    state = state_of(request)
    repo = repo_from(request)
    data = repo_json(state, repo, "admin")
    data["organization"] = repo_json(state, repo)["owner"]
    return respond(data)
