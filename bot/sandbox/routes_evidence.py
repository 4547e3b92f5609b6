"""REST routes `bulwark evidence` reads: org owners, disclosure and code scanning settings."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.routes_common import (
    account_from,
    caller_of,
    error,
    paginate,
    repo_from,
    respond,
    state_of,
)
from bot.sandbox.shapes import user_json
from bot.sandbox.state import JSON, Account, State

routes = web.RouteTableDef()
ADVANCED_SECURITY_PLANS = frozenset({"enterprise"})


@routes.get("/orgs/{org}/members")
async def org_members(request: web.Request) -> web.Response:
    """List an org's members, filtered by `role` (all, admin = owners, member).

    https://docs.github.com/rest/orgs/members#list-organization-members
    """
    state, account = state_of(request), account_from(request)
    role = request.query.get("role", "all")
    if role == "admin":
        people = sorted(account.owners)
    elif role == "member":
        people = sorted(account.members - account.owners)
    else:
        people = sorted(account.owners | account.members)
    page, headers = paginate(request, people)
    return respond([user_json(state, login) for login in page], headers=headers)


@routes.get("/repos/{owner}/{repo}/private-vulnerability-reporting")
async def private_vulnerability_reporting(request: web.Request) -> web.Response:
    """Tell whether private vulnerability reporting is on.

    https://docs.github.com/rest/repos/repos#check-if-private-vulnerability-reporting-is-enabled-for-a-repository
    """
    repo = repo_from(request)
    return respond({"enabled": repo.private_vulnerability_reporting})


@routes.get("/repos/{owner}/{repo}/code-scanning/default-setup")
async def code_scanning_default_setup(request: web.Request) -> web.Response:
    """Return the CodeQL default setup; 403 on a private repository without Advanced Security.

    https://docs.github.com/rest/code-scanning/code-scanning#get-a-code-scanning-default-setup-configuration
    (403: "Response if GitHub Advanced Security is not enabled for this repository").
    """
    state, repo = state_of(request), repo_from(request)
    if repo.private and state.account(repo.owner).plan not in ADVANCED_SECURITY_PLANS:
        raise error(
            403, "Advanced Security must be enabled for this repository to use code scanning."
        )
    configured = repo.code_scanning_default_setup == "configured"
    return respond(
        {
            "state": repo.code_scanning_default_setup,
            "languages": ["python"] if configured else [],
            "query_suite": "default",
            "updated_at": None,
            "schedule": "weekly" if configured else None,
        }
    )


def org_settings(state: State, request: web.Request, account: Account) -> JSON:
    """Return the org fields only owners see; null to anyone else.

    "To see the full details about an organization, the authenticated user must be
    an organization owner" (https://docs.github.com/rest/orgs/orgs#get-an-organization);
    a non-owner reads `two_factor_requirement_enabled: null`
    (https://github.com/orgs/community/discussions/38732). An App sees it with
    the organization Administration permission, which the sandbox grants.
    """
    caller = caller_of(request)
    owner = caller.kind == "installation" or caller.login.lower() in account.owners
    return {
        "two_factor_requirement_enabled": account.two_factor_requirement_enabled if owner else None
    }
