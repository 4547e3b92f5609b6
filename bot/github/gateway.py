"""The only module that knows GitHub's REST paths: plain JSON in and out, domain errors."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from bot.github.client import GitHubClient, reading_post, retry_safe_post
from bot.github.errors import Invalid, NotFound, QueryFailed

Json = dict[str, Any]
_PAGE = "per_page=100"
_REPO = "/repos/{owner}/{repo}"
_PROTECTION = _REPO + "/branches/{branch}/protection"
_SIGNATURES = _PROTECTION + "/required_signatures"


@dataclass(frozen=True)
class GraphQLAnswer:
    """A GraphQL answer as it came: data (partial, or None) and GitHub's errors."""

    data: Json | None
    errors: tuple[Json, ...] = ()


class _Base:
    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    async def _get(self, url: str, **url_vars: Any) -> Any:
        return await self.client.getitem(url, url_vars)

    async def _maybe(self, url: str, **url_vars: Any) -> Any | None:
        try:
            return await self.client.getitem(url, url_vars)
        except NotFound:
            return None

    async def _all(self, url: str, *, key: str = "items", **url_vars: Any) -> list[Json]:
        sep = "&" if "?" in url else "?"
        pages = self.client.getiter(url + sep + _PAGE, url_vars, iterable_key=key)
        return [item async for item in pages]


class AppGateway(_Base):
    """Calls made as the App itself (JWT)."""

    async def app(self) -> Json:
        """Return the App itself (its slug names its bot user: `slug[bot]`)."""
        return cast(Json, await self._get("/app"))

    async def list_installations(self) -> list[Json]:
        """List every installation of the App."""
        return await self._all("/app/installations")

    async def org_installation(self, org: str) -> Json | None:
        """Return the App's installation on an org, or None."""
        return cast(Json | None, await self._maybe("/orgs/{org}/installation", org=org))

    async def installation(self, installation_id: int) -> Json | None:
        """Return one installation, or None."""
        url = "/app/installations/{installation_id}"
        return cast(Json | None, await self._maybe(url, installation_id=installation_id))

    async def installation_token(self, installation_id: int) -> tuple[str, float]:
        """Create an installation token; return it with its expiry (epoch seconds)."""
        url = "/app/installations/{installation_id}/access_tokens"
        with reading_post():  # creates nothing GitHub paces; a second token is harmless
            data = await self.client.post(url, {"installation_id": installation_id}, data={})
        expires_at = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
        return str(data["token"]), expires_at.timestamp()


class Gateway(_Base):
    """Calls made for one installation (or one token)."""

    def __init__(self, client: GitHubClient, graphql_url: str) -> None:
        super().__init__(client)
        self.graphql_url = graphql_url

    # Repositories and branches

    async def installation_repositories(self) -> list[Json]:
        """List every repository the installation can see."""
        return await self._all("/installation/repositories", key="repositories")

    async def repo(self, owner: str, repo: str) -> Json | None:
        """Return a repository, or None."""
        return cast(Json | None, await self._maybe(_REPO, owner=owner, repo=repo))

    async def branches(self, owner: str, repo: str) -> list[Json]:
        """List every branch of a repository."""
        return await self._all(_REPO + "/branches", owner=owner, repo=repo)

    # Protection

    async def branch_protection(self, owner: str, repo: str, branch: str) -> Json | None:
        """Return a branch's classic protection, or None when it has none."""
        found = await self._maybe(_PROTECTION, owner=owner, repo=repo, branch=branch)
        return cast(Json | None, found)

    async def put_branch_protection(self, owner: str, repo: str, branch: str, body: Json) -> Json:
        """Replace a branch's classic protection."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "branch": branch}
        return cast(Json, await self.client.put(_PROTECTION, url_vars, data=body))

    async def enable_required_signatures(self, owner: str, repo: str, branch: str) -> None:
        """Require signed commits on a protected branch."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "branch": branch}
        with retry_safe_post():  # enabling twice is the same as once
            await self.client.post(_SIGNATURES, url_vars, data=b"")

    async def rules_for_branch(self, owner: str, repo: str, branch: str) -> list[Json]:
        """List the active ruleset rules that apply to a branch."""
        url = _REPO + "/rules/branches/{branch}"
        return await self._all(url, owner=owner, repo=repo, branch=branch)

    async def repo_rulesets(self, owner: str, repo: str) -> list[Json]:
        """List a repository's rulesets (its own and its org's)."""
        return await self._all(_REPO + "/rulesets", owner=owner, repo=repo)

    async def repo_ruleset(self, owner: str, repo: str, ruleset_id: int) -> Json | None:
        """Return one repository ruleset, or None."""
        url = _REPO + "/rulesets/{ruleset_id}"
        found = await self._maybe(url, owner=owner, repo=repo, ruleset_id=ruleset_id)
        return cast(Json | None, found)

    async def org_ruleset(self, org: str, ruleset_id: int) -> Json | None:
        """Return one org ruleset, or None."""
        url = "/orgs/{org}/rulesets/{ruleset_id}"
        return cast(Json | None, await self._maybe(url, org=org, ruleset_id=ruleset_id))

    async def create_repo_ruleset(self, owner: str, repo: str, body: Json) -> Json:
        """Create a repository ruleset."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo}
        return cast(Json, await self.client.post(_REPO + "/rulesets", url_vars, data=body))

    async def update_repo_ruleset(self, owner: str, repo: str, ruleset_id: int, body: Json) -> Json:
        """Replace a repository ruleset."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "ruleset_id": ruleset_id}
        url = _REPO + "/rulesets/{ruleset_id}"
        return cast(Json, await self.client.put(url, url_vars, data=body))

    # Contents and commits

    async def file_text(
        self, owner: str, repo: str, path: str, ref: str | None = None
    ) -> str | None:
        """Return a file's text at `ref` (the default branch when None), or None."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "path": path.lstrip("/")}
        if ref is not None:
            url_vars["ref"] = ref
        found = await self._maybe(_REPO + "/contents/{+path}{?ref}", **url_vars)
        return _decode_file(found)

    async def commit_pulls(self, owner: str, repo: str, sha: str) -> list[Json]:
        """List the pull requests associated with a commit."""
        url = _REPO + "/commits/{commit_sha}/pulls"
        return await self._all(url, owner=owner, repo=repo, commit_sha=sha)

    async def commit_comments(self, owner: str, repo: str, sha: str) -> list[Json]:
        """List the comments on a commit."""
        url = _REPO + "/commits/{commit_sha}/comments"
        return await self._all(url, owner=owner, repo=repo, commit_sha=sha)

    async def create_commit_comment(self, owner: str, repo: str, sha: str, body: str) -> Json:
        """Comment on a commit."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "commit_sha": sha}
        url = _REPO + "/commits/{commit_sha}/comments"
        return cast(Json, await self.client.post(url, url_vars, data={"body": body}))

    # Pull requests and check runs

    async def pull(self, owner: str, repo: str, number: int) -> Json | None:
        """Return a pull request, or None."""
        url = _REPO + "/pulls/{pull_number}"
        found = await self._maybe(url, owner=owner, repo=repo, pull_number=number)
        return cast(Json | None, found)

    async def pull_reviews(self, owner: str, repo: str, number: int) -> list[Json]:
        """List every review of a pull request."""
        url = _REPO + "/pulls/{pull_number}/reviews"
        return await self._all(url, owner=owner, repo=repo, pull_number=number)

    async def check_runs_for_ref(
        self, owner: str, repo: str, ref: str, name: str | None = None
    ) -> list[Json]:
        """List the check runs on a ref, optionally only those with this name."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "ref": ref}
        if name is not None:
            url_vars["check_name"] = name
        url = _REPO + "/commits/{ref}/check-runs{?check_name}"
        return await self._all(url, key="check_runs", **url_vars)

    async def create_check_run(self, owner: str, repo: str, body: Json) -> Json:
        """Create a check run."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo}
        return cast(Json, await self.client.post(_REPO + "/check-runs", url_vars, data=body))

    async def update_check_run(self, owner: str, repo: str, check_run_id: int, body: Json) -> Json:
        """Update a check run."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "check_run_id": check_run_id}
        url = _REPO + "/check-runs/{check_run_id}"
        return cast(Json, await self.client.patch(url, url_vars, data=body))

    # Issues and comments

    async def issue_comments(self, owner: str, repo: str, number: int) -> list[Json]:
        """List every comment on an issue or pull request."""
        url = _REPO + "/issues/{issue_number}/comments"
        return await self._all(url, owner=owner, repo=repo, issue_number=number)

    async def create_issue_comment(self, owner: str, repo: str, number: int, body: str) -> Json:
        """Comment on an issue or pull request."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "issue_number": number}
        url = _REPO + "/issues/{issue_number}/comments"
        return cast(Json, await self.client.post(url, url_vars, data={"body": body}))

    async def update_issue_comment(self, owner: str, repo: str, comment_id: int, body: str) -> Json:
        """Edit a comment on an issue or pull request."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "comment_id": comment_id}
        url = _REPO + "/issues/comments/{comment_id}"
        return cast(Json, await self.client.patch(url, url_vars, data={"body": body}))

    async def add_reaction(
        self, owner: str, repo: str, comment_id: int, content: str = "eyes"
    ) -> None:
        """React to an issue comment."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "comment_id": comment_id}
        url = _REPO + "/issues/comments/{comment_id}/reactions"
        with retry_safe_post():  # GitHub answers the same reaction twice with the existing one
            await self.client.post(url, url_vars, data={"content": content})

    async def issues(
        self,
        owner: str,
        repo: str,
        *,
        labels: list[str],
        state: str = "all",
        creator: str | None = None,
    ) -> list[Json]:
        """List a repository's issues (not pull requests) with all these labels."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "state": state}
        url_vars["labels"] = ",".join(labels)
        if creator is not None:
            url_vars["creator"] = creator
        url = _REPO + "/issues{?labels,state,creator}"
        found = await self._all(url, **url_vars)
        return [issue for issue in found if "pull_request" not in issue]

    async def create_issue(
        self, owner: str, repo: str, title: str, body: str, labels: list[str]
    ) -> Json:
        """Open an issue."""
        data = {"title": title, "body": body, "labels": labels}
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo}
        return cast(Json, await self.client.post(_REPO + "/issues", url_vars, data=data))

    async def update_issue(self, owner: str, repo: str, number: int, **fields: Any) -> Json:
        """Edit an issue (title, body, state, labels, …)."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "issue_number": number}
        url = _REPO + "/issues/{issue_number}"
        return cast(Json, await self.client.patch(url, url_vars, data=fields))

    async def label(self, owner: str, repo: str, name: str) -> Json | None:
        """Return a label, or None."""
        url = _REPO + "/labels/{name}"
        return cast(Json | None, await self._maybe(url, owner=owner, repo=repo, name=name))

    async def create_label(
        self, owner: str, repo: str, name: str, color: str, description: str
    ) -> Json:
        """Create a label, or return the one that already exists."""
        data = {"name": name, "color": color, "description": description}
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo}
        try:
            return cast(Json, await self.client.post(_REPO + "/labels", url_vars, data=data))
        except Invalid as exc:
            existing = (
                await self.label(owner, repo, name) if exc.has_code("already_exists") else None
            )
            if existing is None:
                raise
            return existing

    # People

    async def permission(self, owner: str, repo: str, username: str) -> str | None:
        """Return a user's role on a repository (admin, maintain, write, …), or None."""
        url = _REPO + "/collaborators/{username}/permission"
        found = await self._maybe(url, owner=owner, repo=repo, username=username)
        return str(found["role_name"]) if found and found.get("role_name") else None

    async def org_membership(self, org: str, username: str) -> Json | None:
        """Return a user's org membership, or None."""
        url = "/orgs/{org}/memberships/{username}"
        return cast(Json | None, await self._maybe(url, org=org, username=username))

    # GraphQL

    async def graphql(self, query: str, **variables: Any) -> Json:
        """Run a GraphQL query; any error raises QueryFailed (see `graphql_answer`)."""
        answer = await self.graphql_answer(query, **variables)
        if answer.errors:
            raise QueryFailed(list(answer.errors))
        return answer.data or {}

    async def graphql_answer(self, query: str, **variables: Any) -> GraphQLAnswer:
        """Run a GraphQL query and keep what came back, partial data and errors alike.

        A primary-limit breach is waited out like REST's; every other error is the
        caller's to judge (GitHub answers the fields it could and nulls the others).
        https://docs.github.com/en/graphql/guides/forming-calls-with-graphql#communicating-with-graphql
        """
        payload = {"query": query, "variables": variables}
        attempt = 0
        while True:
            attempt += 1
            answer = await self._graphql_once(query, payload)
            errors = [
                e if isinstance(e, dict) else {"message": str(e)}
                for e in answer.get("errors") or []
            ]
            data = answer.get("data")
            found = GraphQLAnswer(data if isinstance(data, dict) else None, tuple(errors))
            if not _rate_limited(errors) or attempt >= self.client.retry.attempts:
                if _rate_limited(errors):
                    raise QueryFailed(errors)
                return found
            await self.client.wait_for_reset(self._reset_at())

    async def _graphql_once(self, query: str, payload: Json) -> Json:
        if query.lstrip().startswith("mutation"):
            return cast(Json, await self.client.post(self.graphql_url, data=payload))
        with reading_post():  # a query changes nothing
            return cast(Json, await self.client.post(self.graphql_url, data=payload))

    def _reset_at(self) -> float:
        limit = self.client.rate_limit
        return limit.reset_datetime.timestamp() if limit is not None else 0.0


def _rate_limited(errors: list[Any]) -> bool:
    return any(isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors)


def _decode_file(found: Any) -> str | None:
    if not isinstance(found, dict) or found.get("type", "file") != "file":
        return None
    if found.get("encoding") != "base64":
        return None
    try:
        return base64.b64decode(str(found.get("content", ""))).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


__all__ = ["AppGateway", "Gateway", "GraphQLAnswer", "Json", "NotFound"]
