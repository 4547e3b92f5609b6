"""What every sandbox route shares: errors, the caller, scoping, pagination."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from yarl import URL

from bot.sandbox.context import context_of
from bot.sandbox.state import JSON, Account, Installation, Repo, State, Token

BODY = web.RequestKey("sandbox_body", object)
BAD_JSON = web.RequestKey("sandbox_bad_json", bool)
COST = web.RequestKey("sandbox_cost", int)
DOCS = "https://docs.github.com/rest"
MAX_BODY = 65536


class ApiError(Exception):
    """An answer GitHub gives instead of the resource."""

    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def error(status: int, message: str, doc: str = DOCS, **extra: Any) -> ApiError:
    """Build GitHub's error body: message, documentation_url, status."""
    return ApiError(
        status, {"message": message, "documentation_url": doc, "status": str(status), **extra}
    )


def not_found(doc: str = DOCS) -> ApiError:
    """Return GitHub's plain 404."""
    return error(404, "Not Found", doc)


def invalid(message: str, errors: list[JSON] | None = None) -> ApiError:
    """Return a 422 Validation Failed-style error."""
    extra: JSON = {"errors": errors} if errors is not None else {}
    return error(422, message, **extra)


@dataclass(frozen=True)
class Caller:
    """Who is asking: the App (JWT), an installation token, or a personal token."""

    kind: str
    rate_key: str
    login: str = ""
    installation: Installation | None = None
    token: Token | None = None

    @property
    def installation_id(self) -> int | None:
        """Return the installation behind the caller, if any."""
        return self.installation.id if self.installation else None


CALLER = web.RequestKey("sandbox_caller", Caller)


def state_of(request: web.Request) -> State:
    """Return the sandbox state serving a request."""
    return context_of(request).state


def caller_of(request: web.Request) -> Caller:
    """Return the authenticated caller."""
    found = request.get(CALLER)
    assert isinstance(found, Caller)
    return found


def body_of(request: web.Request) -> JSON:
    """Return the parsed JSON body (an empty dict when there is none)."""
    body = request.get(BODY)
    return body if isinstance(body, dict) else {}


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Answer with JSON as GitHub does."""
    if status == 204:
        return web.Response(status=204, headers=headers)
    return web.Response(
        status=status,
        body=json.dumps(data, separators=(",", ":")).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def account_from(request: web.Request, key: str = "org") -> Account:
    """Return the account named in the path, if the caller may see it."""
    state = state_of(request)
    account = state.accounts.get(request.match_info[key].lower())
    if account is None or not can_see_account(state, caller_of(request), account):
        raise not_found()
    return account


def can_see_account(state: State, caller: Caller, account: Account) -> bool:
    """Return whether a caller may read an account's resources."""
    if caller.kind == "installation":
        assert caller.installation
        return caller.installation.account.lower() == account.login.lower()
    if caller.kind == "pat":
        login = caller.login.lower()
        return login in account.owners or login in account.members
    return False


def repo_from(request: web.Request, *, write: bool = False) -> Repo:
    """Return the repository named in the path, scoped to the caller; 403 on archived writes."""
    state = state_of(request)
    repo = state.find_repo(request.match_info["owner"], request.match_info["repo"])
    caller = caller_of(request)
    if repo is None or not can_see_repo(state, caller, repo):
        raise not_found()
    if write and repo.archived:
        raise error(403, "Repository was archived so is read-only.")
    return repo


def can_see_repo(state: State, caller: Caller, repo: Repo) -> bool:
    """Return whether a caller may reach a repository."""
    if caller.kind == "installation":
        assert caller.installation
        return state.can_reach(caller.installation, repo, caller.token)
    if caller.kind == "pat":
        account = state.account(repo.owner)
        return can_see_account(state, caller, account) or bool(
            repo.collaborators.get(caller.login.lower())
        )
    return False


def branch_from(request: web.Request, repo: Repo) -> str:
    """Return the branch named in the path, or 404 "Branch not found"."""
    branch = request.match_info["branch"]
    if branch not in repo.branches:
        raise error(404, "Branch not found")
    return branch


def check_body_length(text: str | None) -> None:
    """Refuse issue and comment bodies over GitHub's limit."""
    if text is not None and len(text) > MAX_BODY:
        raise invalid(
            "Validation Failed",
            [
                {
                    "resource": "Issue",
                    "code": "custom",
                    "field": "body",
                    "message": "Body is too long",
                }
            ],
        )


def int_query(request: web.Request, name: str, default: int) -> int:
    """Return an integer query parameter or a default."""
    try:
        return int(request.query.get(name, default))
    except ValueError:
        return default


def paginate(request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """Slice a list by `per_page`/`page` and build GitHub's Link header."""
    per_page = min(max(int_query(request, "per_page", 30), 1), 100)
    page = max(int_query(request, "page", 1), 1)
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    base = URL(state_of(request).base_url).join(request.rel_url)
    links = []
    if page < last:
        links += [_link(base, page + 1, "next"), _link(base, last, "last")]
    if page > 1:
        links += [_link(base, page - 1, "prev"), _link(base, 1, "first")]
    return chunk, ({"Link": ", ".join(links)} if links else {})


def _link(url: URL, page: int, rel: str) -> str:
    return f'<{url.update_query(page=str(page))}>; rel="{rel}"'


def may_see_bypass(state: State, caller: Caller, ruleset: JSON) -> bool:
    """Whether GitHub would show this caller the ruleset's bypass actors (write access).

    The App asks for administration: write on repositories but only
    organization_administration: read, so it may write repository rulesets, not org ones.
    """
    if ruleset["source_type"] == "Repository":
        return True
    owners = state.account(ruleset["source"]).owners
    return caller.kind != "installation" and caller.login.lower() in owners
