"""What reports and what merges: code scanning default setup, languages, merging pull requests."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.routes_common import (
    body_of,
    caller_of,
    error,
    not_found,
    repo_from,
    respond,
    state_of,
)
from bot.sandbox.state import Repo

routes = web.RouteTableDef()
DEFAULT_SETUP = "/repos/{owner}/{repo}/code-scanning/default-setup"
SETUP_DOC = "https://docs.github.com/rest/code-scanning/code-scanning"
MERGE_DOC = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
# What GitHub answers for a private repository without GitHub Code Security, on every
# code scanning route (reported from the live API:
# https://github.com/trycompai/comp/pull/3457; the error is documented at
# https://docs.github.com/en/code-security/reference/code-scanning/troubleshoot-analysis-errors/advanced-security-must-be-enabled).
NO_CODE_SECURITY = "Code Security must be enabled for this repository to use code scanning."
NOT_ACCESSIBLE = "Resource not accessible by integration"
ADVANCED_SETUP = (
    "Code scanning default setup cannot be enabled while an advanced setup is configured "
    "for this repository."
)
SETUP_IN_PROGRESS = "A code scanning default setup configuration is already being applied."


def _scanning_repo(request: web.Request, *, write: bool) -> Repo:
    """Return the repository, refusing as GitHub does for code scanning routes.

    The App needs the administration permission (read to GET, write to PATCH): the
    default setup routes sit under it, not under security_events
    (https://github.com/trycompai/comp/pull/3457 reports `administration: read` reading it).
    """
    repo = repo_from(request, write=write)
    installation = caller_of(request).installation
    level = "write" if write else "read"
    if installation is not None and not installation.grants("administration", level):
        raise error(
            403, NOT_ACCESSIBLE, f"{SETUP_DOC}#get-a-code-scanning-default-setup-configuration"
        )
    if repo.private and not repo.code_security:
        raise error(403, NO_CODE_SECURITY, SETUP_DOC)
    return repo


@routes.get(DEFAULT_SETUP)
async def get_default_setup(request: web.Request) -> web.Response:
    """Return the repository's default setup configuration."""
    scanning = _scanning_repo(request, write=False).code_scanning
    configured = scanning.state == "configured"
    return respond(
        {
            "state": scanning.state,
            "languages": list(scanning.languages),
            "runner_type": "standard" if configured else None,
            "runner_label": None,
            "query_suite": "default",
            "threat_model": "remote",
            "updated_at": scanning.updated_at,
            "schedule": "weekly" if configured else None,
        }
    )


@routes.patch(DEFAULT_SETUP)
async def update_default_setup(request: web.Request) -> web.Response:
    """Turn default setup on or off: 202 with the setup run, 200 when nothing changes.

    422 when advanced setup already uploads CodeQL results ("not in the required state"),
    409 while a different configuration is still being applied, as the description says.
    A repository with no supported language is accepted: default setup then waits for one
    (https://github.blog/changelog/2024-02-05-code-scanning-can-now-be-enabled-on-repositories-before-they-contain-codeql-supported-languages/).
    """
    state, repo = state_of(request), _scanning_repo(request, write=True)
    scanning = repo.code_scanning
    wanted = str(body_of(request).get("state") or scanning.state)
    if wanted == scanning.state:
        return respond({})
    if wanted == "configured" and scanning.advanced:
        raise error(422, ADVANCED_SETUP, SETUP_DOC)
    if scanning.state == "configured" and not scanning.analysed and scanning.languages:
        raise error(409, SETUP_IN_PROGRESS, SETUP_DOC)
    state.configure_default_setup(repo, wanted)
    if scanning.run_id is None:
        return respond({})
    run_url = f"{state.base_url}/repos/{repo.full_name}/actions/runs/{scanning.run_id}"
    return respond({"run_id": scanning.run_id, "run_url": run_url}, 202)


@routes.get("/repos/{owner}/{repo}/languages")
async def list_languages(request: web.Request) -> web.Response:
    """List the repository's languages, bytes of code each, largest first."""
    repo = repo_from(request)
    ordered = sorted(repo.languages.items(), key=lambda item: (-item[1], item[0]))
    return respond(dict(ordered))


@routes.put("/repos/{owner}/{repo}/pulls/{pull_number}/merge")
async def merge_pull(request: web.Request) -> web.Response:
    """Merge a pull request if its base branch's required checks and reviews allow it (405)."""
    state, repo = state_of(request), repo_from(request, write=True)
    try:
        pull = repo.pulls.get(int(request.match_info["pull_number"]))
    except ValueError:
        pull = None
    if pull is None:
        raise not_found()
    if pull["state"] != "open":
        raise error(405, "Pull Request is not mergeable", MERGE_DOC)
    blockers = state.merge_blockers(repo, pull)
    if blockers:
        raise error(405, blockers[0], MERGE_DOC)
    sha = state.merge_pull(repo, pull)
    return respond({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})
