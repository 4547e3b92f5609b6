"""REST routes `bulwark evidence` reads: org owners, disclosure and code scanning settings."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.routes_common import (
    account_from,
    caller_of,
    paginate,
    repo_from,
    respond,
    state_of,
)
from bot.sandbox.shapes import user_json
from bot.sandbox.state import JSON, Account, State

routes = web.RouteTableDef()


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
