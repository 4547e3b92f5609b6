"""The only module that knows GitHub's REST paths: plain JSON in and out, domain errors."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from bot.core.graphql_protection import BEYOND_REST_FIELDS
from bot.github.client import GitHubClient, reading_post, retry_safe_post
from bot.github.errors import Invalid, NotFound, QueryFailed

Json = dict[str, Any]
_PER_PAGE = 100
_REPO = "/repos/{owner}/{repo}"
_PROTECTION = _REPO + "/branches/{branch}/protection"
_SIGNATURES = _PROTECTION + "/required_signatures"


_RULE_QUERY = f"""
query($owner: String!, $name: String!, $ref: String!) {{
  repository(owner: $owner, name: $name) {{
    ref(qualifiedName: $ref) {{ branchProtectionRule {{ {BEYOND_REST_FIELDS} }} }}
  }}
}}
"""


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
        url_vars["per_page"] = _PER_PAGE
        pages = self.client.getiter(_paged(url), url_vars, iterable_key=key)
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

    # The App's webhook: its configuration, its recent deliveries, redeliveries

    async def hook_config(self) -> Json | None:
        """Return the App's webhook configuration (the secret comes masked), or None."""
        return cast(Json | None, await self._maybe("/app/hook/config"))

    async def hook_deliveries(self, since: float, limit: int = 10_000) -> list[Json]:
        """List the App's deliveries since `since` (epoch seconds), newest first, by cursor."""
        found: list[Json] = []
        # GitHub pages deliveries by a `cursor` in the Link header; gidgethub follows it.
        pages = self.client.getiter("/app/hook/deliveries{?per_page}", {"per_page": 100})
        async for delivery in pages:
            if _delivered_at(delivery) < since or len(found) >= limit:
                break
            found.append(delivery)
        return found

    async def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to deliver a delivery again (same GUID)."""
        url = "/app/hook/deliveries/{delivery_id}/attempts"
        await self.client.post(url, {"delivery_id": delivery_id}, data=b"")


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

    async def enforce_admins(self, owner: str, repo: str, branch: str) -> None:
        """Include administrators in a branch's classic protection, changing nothing else."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "branch": branch}
        with retry_safe_post():  # enabling twice is the same as once
            await self.client.post(_PROTECTION + "/enforce_admins", url_vars, data=b"")

    async def update_required_reviews(self, owner: str, repo: str, branch: str, body: Json) -> Json:
        """Change a branch's required reviews alone."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "branch": branch}
        url = _PROTECTION + "/required_pull_request_reviews"
        return cast(Json, await self.client.patch(url, url_vars, data=body))

    async def update_required_checks(self, owner: str, repo: str, branch: str, body: Json) -> Json:
        """Change a branch's required status checks alone."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "branch": branch}
        url = _PROTECTION + "/required_status_checks"
        return cast(Json, await self.client.patch(url, url_vars, data=body))

    async def protection_rule(self, owner: str, repo: str, branch: str) -> Json | None:
        """Return what GraphQL's `BranchProtectionRule` adds to REST for a branch, or None."""
        data = await self.graphql(_RULE_QUERY, owner=owner, name=repo, ref=f"refs/heads/{branch}")
        ref = (data.get("repository") or {}).get("ref") or {}
        return cast(Json | None, ref.get("branchProtectionRule"))

    async def enable_required_signatures(self, owner: str, repo: str, branch: str) -> None:
        """Require signed commits on a protected branch."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "branch": branch}
        with retry_safe_post():  # enabling twice is the same as once
            await self.client.post(_SIGNATURES, url_vars, data=b"")

    async def rules_for_branch(self, owner: str, repo: str, branch: str) -> list[Json]:
        """List the active ruleset rules that apply to a branch (none where there is no API)."""
        url = _REPO + "/rules/branches/{branch}"
        return await self._rulesets_api(url, owner=owner, repo=repo, branch=branch)

    async def repo_rulesets(self, owner: str, repo: str) -> list[Json]:
        """List a repository's rulesets (its own and its org's; none where there is no API)."""
        return await self._rulesets_api(_REPO + "/rulesets", owner=owner, repo=repo)

    async def _rulesets_api(self, url: str, **url_vars: Any) -> list[Json]:
        # GitHub Enterprise Server before 3.11 has no rulesets API and answers 404: there,
        # nothing can be protected by a ruleset, so "no rulesets" is the truth.
        # https://docs.github.com/en/enterprise-server@3.11/rest/repos/rules
        try:
            return await self._all(url, **url_vars)
        except NotFound:
            return []

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

    # Code scanning

    async def default_setup(self, owner: str, repo: str) -> Json | None:
        """Return the repository's code scanning default setup, or None."""
        url = _REPO + "/code-scanning/default-setup"
        return cast(Json | None, await self._maybe(url, owner=owner, repo=repo))

    async def update_default_setup(self, owner: str, repo: str, state: str) -> Json:
        """Turn code scanning default setup on (`configured`) or off (`not-configured`)."""
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo}
        url = _REPO + "/code-scanning/default-setup"
        found = await self.client.patch(url, url_vars, data={"state": state})
        return cast(Json, found or {})

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

    async def recently_closed_pulls(self, owner: str, repo: str, base: str) -> list[Json]:
        """List the pull requests into `base` closed or updated last (one page, newest first)."""
        url = _REPO + "/pulls{?state,base,sort,direction,per_page}"
        url_vars: dict[str, Any] = {"owner": owner, "repo": repo, "base": base}
        url_vars |= {"state": "closed", "sort": "updated", "direction": "desc", "per_page": 30}
        return cast(list[Json], await self._get(url, **url_vars))

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
            if not _rate_limited(errors):
                data = answer.get("data")
                return GraphQLAnswer(data if isinstance(data, dict) else None, tuple(errors))
            if attempt >= self.client.retry.attempts:
                raise QueryFailed(errors)
            await self.client.wait_for_reset(self._reset_at())

    async def _graphql_once(self, query: str, payload: Json) -> Json:
        if query.lstrip().startswith("mutation"):
            return cast(Json, await self.client.post(self.graphql_url, data=payload))
        with reading_post():  # a query changes nothing
            return cast(Json, await self.client.post(self.graphql_url, data=payload))

    def _reset_at(self) -> float:
        limit = self.client.limit_for("graphql")
        return limit.reset_datetime.timestamp() if limit is not None else 0.0

    async def rate_limit(self) -> Json:
        """Return the installation's rate-limit status (REST and GraphQL budgets)."""
        return cast(Json, await self._get("/rate_limit"))

    # Evidence: history and settings, read only

    async def org(self, org: str) -> Json | None:
        """Return an organization (owners-only fields are null to anyone else), or None."""
        return cast(Json | None, await self._maybe("/orgs/{org}", org=org))

    async def org_owners(self, org: str) -> list[Json]:
        """List the org's owners (members with the admin role)."""
        return await self._all("/orgs/{org}/members{?role}", org=org, role="admin")

    async def private_vulnerability_reporting(self, owner: str, repo: str) -> bool:
        """Tell whether private vulnerability reporting is on for a repository."""
        url = _REPO + "/private-vulnerability-reporting"
        found = await self._get(url, owner=owner, repo=repo)
        return bool(found.get("enabled"))


def _paged(url: str) -> str:
    """Ask for 100 items a page, whatever query the URL (template) already has."""
    if "{?" in url:  # a URI template query: `{?a}` expands to nothing when `a` is unset
        return url.replace("{?", "{?per_page,", 1)
    return url + ("{&per_page}" if "?" in url else "{?per_page}")


def _delivered_at(delivery: Json) -> float:
    raw = str(delivery.get("delivered_at") or "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class ManifestGateway(_Base):
    """The one call of GitHub's manifest flow: made with no credentials at all."""

    async def convert(self, code: str) -> Json:
        """Exchange a manifest flow's code for the new App's id, key and webhook secret."""
        url = "/app-manifests/{code}/conversions"
        return cast(Json, await self.client.post(url, {"code": code}, data=b""))


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


__all__ = ["AppGateway", "Gateway", "GraphQLAnswer", "Json", "ManifestGateway", "NotFound"]
