"""GraphQL nodes of the sandbox's history: Ref → Commit → history, pull requests, reviews, checks.

Shapes follow GitHub's schema (https://docs.github.com/graphql/reference/objects#commit,
#pullrequest, #statuscheckrollup); a field with arguments is a callable the executor calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox.history import WEB, associated_pulls, check_runs_on, history
from bot.sandbox.state import JSON, Repo, State

Pager = Callable[[list[Any], int | None, str | None], JSON]


def _actor(state: State, login: str | None) -> JSON | None:
    if not login:
        return None
    user = state.user(login)
    if user.type == "Bot":
        return {"__typename": "Bot", "login": login.removesuffix("[bot]")}
    return {"__typename": "User", "login": user.login, "url": f"{WEB}/{user.login}"}


def _last(
    page: Pager, items: list[Any], first: int | None, last: int | None, after: str | None
) -> JSON:
    if last is not None and first is None:
        found = page(items[-last:] if last else [], last, None)
        return {**found, "totalCount": len(items)}
    return page(items, first, after)


def _rollup(repo: Repo, sha: str) -> JSON | None:
    runs = check_runs_on(repo, sha)
    if not runs:
        return None
    nodes = [
        {
            "__typename": "CheckRun",
            "name": run["name"],
            "status": str(run["status"]).upper(),
            "conclusion": str(run["conclusion"]).upper() if run.get("conclusion") else None,
            "completedAt": run.get("completed_at"),
        }
        for run in runs
    ]
    conclusions = {n["conclusion"] for n in nodes}
    if conclusions & {"FAILURE", "TIMED_OUT", "CANCELLED", "STARTUP_FAILURE"}:
        rollup = "FAILURE"
    elif None in conclusions:
        rollup = "PENDING"
    else:
        rollup = "SUCCESS"
    return {"state": rollup, "contexts": nodes}


def commit_node(state: State, repo: Repo, sha: str, page: Pager) -> JSON:
    """Return a Commit node whose connections resolve only when asked for."""
    commit = repo.commits[sha]

    def walk(
        _: Any,
        since: str | None = None,
        until: str | None = None,
        first: int | None = None,
        after: str | None = None,
        **__: Any,
    ) -> JSON:
        found = history(repo, sha, since, until)
        result = page(found, first, after)
        result["nodes"] = [commit_node(state, repo, s, page) for s in result["nodes"]]
        for edge, node in zip(result["edges"], result["nodes"], strict=True):
            edge["node"] = node
        return result

    def pulls(_: Any, first: int | None = None, after: str | None = None, **__: Any) -> JSON:
        found = [pull_node(state, repo, p, page) for p in associated_pulls(repo, sha)]
        return page(found, first, after)

    def rollup(_: Any, **__: Any) -> JSON | None:
        found = _rollup(repo, sha)
        if found is None:
            return None
        contexts = found["contexts"]
        return {
            "state": found["state"],
            "contexts": lambda _, first=None, after=None, **__: page(contexts, first, after),
        }

    def parents(_: Any, first: int | None = None, after: str | None = None, **__: Any) -> JSON:
        return page([{"oid": p} for p in commit["parents"]], first, after)

    login = commit["author"]
    return {
        "__typename": "Commit",
        "id": f"C_{sha}",
        "oid": sha,
        "url": f"{WEB}/{repo.full_name}/commit/{sha}",
        "committedDate": commit["date"],
        "authoredDate": commit["date"],
        "messageHeadline": str(commit["message"]).split("\n", 1)[0],
        "author": {"name": login, "email": f"{login}@users.noreply.github.com",
                   "user": _actor(state, login)},
        "history": walk,
        "associatedPullRequests": pulls,
        "statusCheckRollup": rollup,
        "parents": parents,
    }  # fmt: skip


def pull_node(state: State, repo: Repo, pull: JSON, page: Pager) -> JSON:
    """Return a PullRequest node."""
    number = pull["number"]

    def reviews(
        _: Any, first: int | None = None, after: str | None = None, states: Any = None, **__: Any
    ) -> JSON:
        found = [
            {
                "__typename": "PullRequestReview",
                "state": r["state"],
                "author": _actor(state, r["user"]),
                "submittedAt": r["submitted_at"],
                "commit": {"oid": r["commit_id"]},
            }
            for r in repo.reviews.get(number, [])
            if not states or r["state"] in states
        ]
        return page(found, first, after)

    def commits(
        _: Any,
        first: int | None = None,
        last: int | None = None,
        after: str | None = None,
        **__: Any,
    ) -> JSON:
        shas = [*pull.get("commits", ()), pull["head_sha"]]
        found = [
            {"__typename": "PullRequestCommit", "commit": commit_node(state, repo, s, page)}
            for s in dict.fromkeys(shas)
            if s in repo.commits
        ]
        return _last(page, found, first, last, after)

    merge_sha = pull.get("merge_commit_sha")
    return {
        "__typename": "PullRequest",
        "id": f"PR_{pull['id']}",
        "number": number,
        "title": pull["title"],
        "url": f"{WEB}/{repo.full_name}/pull/{number}",
        "author": _actor(state, pull["author"]),
        "merged": bool(pull.get("merged")),
        "mergedAt": pull.get("merged_at") if pull.get("merged") else None,
        "mergedBy": _actor(state, pull.get("merged_by")) if pull.get("merged") else None,
        "baseRefName": pull["base"],
        "headRefName": pull["head_ref"],
        "headRefOid": pull["head_sha"],
        "mergeCommit": {"__typename": "Commit", "oid": merge_sha} if merge_sha else None,
        "reviews": reviews,
        "commits": commits,
    }


def ref_node(state: State, repo: Repo, qualified: str, page: Pager) -> JSON | None:
    """Return the Ref a qualified name (`refs/heads/main` or `main`) names, or None."""
    name = qualified.removeprefix("refs/heads/")
    sha = repo.branches.get(name)
    if sha is None:
        return None
    return {
        "__typename": "Ref",
        "name": name,
        "prefix": "refs/heads/",
        "target": commit_node(state, repo, sha, page),
    }


def repo_fields(state: State, repo: Repo, page: Pager) -> JSON:
    """Return the Repository fields history reading adds: direct `collaborators`."""

    def collaborators(
        _: Any, first: int | None = None, after: str | None = None, **__: Any
    ) -> JSON:
        people = sorted((login, role) for login, role in repo.collaborators.items() if role)
        found = page(people, first, after)
        found["edges"] = [
            {
                "cursor": edge["cursor"],
                "permission": role.upper(),
                "node": _actor(state, login),
            }
            for edge, (login, role) in zip(found["edges"], found["nodes"], strict=True)
        ]
        found["nodes"] = [edge["node"] for edge in found["edges"]]
        return found

    return {"collaborators": collaborators}
