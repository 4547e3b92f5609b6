"""Webhook deliveries signed like GitHub's, and payload builders that read sandbox state."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from typing import Any

import aiohttp

from bot.sandbox.shapes import (
    WEB,
    check_run_json,
    comment_json,
    installation_json,
    issue_json,
    node_id,
    org_json,
    pull_json,
    repo_json,
    user_json,
)
from bot.sandbox.state import JSON, Repo, State

HOOK_ID = 4242
USER_AGENT = "GitHub-Hookshot/5b1f0c2"


def sign(body: bytes, secret: str) -> str:
    """Return the X-Hub-Signature-256 value of a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(
    event: str, body: bytes, secret: str, delivery_id: str | None, payload: JSON
) -> dict[str, str]:
    """Return the headers GitHub sends with a delivery."""
    installation = payload.get("installation") or {}
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": str(HOOK_ID),
        "X-GitHub-Hook-Installation-Target-ID": str(installation.get("id", 0)),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature-256": sign(body, secret),
    }


async def deliver(
    url: str,
    event: str,
    payload: JSON,
    *,
    secret: str,
    delivery_id: str | None = None,
    time_limit: float = 10.0,
) -> int:
    """POST a signed delivery to `url` (GitHub allows 10 seconds); return the status."""
    body = json.dumps(payload).encode()
    headers = delivery_headers(event, body, secret, delivery_id, payload)
    client_timeout = aiohttp.ClientTimeout(total=time_limit)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        await response.read()
        return response.status


def _enforcement(on: bool, admins: bool) -> str:
    if not on:
        return "off"
    return "everyone" if admins else "non_admins"


class Payloads:
    """Builds realistic webhook payloads from the sandbox's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def _common(self, repo: Repo | None, sender: str, owner: str | None = None) -> JSON:
        state = self.state
        owner = repo.owner if repo else owner
        assert owner is not None
        account = state.account(owner)
        out: JSON = {"sender": user_json(state, sender)}
        inst = state.installation_for(owner)
        if inst is not None:
            out["installation"] = {"id": inst.id, "node_id": node_id("Installation", inst.id)}
        if account.type == "Organization":
            out["organization"] = org_json(state, account)
        if repo is not None:
            out["repository"] = repo_json(state, repo)
        return out

    def ping(self) -> JSON:
        """Build the `ping` sent when a hook is created."""
        return {
            "zen": "Design for failure.",
            "hook_id": HOOK_ID,
            "hook": {
                "type": "App",
                "id": HOOK_ID,
                "name": "web",
                "active": True,
                "events": ["*"],
                "config": {"content_type": "json", "insecure_ssl": "0", "url": "http://x"},
                "updated_at": "2024-01-01T00:00:00Z",
                "created_at": "2024-01-01T00:00:00Z",
                "app_id": self.state.app_id,
                "deliveries_url": f"{self.state.base_url}/app/hook/deliveries",
            },
            "sender": user_json(self.state, "octocat"),
        }

    def _mini_repo(self, repo: Repo) -> JSON:
        return {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
        }

    def installation_created(self, installation_id: int, sender: str = "octocat") -> JSON:
        """Build `installation.created`."""
        state = self.state
        inst = state.installations[installation_id]
        repos = state.installation_repos(inst)
        out = self._common(None, sender, inst.account)
        out.update(
            action="created",
            installation=installation_json(state, inst),
            repositories=[self._mini_repo(r) for r in repos],
            requester=None,
        )
        return out

    def installation_repositories_added(
        self, installation_id: int, repos: Sequence[str], sender: str = "octocat"
    ) -> JSON:
        """Build `installation_repositories.added` for repositories (names) of the account."""
        state = self.state
        inst = state.installations[installation_id]
        added = [state.repo(inst.account, name) for name in repos]
        if inst.repository_ids is not None:
            inst.repository_ids.update(r.id for r in added)
        out = self._common(None, sender, inst.account)
        out.update(
            action="added",
            installation=installation_json(state, inst),
            repository_selection="all" if inst.repository_ids is None else "selected",
            repositories_added=[self._mini_repo(r) for r in added],
            repositories_removed=[],
            requester=None,
        )
        return out

    def _rule(self, repo: Repo, branch: str) -> JSON:
        stored = self.state.repo(repo.owner, repo.name).protections.get(branch) or {}
        reviews = stored.get("required_pull_request_reviews") or {}
        checks = stored.get("required_status_checks") or {}
        admins = bool(stored.get("enforce_admins"))
        now = self.state.now()
        return {
            "id": abs(hash((repo.id, branch))) % 10**8,
            "repository_id": repo.id,
            "name": branch,
            "created_at": now,
            "updated_at": now,
            "pull_request_reviews_enforcement_level": _enforcement(bool(reviews), admins),
            "required_approving_review_count": reviews.get("required_approving_review_count", 0),
            "dismiss_stale_reviews_on_push": bool(reviews.get("dismiss_stale_reviews")),
            "require_code_owner_review": bool(reviews.get("require_code_owner_reviews")),
            "require_last_push_approval": bool(reviews.get("require_last_push_approval")),
            "authorized_dismissal_actors_only": False,
            "ignore_approvals_from_contributors": False,
            "required_status_checks": [c["context"] for c in checks.get("checks", [])],
            "required_status_checks_enforcement_level": _enforcement(bool(checks), admins),
            "strict_required_status_checks_policy": bool(checks.get("strict")),
            "signature_requirement_enforcement_level": _enforcement(
                bool(stored.get("required_signatures")), admins
            ),
            "linear_history_requirement_enforcement_level": _enforcement(
                bool(stored.get("required_linear_history")), admins
            ),
            "lock_branch_enforcement_level": _enforcement(bool(stored.get("lock_branch")), admins),
            "lock_allows_fork_sync": bool(stored.get("allow_fork_syncing")),
            "admin_enforced": admins,
            "allow_force_pushes_enforcement_level": _enforcement(
                bool(stored.get("allow_force_pushes")), admins
            ),
            "allow_deletions_enforcement_level": _enforcement(
                bool(stored.get("allow_deletions")), admins
            ),
            "merge_queue_enforcement_level": "off",
            "required_deployments_enforcement_level": "off",
            "required_conversation_resolution_level": _enforcement(
                bool(stored.get("required_conversation_resolution")), admins
            ),
            "authorized_actors_only": bool(stored.get("restrictions")),
            "authorized_actor_names": [],
            "create_protected": bool(stored.get("block_creations")),
        }

    def branch_protection_rule(
        self, action: str, owner: str, repo: str, branch: str, sender: str
    ) -> JSON:
        """Build `branch_protection_rule.<action>` from the branch's current protection."""
        r = self.state.repo(owner, repo)
        out = self._common(r, sender)
        out.update(action=action, rule=self._rule(r, branch))
        if action == "edited":
            out["changes"] = {"admin_enforced": {"from": True}}
        return out

    def repository_ruleset(
        self, action: str, owner: str, repo: str, ruleset_id: int, sender: str
    ) -> JSON:
        """Build `repository_ruleset.<action>` for a ruleset visible from a repository."""
        r = self.state.repo(owner, repo)
        ruleset = self.state.ruleset(r, ruleset_id)
        assert ruleset is not None, f"no ruleset {ruleset_id} on {owner}/{repo}"
        out = self._common(r, sender)
        out.update(
            action=action,
            repository_ruleset={
                "id": ruleset["id"],
                "name": ruleset.get("name", f"ruleset-{ruleset['id']}"),
                "target": ruleset["target"],
                "source_type": ruleset["source_type"],
                "source": ruleset["source"],
                "enforcement": ruleset["enforcement"],
                "bypass_actors": ruleset["bypass_actors"],
                "conditions": ruleset["conditions"],
                "rules": ruleset["rules"],
                "node_id": f"RRS_{ruleset['id']}",
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": self.state.now(),
            },
        )
        return out

    def repository(
        self, action: str, owner: str, repo: str, sender: str, changes: JSON | None = None
    ) -> JSON:
        """Build `repository.<action>` (renamed and transferred carry `changes`)."""
        r = self.state.repo(owner, repo)
        out = self._common(r, sender)
        out["action"] = action
        if changes is not None or action in ("renamed", "edited", "transferred"):
            out["changes"] = changes or {"repository": {"name": {"from": r.name}}}
        return out

    def _commit(self, repo: Repo, sha: str) -> JSON:
        commit = repo.commits.get(sha) or {
            "sha": sha,
            "message": "Update",
            "author": "octocat",
            "date": self.state.now(),
        }
        person = {
            "name": commit["author"],
            "email": f"{commit['author']}@example.com",
            "username": commit["author"],
        }
        return {
            "id": sha,
            "tree_id": hashlib.sha1(sha.encode()).hexdigest(),  # noqa: S324
            "distinct": True,
            "message": commit["message"],
            "timestamp": commit["date"],
            "url": f"{WEB}/{repo.full_name}/commit/{sha}",
            "author": person,
            "committer": person,
            "added": [],
            "removed": [],
            "modified": ["README.md"],
        }

    def push(
        self,
        owner: str,
        repo: str,
        branch: str,
        commits: Sequence[str],
        pusher: str,
        forced: bool = False,
        before: str | None = None,
        after: str | None = None,
    ) -> JSON:
        """Build `push` of commits (shas, oldest first) to a branch."""
        r = self.state.repo(owner, repo)
        after = after or (commits[-1] if commits else r.branches.get(branch, "0" * 40))
        if before is None:
            first = r.commits.get(commits[0]) if commits else None
            before = first["parents"][0] if first and first["parents"] else "0" * 40
        items = [self._commit(r, sha) for sha in commits]
        out = self._common(r, pusher)
        data = out["repository"]
        data.update(stargazers=0, master_branch=r.default_branch, pushed_at=1_700_000_000)
        data["created_at"] = int(r.created_at)
        out.update(
            ref=f"refs/heads/{branch}",
            before=before,
            after=after,
            created=before == "0" * 40,
            deleted=after == "0" * 40,
            forced=forced,
            base_ref=None,
            compare=f"{WEB}/{r.full_name}/compare/{before[:12]}...{after[:12]}",
            commits=items,
            head_commit=items[-1] if items else None,
            pusher={"name": pusher, "email": f"{pusher}@example.com"},
        )
        return out

    def pull_request(self, action: str, owner: str, repo: str, number: int, sender: str) -> JSON:
        """Build `pull_request.<action>` for a pull request in state."""
        r = self.state.repo(owner, repo)
        out = self._common(r, sender)
        out.update(
            action=action, number=number, pull_request=pull_json(self.state, r, r.pulls[number])
        )
        if action == "synchronize":
            pull = r.pulls[number]
            out.update(before="0" * 40, after=pull["head_sha"])
        return out

    def issue_comment(
        self,
        action: str,
        owner: str,
        repo: str,
        number: int,
        body: str,
        user: str,
        is_pull: bool = True,
    ) -> JSON:
        """Build `issue_comment.<action>`, adding the comment to state."""
        state = self.state
        r = state.repo(owner, repo)
        comment = state.add_comment(owner, repo, number, body=body, author=user)
        out = self._common(r, user)
        out.update(
            action=action,
            issue=self._issue_of(r, number, is_pull),
            comment=comment_json(state, r, comment),
        )
        if action == "edited":
            out["changes"] = {"body": {"from": body}}
        return out

    def _issue_of(self, repo: Repo, number: int, is_pull: bool) -> JSON:
        state = self.state
        issue = repo.issues.get(number)
        if issue is None:
            pull = repo.pulls.get(number)
            issue = {
                "number": number,
                "id": pull["id"] if pull else state.new_id(),
                "title": pull["title"] if pull else "Issue",
                "body": "",
                "author": pull["author"] if pull else "octocat",
                "labels": [],
                "state": pull["state"] if pull else "open",
                "created_at": state.now(),
                "updated_at": state.now(),
                "closed_at": None,
                "via_app": False,
            }
        data = issue_json(state, repo, issue)
        if is_pull:
            api = f"{state.base_url}/repos/{repo.full_name}/pulls/{number}"
            data["pull_request"] = {
                "url": api,
                "html_url": f"{WEB}/{repo.full_name}/pull/{number}",
                "diff_url": f"{WEB}/{repo.full_name}/pull/{number}.diff",
                "patch_url": f"{WEB}/{repo.full_name}/pull/{number}.patch",
                "merged_at": None,
            }
        return data

    def check_run(
        self,
        action: str,
        owner: str,
        repo: str,
        check_run_id: int,
        sender: str,
        requested_action: str | None = None,
    ) -> JSON:
        """Build `check_run.<action>` (requested_action: the button's identifier)."""
        state = self.state
        r = state.repo(owner, repo)
        run = check_run_json(state, r, r.check_runs[check_run_id])
        run["check_suite"] = self._check_suite(r, run)
        out = self._common(r, sender)
        out.update(action=action, check_run=run)
        if requested_action is not None:
            out["requested_action"] = {"identifier": requested_action}
        return out

    def _check_suite(self, repo: Repo, run: JSON) -> JSON:
        branch = next((b for b, s in repo.branches.items() if s == run["head_sha"]), None)
        suite_id = run["check_suite"]["id"]
        return {
            "id": suite_id,
            "node_id": node_id("CheckSuite", suite_id),
            "head_branch": branch,
            "head_sha": run["head_sha"],
            "status": run["status"],
            "conclusion": run["conclusion"],
            "url": f"{self.state.base_url}/repos/{repo.full_name}/check-suites/{suite_id}",
            "before": None,
            "after": run["head_sha"],
            "pull_requests": [],
            "app": run["app"],
            "created_at": run["started_at"],
            "updated_at": run["started_at"],
        }


def payload_size(payload: Any) -> int:
    """Return a payload's size in bytes as delivered."""
    return len(json.dumps(payload).encode())
