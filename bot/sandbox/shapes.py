"""Render sandbox state in GitHub's response shapes (shared by REST routes and webhooks)."""

from __future__ import annotations

import base64

from bot.clock import isoformat
from bot.sandbox.state import (
    JSON,
    LEGACY_PERMISSION,
    UNLISTED_APP_PERMISSIONS,
    Account,
    Installation,
    Repo,
    State,
)

WEB = "https://github.com"


def node_id(kind: str, ident: int) -> str:
    """Return a GitHub-like global node id."""
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode().rstrip("=")


def user_json(state: State, login: str) -> JSON:
    """Render a user (simple-user)."""
    user = state.user(login)
    api = f"{state.base_url}/users/{user.login}"
    return {
        "login": user.login,
        "id": user.id,
        "node_id": node_id("User", user.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{WEB}/{user.login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": user.type,
        "site_admin": False,
    }


def account_user_json(state: State, account: Account) -> JSON:
    """Render an account as the `owner` of a repository."""
    out = user_json(state, account.login)
    out.update(id=account.id, type=account.type, node_id=node_id("Organization", account.id))
    return out


def org_json(state: State, account: Account) -> JSON:
    """Render an organization (organization-simple)."""
    api = f"{state.base_url}/orgs/{account.login}"
    return {
        "login": account.login,
        "id": account.id,
        "node_id": node_id("Organization", account.id),
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{account.id}?v=4",
        "description": None,
    }


def repo_json(state: State, repo: Repo, role: str | None = None) -> JSON:
    """Render a repository with every field REST and webhook payloads carry."""
    api = f"{state.base_url}/repos/{repo.full_name}"
    created = isoformat(repo.created_at)
    open_issues = sum(1 for i in repo.issues.values() if i["state"] == "open")
    out: JSON = {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": account_user_json(state, state.account(repo.owner)),
        "html_url": f"{WEB}/{repo.full_name}",
        "description": None,
        "fork": repo.fork,
        "url": api,
        **{f"{k}_url": f"{api}/{v}" for k, v in _REPO_URLS.items()},
        "created_at": created,
        "updated_at": created,
        "pushed_at": created,
        "git_url": f"git://github.com/{repo.full_name}.git",
        "ssh_url": f"git@github.com:{repo.full_name}.git",
        "clone_url": f"{WEB}/{repo.full_name}.git",
        "svn_url": f"{WEB}/{repo.full_name}",
        "homepage": None,
        "mirror_url": None,
        "language": "Python",
        "license": None,
        "size": 0 if repo.empty else 128,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "open_issues": open_issues,
        "open_issues_count": open_issues,
        "default_branch": repo.default_branch,
        "has_issues": repo.has_issues,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": repo.archived,
        "disabled": False,
        "visibility": "private" if repo.private else "public",
        "is_template": False,
        "topics": [],
        "allow_forking": True,
        "web_commit_signoff_required": False,
    }
    if role is not None:
        out["permissions"] = _permissions(role)
    return out


_REPO_URLS = {
    "archive": "{archive_format}{/ref}",
    "assignees": "assignees{/user}",
    "blobs": "git/blobs{/sha}",
    "branches": "branches{/branch}",
    "collaborators": "collaborators{/collaborator}",
    "comments": "comments{/number}",
    "commits": "commits{/sha}",
    "compare": "compare/{base}...{head}",
    "contents": "contents/{+path}",
    "contributors": "contributors",
    "deployments": "deployments",
    "downloads": "downloads",
    "events": "events",
    "forks": "forks",
    "git_commits": "git/commits{/sha}",
    "git_refs": "git/refs{/sha}",
    "git_tags": "git/tags{/sha}",
    "hooks": "hooks",
    "issue_comment": "issues/comments{/number}",
    "issue_events": "issues/events{/number}",
    "issues": "issues{/number}",
    "keys": "keys{/key_id}",
    "labels": "labels{/name}",
    "languages": "languages",
    "merges": "merges",
    "milestones": "milestones{/number}",
    "notifications": "notifications{?since,all,participating}",
    "pulls": "pulls{/number}",
    "releases": "releases{/id}",
    "stargazers": "stargazers",
    "statuses": "statuses/{sha}",
    "subscribers": "subscribers",
    "subscription": "subscription",
    "tags": "tags",
    "teams": "teams",
    "trees": "git/trees{/sha}",
}


def _permissions(role: str) -> JSON:
    order = ["read", "triage", "write", "maintain", "admin"]
    rank = order.index(role) if role in order else -1
    names = {"read": "pull", "triage": "triage", "write": "push", "maintain": "maintain"}
    out = {names.get(r, r): rank >= i for i, r in enumerate(order)}
    return out


def permission_json(state: State, repo: Repo, login: str) -> JSON:
    """Render a collaborator's permission: legacy `permission` and real `role_name`."""
    role = state.role(repo, login)
    user = user_json(state, login)
    if role:
        user["permissions"] = _permissions(role)
        user["role_name"] = role
    return {
        "permission": LEGACY_PERMISSION.get(role or "", "none"),
        "role_name": role or "none",
        "user": user,
    }


def app_json(state: State) -> JSON:
    """Render the App (integration)."""
    return {
        "id": state.app_id,
        "slug": state.app_slug,
        "node_id": node_id("Integration", state.app_id),
        "client_id": f"Iv1.{state.app_id:016x}",
        "owner": _app_owner(state),
        "name": state.app_name,
        "description": state.app_description,
        "external_url": state.app_url,
        "html_url": f"{WEB}/apps/{state.app_slug}",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "permissions": dict(state.app_permissions or UNLISTED_APP_PERMISSIONS),
        "events": list(state.app_events),
        "installations_count": len(state.installations),
    }


def _app_owner(state: State) -> JSON:
    login = state.app_owner
    account = state.accounts.get(login.lower()) if login else None
    if account is None and login is None:
        account = next(iter(state.accounts.values()), None)
    if account is not None:
        return account_user_json(state, account)
    return user_json(state, login or "bulwark-dev")


def granted_permissions(state: State, inst: Installation) -> dict[str, str]:
    """Return what an installation granted (all the App asks unless planted otherwise)."""
    if inst.permissions is not None:
        return inst.permissions
    return state.app_permissions or UNLISTED_APP_PERMISSIONS


def installation_json(state: State, inst: Installation) -> JSON:
    """Render an installation."""
    account = state.account(inst.account)
    api = state.base_url
    return {
        "id": inst.id,
        "node_id": node_id("Installation", inst.id),
        "account": account_user_json(state, account),
        "repository_selection": "all" if inst.repository_ids is None else "selected",
        "access_tokens_url": f"{api}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{api}/installation/repositories",
        "html_url": f"{WEB}/organizations/{account.login}/settings/installations/{inst.id}",
        "app_id": state.app_id,
        "app_slug": state.app_slug,
        "client_id": f"Iv1.{state.app_id:016x}",
        "target_id": account.id,
        "target_type": account.type,
        "permissions": dict(granted_permissions(state, inst)),
        "events": list(state.app_events if inst.events is None else inst.events),
        "created_at": isoformat(inst.created_at),
        "updated_at": isoformat(inst.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": isoformat(inst.created_at) if inst.suspended else None,
    }


def author_fields(state: State, author: str, via_app: bool) -> JSON:
    """Render `user` and `performed_via_github_app` of something a user or the App wrote."""
    return {
        "user": user_json(state, author),
        "performed_via_github_app": app_json(state) if via_app else None,
        "author_association": "NONE" if via_app else "MEMBER",
    }


def label_json(state: State, repo: Repo, label: JSON) -> JSON:
    """Render a label."""
    return {
        **label,
        "node_id": node_id("Label", label["id"]),
        "url": f"{state.base_url}/repos/{repo.full_name}/labels/{label['name']}",
    }


def issue_json(state: State, repo: Repo, issue: JSON) -> JSON:
    """Render an issue."""
    api = f"{state.base_url}/repos/{repo.full_name}/issues/{issue['number']}"
    labels = [repo.labels[n.lower()] for n in issue["labels"] if n.lower() in repo.labels]
    return {
        "id": issue["id"],
        "node_id": node_id("Issue", issue["id"]),
        "url": api,
        "repository_url": f"{state.base_url}/repos/{repo.full_name}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{WEB}/{repo.full_name}/issues/{issue['number']}",
        "number": issue["number"],
        "state": issue["state"],
        "state_reason": None,
        "title": issue["title"],
        "body": issue["body"],
        "labels": [label_json(state, repo, lab) for lab in labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": len(repo.comments.get(issue["number"], [])),
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue["closed_at"],
        "closed_by": None,
        "reactions": reactions_summary(state, "issue", issue["id"], api),
        **author_fields(state, issue["author"], issue["via_app"]),
    }


def pull_as_issue_json(state: State, repo: Repo, pull: JSON) -> JSON:
    """Render a pull request as the issues API shows it: an issue with `pull_request`."""
    closed = pull["state"] == "closed"
    issue = {
        "id": pull["id"],
        "number": pull["number"],
        "state": pull["state"],
        "title": pull["title"],
        "body": "",
        "labels": [],
        "created_at": state.now(),
        "updated_at": state.now(),
        "closed_at": state.now() if closed else None,
        "author": pull["author"],
        "via_app": False,
    }
    api = f"{state.base_url}/repos/{repo.full_name}/pulls/{pull['number']}"
    out = issue_json(state, repo, issue)
    out["pull_request"] = {
        "url": api,
        "html_url": f"{WEB}/{repo.full_name}/pull/{pull['number']}",
        "diff_url": f"{WEB}/{repo.full_name}/pull/{pull['number']}.diff",
        "patch_url": f"{WEB}/{repo.full_name}/pull/{pull['number']}.patch",
        "merged_at": state.now() if pull.get("merged") else None,
    }
    return out


def comment_json(state: State, repo: Repo, comment: JSON) -> JSON:
    """Render an issue comment."""
    api = f"{state.base_url}/repos/{repo.full_name}/issues/comments/{comment['id']}"
    number = comment["number"]
    return {
        "id": comment["id"],
        "node_id": node_id("IssueComment", comment["id"]),
        "url": api,
        "html_url": f"{WEB}/{repo.full_name}/issues/{number}#issuecomment-{comment['id']}",
        "issue_url": f"{state.base_url}/repos/{repo.full_name}/issues/{number}",
        "body": comment["body"],
        "created_at": comment["created_at"],
        "updated_at": comment["updated_at"],
        "reactions": reactions_summary(state, "issue_comment", comment["id"], api),
        **author_fields(state, comment["author"], comment["via_app"]),
    }


def reactions_summary(state: State, kind: str, subject_id: int, url: str) -> JSON:
    """Render the `reactions` rollup of an issue or comment."""
    counts = {k: 0 for k in ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")}
    for reaction in state.reaction_store.get((kind, subject_id), []):
        counts[reaction["content"]] = counts.get(reaction["content"], 0) + 1
    return {"url": f"{url}/reactions", "total_count": sum(counts.values()), **counts}


def branch_ref_json(state: State, repo: Repo, ref: str, sha: str) -> JSON:
    """Render a pull request's head or base."""
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": account_user_json(state, state.account(repo.owner)),
        "repo": repo_json(state, repo),
    }


def _head_json(state: State, repo: Repo, pull: JSON) -> JSON:
    """Render a pull request's head: its own repository, or the fork it comes from."""
    fork = pull.get("head_repo")
    source = state.find_repo(*fork.split("/", 1)) if fork else repo
    head = branch_ref_json(state, source or repo, pull["head_ref"], pull["head_sha"])
    if fork and source is None:
        head["repo"] = None  # GitHub: the fork was deleted
    return head


def pull_json(state: State, repo: Repo, pull: JSON) -> JSON:
    """Render a pull request."""
    number = pull["number"]
    api = f"{state.base_url}/repos/{repo.full_name}/pulls/{number}"
    issue_api = f"{state.base_url}/repos/{repo.full_name}/issues/{number}"
    base_sha = repo.branches.get(pull["base"]) or pull["head_sha"]
    merged = pull["merged"]
    return {
        "url": api,
        "id": pull["id"],
        "node_id": node_id("PullRequest", pull["id"]),
        "html_url": f"{WEB}/{repo.full_name}/pull/{number}",
        "diff_url": f"{WEB}/{repo.full_name}/pull/{number}.diff",
        "patch_url": f"{WEB}/{repo.full_name}/pull/{number}.patch",
        "issue_url": issue_api,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{state.base_url}/repos/{repo.full_name}/pulls/comments{{/number}}",
        "comments_url": f"{issue_api}/comments",
        "statuses_url": f"{state.base_url}/repos/{repo.full_name}/statuses/{pull['head_sha']}",
        "number": number,
        "state": pull["state"],
        "locked": False,
        "title": pull["title"],
        "user": user_json(state, pull["author"]),
        "body": None,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pull["created_at"],
        "updated_at": pull["created_at"],
        "closed_at": pull["created_at"] if pull["state"] == "closed" else None,
        "merged_at": pull["created_at"] if merged else None,
        "merge_commit_sha": pull["merge_commit_sha"],
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _head_json(state, repo, pull),
        "base": branch_ref_json(state, repo, pull["base"], base_sha),
        "_links": _pull_links(api, issue_api, repo, state, pull),
        "author_association": "MEMBER",
        "auto_merge": None,
        "draft": False,
        "merged": merged,
        "mergeable": None if merged else True,
        "rebaseable": None,
        "mergeable_state": _mergeable_state(state, repo, pull),
        "merged_by": user_json(state, pull["author"]) if merged else None,
        "comments": len(repo.comments.get(number, [])),
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": 1,
        "deletions": 0,
        "changed_files": 1,
    }


def _mergeable_state(state: State, repo: Repo, pull: JSON) -> str:
    """Return `clean` when the pull request may merge now, `blocked` when protection stops it."""
    if pull["state"] != "open":
        return "unknown"
    return "blocked" if state.merge_blockers(repo, pull) else "clean"


def _pull_links(api: str, issue_api: str, repo: Repo, state: State, pull: JSON) -> JSON:
    def link(href: str) -> JSON:
        return {"href": href}

    return {
        "self": link(api),
        "html": link(f"{WEB}/{repo.full_name}/pull/{pull['number']}"),
        "issue": link(issue_api),
        "comments": link(f"{issue_api}/comments"),
        "review_comments": link(f"{api}/comments"),
        "review_comment": link(
            f"{state.base_url}/repos/{repo.full_name}/pulls/comments{{/number}}"
        ),
        "commits": link(f"{api}/commits"),
        "statuses": link(f"{state.base_url}/repos/{repo.full_name}/statuses/{pull['head_sha']}"),
    }


def review_json(state: State, repo: Repo, number: int, review: JSON) -> JSON:
    """Render a pull request review."""
    return {
        "id": review["id"],
        "node_id": node_id("PullRequestReview", review["id"]),
        "user": user_json(state, review["user"]),
        "body": review["body"],
        "state": review["state"],
        "commit_id": review["commit_id"],
        "submitted_at": review["submitted_at"],
        "html_url": f"{WEB}/{repo.full_name}/pull/{number}#pullrequestreview-{review['id']}",
        "pull_request_url": f"{state.base_url}/repos/{repo.full_name}/pulls/{number}",
        "author_association": "MEMBER",
        "_links": {"html": {"href": ""}, "pull_request": {"href": ""}},
    }


def check_run_json(state: State, repo: Repo, run: JSON) -> JSON:
    """Render a check run."""
    api = f"{state.base_url}/repos/{repo.full_name}/check-runs/{run['id']}"
    output = run.get("output") or {}
    app = app_json(state)
    if run["app_id"] != state.app_id:
        slug = state.slug_of_app(run["app_id"])
        app.update(id=run["app_id"], slug=slug, name=slug)
    return {
        "id": run["id"],
        "node_id": node_id("CheckRun", run["id"]),
        "head_sha": run["head_sha"],
        "external_id": run.get("external_id") or "",
        "url": api,
        "html_url": f"{WEB}/{repo.full_name}/runs/{run['id']}",
        "details_url": run.get("details_url") or f"{WEB}/{repo.full_name}/runs/{run['id']}",
        "status": run["status"],
        "conclusion": run["conclusion"],
        "started_at": run["started_at"],
        "completed_at": run["completed_at"],
        "output": {
            "title": output.get("title"),
            "summary": output.get("summary"),
            "text": output.get("text"),
            "annotations_count": len(output.get("annotations", [])),
            "annotations_url": f"{api}/annotations",
        },
        "name": run["name"],
        "check_suite": {"id": run["id"] + 1},
        "app": app,
        "actions": run.get("actions", []),
        "pull_requests": _run_pulls(state, repo, run["head_sha"]),
    }


def _run_pulls(state: State, repo: Repo, sha: str) -> list[JSON]:
    """Open pull requests whose head is `sha`, in the minimal shape check runs carry."""
    mini = {"id": repo.id, "url": f"{state.base_url}/repos/{repo.full_name}", "name": repo.name}
    return [
        {
            "id": pull["id"],
            "number": pull["number"],
            "url": f"{state.base_url}/repos/{repo.full_name}/pulls/{pull['number']}",
            "head": {"ref": pull["head_ref"], "sha": sha, "repo": mini},
            "base": {
                "ref": pull["base"],
                "sha": repo.branches.get(pull["base"], sha),
                "repo": mini,
            },
        }
        for pull in repo.pulls.values()
        # GitHub leaves out pull requests whose head is in a fork.
        if pull["head_sha"] == sha and pull["state"] == "open" and not pull.get("head_repo")
    ]


def commit_json(state: State, repo: Repo, commit: JSON) -> JSON:
    """Render a commit."""
    api = f"{state.base_url}/repos/{repo.full_name}/commits/{commit['sha']}"
    person = {"name": commit["author"], "email": f"{commit['author']}@example.com"}
    return {
        "sha": commit["sha"],
        "node_id": node_id("Commit", int(commit["sha"][:8], 16)),
        "url": api,
        "html_url": f"{WEB}/{repo.full_name}/commit/{commit['sha']}",
        "commit": {
            "message": commit["message"],
            "author": {**person, "date": commit["date"]},
            "committer": {**person, "date": commit["date"]},
        },
        "author": user_json(state, commit["author"]),
        "committer": user_json(state, commit["author"]),
        "parents": [{"sha": p, "url": f"{state.base_url}/repos/{repo.full_name}/commits/{p}"}
                    for p in commit["parents"]],
    }  # fmt: skip
