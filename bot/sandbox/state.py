"""The sandbox's world: orgs, repositories, protection, issues, installations, tokens.

Every lookup is a dict access (orgs of 10,000 repositories are benchmarked), keyed
by lower-cased names as GitHub's names are case-insensitive.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock, SystemClock, isoformat
from bot.sandbox.patterns import ruleset_refs_match, ruleset_repos_match

JSON = dict[str, Any]
ROLES = ("admin", "maintain", "write", "triage", "read")
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}
PROTECTION_FLAGS = (
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
)
TOKEN_LIFETIME = 3600.0
# What an App registered without a manifest (the sandbox run by hand) is granted: a
# generous set; tests and the demo pass the permissions their app.yml asks for.
UNLISTED_APP_PERMISSIONS = {
    "administration": "write",
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "members": "read",
    "organization_administration": "read",
}
APP_EVENTS = [
    "branch_protection_configuration",
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "issue_comment",
    "pull_request",
    "push",
    "repository",
    "repository_ruleset",
]
# Apps that report checks on real GitHub (README of shared/github: CodeQL's results check
# comes from github-advanced-security, analysis jobs from GitHub Actions, app id 15368).
ACTIONS_APP = "github-actions"
CODEQL_APP = "github-advanced-security"
KNOWN_APPS = {ACTIONS_APP: 15368, CODEQL_APP: 57789}
CODEQL_CHECK = "CodeQL"
# Languages CodeQL's default setup analyses, keyed by the GitHub (linguist) language name.
# https://docs.github.com/en/code-security/code-scanning/enabling-code-scanning/configuring-default-setup-for-code-scanning
CODEQL_LANGUAGES = {
    "C": "c-cpp",
    "C++": "c-cpp",
    "C#": "csharp",
    "Go": "go",
    "Java": "java-kotlin",
    "Kotlin": "java-kotlin",
    "JavaScript": "javascript-typescript",
    "TypeScript": "javascript-typescript",
    "Python": "python",
    "Ruby": "ruby",
    "Swift": "swift",
}


@dataclass(frozen=True)
class CiCheck:
    """A check a repository's CI reports on every new commit.

    `app` names the app whose check run it is (`github-actions` for a workflow job);
    None makes it a commit status, which carries no app.
    """

    name: str
    app: str | None = ACTIONS_APP
    conclusion: str = "success"


@dataclass
class CodeScanning:
    """A repository's code scanning default setup and what GitHub knows around it.

    https://docs.github.com/en/rest/code-scanning/code-scanning#get-a-code-scanning-default-setup-configuration
    """

    state: str = "not-configured"
    languages: tuple[str, ...] = ()  # what the last configuration analyses
    advanced: bool = False  # an advanced-setup workflow already uploads CodeQL results
    analysed: bool = False  # the first analysis has finished
    updated_at: str | None = None
    run_id: int | None = None


class NotFoundError(KeyError):
    """Raised by seeding methods when the named object does not exist."""


@dataclass
class User:
    """A GitHub user or bot account."""

    login: str
    id: int
    type: str = "User"


@dataclass
class Account:
    """An organization (or a user account owning repositories)."""

    login: str
    id: int
    plan: str = "team"
    type: str = "Organization"
    owners: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    repos: dict[str, Repo] = field(default_factory=dict)
    rulesets: dict[int, JSON] = field(default_factory=dict)
    two_factor_requirement_enabled: bool = False


@dataclass
class Repo:
    """A repository and everything inside it."""

    id: int
    owner: str
    name: str
    private: bool = False
    archived: bool = False
    fork: bool = False
    default_branch: str = "main"
    has_issues: bool = True
    protection_disabled: bool = False
    created_at: float = 0.0
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, JSON] = field(default_factory=dict)
    protections: dict[str, JSON] = field(default_factory=dict)
    rulesets: dict[int, JSON] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    collaborators: dict[str, str | None] = field(default_factory=dict)
    issues: dict[int, JSON] = field(default_factory=dict)
    pulls: dict[int, JSON] = field(default_factory=dict)
    comments: dict[int, list[JSON]] = field(default_factory=dict)
    reviews: dict[int, list[JSON]] = field(default_factory=dict)
    commit_comments: list[JSON] = field(default_factory=list)
    check_runs: dict[int, JSON] = field(default_factory=dict)
    labels: dict[str, JSON] = field(default_factory=dict)
    next_number: int = 1
    private_vulnerability_reporting: bool = False
    ci: tuple[CiCheck, ...] = ()
    statuses: dict[str, list[JSON]] = field(default_factory=dict)  # sha -> commit statuses
    languages: dict[str, int] = field(default_factory=dict)  # linguist name -> bytes
    code_security: bool = False  # GitHub Code Security on a private repository
    code_scanning: CodeScanning = field(default_factory=CodeScanning)

    @property
    def full_name(self) -> str:
        """Return `owner/name`."""
        return f"{self.owner}/{self.name}"

    @property
    def empty(self) -> bool:
        """Return whether the repository has no commits."""
        return not self.branches


@dataclass
class Installation:
    """An installation of the App on one account."""

    id: int
    account: str
    repository_ids: set[int] | None = None
    suspended: bool = False
    created_at: float = 0.0
    # What this installation granted; None: all the App asks (the owner approved it),
    # or every permission when the App was registered without a manifest.
    permissions: dict[str, str] | None = None
    events: list[str] | None = None

    def grants(self, permission: str, level: str) -> bool:
        """Tell whether the installation holds `permission` at `level` or above."""
        if self.permissions is None:
            return True
        held = self.permissions.get(permission)
        return held == "write" or (held == "read" and level == "read")


@dataclass
class Token:
    """An installation access token."""

    token: str
    installation_id: int
    expires_at: float
    repository_ids: set[int] | None = None
    revoked: bool = False


class State:
    """All data the sandbox serves, with seeding methods and read access for assertions."""

    def __init__(self, *, clock: Clock | None = None, seed: int = 0) -> None:
        self.clock: Clock = clock or SystemClock()
        self.base_url = "http://sandbox.invalid"
        # The permissions the App was registered with (its manifest's default_permissions);
        # None grants every permission.
        self.app_permissions: dict[str, str] | None = None
        # Requests GitHub's description (or GraphQL schema) does not allow: tests assert none.
        self.violations: list[str] = []
        self.app_id = 1
        self.app_slug = "bulwark"
        self.app_name = "Bulwark"
        self.app_description = "Branch protection, enforced and proven."
        self.app_url = "https://bulwark.example"
        self.app_owner: str | None = None  # the account that registered the App
        # The public half of the App's key (GitHub keeps only that); None: the sandbox's own.
        self.app_public_key: str | None = None
        self.webhook_secret = ""
        self.bot_login = "bulwark[bot]"
        self.accounts: dict[str, Account] = {}
        self.users: dict[str, User] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.personal_tokens: dict[str, str] = {}
        self.comment_index: dict[int, tuple[int, int]] = {}
        self.check_run_index: dict[int, int] = {}
        self.repos_by_id: dict[int, Repo] = {}
        self.reaction_store: dict[tuple[str, int], list[JSON]] = {}
        self._sorted_repos: dict[tuple[str, bool], tuple[tuple[str, ...], list[Repo]]] = {}
        self._seed = seed
        # What a new repository's CI reports when add_repo is given no `ci`.
        self.default_ci: tuple[CiCheck, ...] = ()
        self.apps = dict(KNOWN_APPS)  # slug -> id of the apps that report checks
        self._next_id = 1000
        self._sha_counter = 0
        self.bot_user = self.add_user(self.bot_login, bot=True)
        # The App's registration and its webhook (GET /app, /app/hook/config, deliveries).
        self.app_events: list[str] = list(APP_EVENTS)
        self.hook_config: JSON | None = {
            "url": "https://bulwark.example.com/api/github/webhooks",
            "content_type": "json",
            "secret": "",
            "insecure_ssl": "0",
        }
        self.hook_deliveries: list[HookDelivery] = []
        # Codes GitHub's manifest flow handed out: code -> (the conversion's answer, expiry).
        self.manifest_codes: dict[str, tuple[JSON, float]] = {}
        # Seconds after a merge before `GET /commits/{sha}/pulls` links a commit to its pull
        # request: GitHub indexes the association after the push webhook, and answers an
        # empty list meanwhile (13 s after a merge in
        # https://github.com/Songmu/tagpr/pull/333; also
        # https://github.com/tektoncd/pipelines-as-code/pull/2382 and
        # https://github.com/apache/airflow/pull/58705). 0: linked at once.
        self.association_lag = 0.0

    # ---- ids -------------------------------------------------------------------------

    def new_id(self) -> int:
        """Return a fresh numeric id."""
        self._next_id += 1
        return self._next_id

    def new_sha(self) -> str:
        """Return a fresh, deterministic commit sha."""
        self._sha_counter += 1
        return hashlib.sha1(f"{self._seed}:{self._sha_counter}".encode()).hexdigest()  # noqa: S324

    def now(self) -> str:
        """Return the clock's time in GitHub's format."""
        return isoformat(self.clock.time())

    # ---- accounts and users ----------------------------------------------------------

    def add_user(self, login: str, *, bot: bool = False) -> User:
        """Create (or return) a user."""
        if login.lower() not in self.users:
            self.users[login.lower()] = User(login, self.new_id(), "Bot" if bot else "User")
        return self.users[login.lower()]

    def user(self, login: str) -> User:
        """Return a user, creating it when unknown."""
        return self.users.get(login.lower()) or self.add_user(login, bot=login.endswith("[bot]"))

    def add_org(self, login: str, *, plan: str = "team") -> Account:
        """Create an organization on a plan ("free", "team", "enterprise")."""
        org = Account(login, self.new_id(), plan)
        self.accounts[login.lower()] = org
        return org

    def account(self, login: str) -> Account:
        """Return an account or raise NotFoundError."""
        try:
            return self.accounts[login.lower()]
        except KeyError:
            raise NotFoundError(login) from None

    def add_org_owner(self, org: str, login: str) -> None:
        """Make a user an owner of an org."""
        self.user(login)
        self.account(org).owners.add(login.lower())

    def add_org_member(self, org: str, login: str) -> None:
        """Make a user a member of an org."""
        self.user(login)
        self.account(org).members.add(login.lower())

    def add_personal_token(self, token: str, login: str) -> None:
        """Register a personal access token for a user."""
        self.user(login)
        self.personal_tokens[token] = login

    # ---- repositories ----------------------------------------------------------------

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        archived: bool = False,
        fork: bool = False,
        default_branch: str = "main",
        branches: Iterable[str] = ("main",),
        empty: bool = False,
        has_issues: bool = True,
        protection_disabled: bool = False,
        ci: Iterable[CiCheck] | None = None,
        languages: Mapping[str, int] | None = None,
    ) -> Repo:
        """Create a repository whose branches all point at one initial commit.

        `ci` lists what its CI reports on every commit (default: `default_ci`);
        `languages` its GitHub languages (name -> bytes), which decide what CodeQL analyses.
        """
        account = self.accounts.get(owner.lower()) or self.add_org(owner)
        repo = Repo(
            self.new_id(), account.login, name, private, archived, fork, default_branch,
            has_issues, protection_disabled, self.clock.time(),
        )  # fmt: skip
        repo.ci = tuple(self.default_ci if ci is None else ci)
        repo.languages = dict(languages or {})
        account.repos[name.lower()] = repo
        self.repos_by_id[repo.id] = repo
        if not empty:
            sha = self._commit(repo, None, "Initial commit", account.login)
            for branch in dict.fromkeys([default_branch, *branches]):
                repo.branches[branch] = sha
        return repo

    def repo(self, owner: str, name: str) -> Repo:
        """Return a repository or raise NotFoundError."""
        try:
            return self.account(owner).repos[name.lower()]
        except KeyError:
            raise NotFoundError(f"{owner}/{name}") from None

    def repos_by_name(self, account: Account, *, descending: bool = False) -> list[Repo]:
        """Return an account's repositories ordered by name, cached until the set changes.

        GraphQL pages through 10,000 repositories 100 at a time: sorting on every
        page would make a full scan quadratic. Do not mutate the returned list.
        """
        key = (account.login.lower(), descending)
        names = tuple(account.repos)
        cached = self._sorted_repos.get(key)
        if cached is not None and cached[0] == names:
            return cached[1]
        ordered = sorted(account.repos.values(), key=lambda r: r.name.lower(), reverse=descending)
        self._sorted_repos[key] = (names, ordered)
        return ordered

    def find_repo(self, owner: str, name: str) -> Repo | None:
        """Return a repository or None."""
        account = self.accounts.get(owner.lower())
        return account.repos.get(name.lower()) if account else None

    def add_branch(self, owner: str, repo: str, name: str, sha: str | None = None) -> str:
        """Create a branch at `sha` (default: the default branch's head); return its sha."""
        r = self.repo(owner, repo)
        if sha is None:
            sha = r.branches.get(r.default_branch) or self._commit(r, None, "Initial", r.owner)
        r.branches[name] = sha
        return sha

    def add_commit(
        self,
        owner: str,
        repo: str,
        branch: str,
        *,
        sha: str | None = None,
        message: str = "Update",
        author: str,
    ) -> str:
        """Add a commit on top of a branch, advancing its head; return the sha."""
        r = self.repo(owner, repo)
        sha = self._commit(r, r.branches.get(branch), message, author, sha)
        r.branches[branch] = sha
        return sha

    def _commit(
        self, repo: Repo, parent: str | None, message: str, author: str, sha: str | None = None
    ) -> str:
        sha = sha or self.new_sha()
        self.user(author)
        repo.commits[sha] = {
            "sha": sha,
            "message": message,
            "author": author,
            "parents": [parent] if parent else [],
            "date": self.now(),
        }
        self._run_ci(repo, sha)
        return sha

    # ---- what reports on each commit -------------------------------------------------

    def app_id_of(self, slug: str) -> int:
        """Return the id of a known app by its slug (new slugs get a fresh id)."""
        if slug not in self.apps:
            self.apps[slug] = self.new_id()
        return self.apps[slug]

    def report_check(
        self,
        owner: str,
        repo: str,
        sha: str,
        name: str,
        *,
        app: str | None,
        conclusion: str = "success",
    ) -> None:
        """Report one completed check on a commit: a check run by `app`, or a status (None)."""
        r = self.repo(owner, repo)
        self._report(r, sha, CiCheck(name, app, conclusion))

    def _report(self, repo: Repo, sha: str, check: CiCheck) -> None:
        if check.app is None:
            state = "success" if check.conclusion == "success" else "failure"
            repo.statuses.setdefault(sha, []).append(
                {"id": self.new_id(), "context": check.name, "state": state,
                 "created_at": self.now()}
            )  # fmt: skip
            return
        body = {"name": check.name, "head_sha": sha, "conclusion": check.conclusion,
                "completed_at": self.now()}  # fmt: skip
        self.add_check_run(repo.owner, repo.name, body, app_id=self.app_id_of(check.app))

    def _run_ci(self, repo: Repo, sha: str) -> None:
        for check in repo.ci:
            self._report(repo, sha, check)
        scanning = repo.code_scanning
        if scanning.state == "configured" and scanning.analysed and scanning.languages:
            self._report(repo, sha, CiCheck(CODEQL_CHECK, CODEQL_APP))

    def reports(self, repo: Repo, sha: str) -> list[JSON]:
        """Return the latest check run per (name, app) and status per context on a commit."""
        runs: dict[tuple[str, int], JSON] = {}
        for run in repo.check_runs.values():
            if run["head_sha"] == sha:
                runs[(run["name"], run["app_id"])] = run
        statuses = {s["context"]: s for s in repo.statuses.get(sha, [])}
        return [*runs.values(), *statuses.values()]

    def codeql_languages(self, repo: Repo) -> tuple[str, ...]:
        """Return the CodeQL languages default setup would analyse in a repository."""
        return tuple(sorted({CODEQL_LANGUAGES[n] for n in repo.languages if n in CODEQL_LANGUAGES}))

    def configure_default_setup(self, repo: Repo, state: str) -> None:
        """Set default setup's state as a PATCH does; the first analysis is still to run."""
        scanning = repo.code_scanning
        scanning.state = state
        scanning.languages = self.codeql_languages(repo) if state == "configured" else ()
        scanning.analysed = False
        scanning.updated_at = self.now()
        scanning.run_id = self.new_id() if state == "configured" else None

    def run_analyses(self) -> list[str]:
        """Finish every pending first analysis of default setup; return the repositories.

        The analysis reports the `CodeQL` check run on the default branch's head and on
        every open pull request's head; later commits get one as they arrive. Without a
        supported language default setup stays configured but runs nothing.
        https://docs.github.com/en/code-security/code-scanning/enabling-code-scanning/configuring-default-setup-for-code-scanning
        """
        done: list[str] = []
        for repo in self.repos_by_id.values():
            scanning = repo.code_scanning
            if scanning.state != "configured" or scanning.analysed or not scanning.languages:
                continue
            scanning.analysed = True
            heads = {repo.branches.get(repo.default_branch)}
            heads |= {p["head_sha"] for p in repo.pulls.values() if p["state"] == "open"}
            for sha in sorted(h for h in heads if h):
                self._report(repo, sha, CiCheck(CODEQL_CHECK, CODEQL_APP))
            done.append(repo.full_name)
        return done

    def add_file(
        self, owner: str, repo: str, path: str, text: str, *, branch: str | None = None
    ) -> None:
        """Put a file on a branch (the default branch when None)."""
        r = self.repo(owner, repo)
        r.files.setdefault(branch or r.default_branch, {})[path.lstrip("/")] = text

    def file(self, repo: Repo, path: str, ref: str | None) -> str | None:
        """Return a file's text at a branch name or commit sha, or None."""
        ref = ref or repo.default_branch
        if ref not in repo.branches:
            ref = next((b for b, s in repo.branches.items() if s == ref), ref)
        return repo.files.get(ref, {}).get(path.strip("/"))

    def add_collaborator(self, owner: str, repo: str, login: str, role: str | None) -> None:
        """Give a user a role on a repository (None removes it)."""
        if role is not None and role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.user(login)
        self.repo(owner, repo).collaborators[login.lower()] = role

    def role(self, repo: Repo, login: str) -> str | None:
        """Return a user's role on a repository: org owners are admins."""
        if login.lower() in self.account(repo.owner).owners:
            return "admin"
        return repo.collaborators.get(login.lower())

    def rename_repo(self, owner: str, name: str, new_name: str) -> Repo:
        """Rename a repository."""
        r = self.repo(owner, name)
        account = self.account(owner)
        del account.repos[name.lower()]
        r.name = new_name
        account.repos[new_name.lower()] = r
        return r

    def archive_repo(self, owner: str, name: str, archived: bool = True) -> Repo:
        """Archive (or unarchive) a repository."""
        r = self.repo(owner, name)
        r.archived = archived
        return r

    def delete_repo(self, owner: str, name: str) -> None:
        """Delete a repository."""
        r = self.repo(owner, name)
        del self.account(owner).repos[name.lower()]
        del self.repos_by_id[r.id]

    def transfer_repo(self, owner: str, name: str, new_owner: str) -> Repo:
        """Move a repository to another account."""
        r = self.repo(owner, name)
        del self.account(owner).repos[name.lower()]
        target = self.accounts.get(new_owner.lower()) or self.add_org(new_owner)
        r.owner = target.login
        target.repos[name.lower()] = r
        for ruleset in r.rulesets.values():
            ruleset["source"] = r.full_name
        return r

    # ---- protection and rulesets -----------------------------------------------------

    def set_protection(self, owner: str, repo: str, branch: str, body: JSON | None) -> None:
        """Protect a branch with a PUT-shaped body (replacing any); None removes protection."""
        r = self.repo(owner, repo)
        if body is None:
            r.protections.pop(branch, None)
            return
        old = r.protections.get(branch)
        r.protections[branch] = normalize_protection(body, old, reporters(r))

    def set_beyond_rest(
        self,
        owner: str,
        repo: str,
        branch: str,
        *,
        deployment_environments: Iterable[str] = (),
        force_push_bypass: Iterable[str] = (),
    ) -> None:
        """Set what only the web UI and GraphQL carry on a protected branch.

        Required deployment environments and force-push bypass allowances are not in
        the REST PUT body, so a PUT drops them; the sub-endpoints leave them alone.
        https://docs.github.com/graphql/reference/objects#branchprotectionrule
        """
        stored = self.repo(owner, repo).protections[branch]
        stored["required_deployment_environments"] = list(deployment_environments)
        stored["force_push_bypass"] = list(force_push_bypass)

    def protection(self, owner: str, repo: str, branch: str) -> JSON | None:
        """Return a branch's protection in GET's response shape, or None."""
        r = self.repo(owner, repo)
        stored = r.protections.get(branch)
        return render_protection(stored, self.protection_url(r, branch)) if stored else None

    def protection_url(self, repo: Repo, branch: str) -> str:
        """Return the protection resource's URL."""
        return f"{self.base_url}/repos/{repo.full_name}/branches/{branch}/protection"

    def add_ruleset(self, owner: str, repo: str, body: JSON, *, org_level: bool = False) -> int:
        """Create a ruleset on a repository (or, with org_level, on the owner org); return id."""
        ruleset_id = self.new_id()
        ruleset = copy.deepcopy(body)
        ruleset.setdefault("target", "branch")
        ruleset.setdefault("enforcement", "active")
        ruleset.setdefault("bypass_actors", [])
        ruleset.setdefault("conditions", {})
        ruleset.setdefault("rules", [])
        ruleset["id"] = ruleset_id
        if org_level:
            ruleset.update(source_type="Organization", source=self.account(owner).login)
            self.account(owner).rulesets[ruleset_id] = ruleset
        else:
            r = self.repo(owner, repo)
            ruleset.update(source_type="Repository", source=r.full_name)
            r.rulesets[ruleset_id] = ruleset
        return ruleset_id

    def rulesets(self, owner: str, repo: str) -> list[JSON]:
        """Return the rulesets that apply to a repository (its own, then its org's)."""
        r = self.repo(owner, repo)
        org = self.account(r.owner).rulesets.values()
        return list(r.rulesets.values()) + [s for s in org if _repo_matches(s, r)]

    def ruleset(self, repo: Repo, ruleset_id: int) -> JSON | None:
        """Return one ruleset visible from a repository."""
        found = repo.rulesets.get(ruleset_id) or self.account(repo.owner).rulesets.get(ruleset_id)
        return (
            found if found and (found in repo.rulesets.values() or _applies(found, repo)) else None
        )

    def rules_for_branch(self, repo: Repo, branch: str) -> list[JSON]:
        """Return the rules of active rulesets that match a branch."""
        rules: list[JSON] = []
        for ruleset in self.rulesets(repo.owner, repo.name):
            if ruleset["enforcement"] != "active" or ruleset["target"] != "branch":
                continue
            if not _ref_matches(ruleset, repo, branch):
                continue
            for rule in ruleset["rules"]:
                rules.append(
                    {
                        **copy.deepcopy(rule),
                        "ruleset_source_type": ruleset["source_type"],
                        "ruleset_source": ruleset["source"],
                        "ruleset_id": ruleset["id"],
                    }
                )
        return rules

    # ---- pulls, issues, comments -----------------------------------------------------

    def add_pull(
        self,
        owner: str,
        repo: str,
        *,
        number: int | None = None,
        head_sha: str,
        base: str = "main",
        author: str,
        merged: bool = False,
        merge_commit_sha: str | None = None,
        state: str = "open",
        head_ref: str = "feature",
        title: str = "Change",
        head_repo: str | None = None,
        commits: Iterable[str] = (),
        association_lag: float | None = None,
    ) -> int:
        """Create a pull request; return its number (`head_repo`: a fork's `owner/name`).

        A merged one is linked to its commits `association_lag` seconds of sandbox clock
        later (default: `self.association_lag`).
        """
        r = self.repo(owner, repo)
        number = number or r.next_number
        r.next_number = max(r.next_number, number + 1)
        self.user(author)
        if head_sha not in r.commits:  # a pull request's head is a commit GitHub knows
            parent = r.branches.get(base)
            self._commit(r, parent, title, author, sha=head_sha)
        r.pulls[number] = {
            "number": number,
            "id": self.new_id(),
            "title": title,
            "head_sha": head_sha,
            "head_ref": head_ref,
            "head_repo": head_repo,
            "commits": list(commits),  # the PR's commits (a rebase merge lands them all)
            "base": base,
            "author": author,
            "merged": merged,
            "merge_commit_sha": merge_commit_sha,
            "state": "closed" if merged else state,
            "created_at": self.now(),
            "associated_at": self.clock.time()
            + (self.association_lag if association_lag is None else association_lag),
        }
        return number

    def add_review(
        self, owner: str, repo: str, number: int, *, user: str, state: str = "APPROVED"
    ) -> JSON:
        """Add a review to a pull request."""
        r = self.repo(owner, repo)
        review: JSON = {
            "id": self.new_id(),
            "user": user,
            "state": state,
            "commit_id": r.pulls[number]["head_sha"],
            "submitted_at": self.now(),
            "body": "",
        }
        self.user(user)
        r.reviews.setdefault(number, []).append(review)
        return review

    def add_issue(
        self,
        owner: str,
        repo: str,
        *,
        title: str,
        body: str = "",
        author: str,
        labels: Iterable[str] = (),
        state: str = "open",
    ) -> JSON:
        """Create an issue; return it (internal shape)."""
        r = self.repo(owner, repo)
        number = r.next_number
        r.next_number += 1
        for label in labels:
            self.ensure_label(r, label)
        issue: JSON = {
            "number": number,
            "id": self.new_id(),
            "title": title,
            "body": body,
            "author": author,
            "labels": list(labels),
            "state": state,
            "created_at": self.now(),
            "updated_at": self.now(),
            "closed_at": None,
            "via_app": author == self.bot_login,
        }
        self.user(author)
        r.issues[number] = issue
        return issue

    def add_comment(self, owner: str, repo: str, number: int, *, body: str, author: str) -> JSON:
        """Add a comment to an issue or pull request."""
        r = self.repo(owner, repo)
        comment: JSON = {
            "id": self.new_id(),
            "number": number,
            "body": body,
            "author": author,
            "created_at": self.now(),
            "updated_at": self.now(),
            "via_app": author == self.bot_login,
        }
        self.user(author)
        r.comments.setdefault(number, []).append(comment)
        self.comment_index[comment["id"]] = (r.id, number)
        return comment

    def find_comment(self, comment_id: int) -> tuple[Repo, JSON] | None:
        """Return the repository and the comment with an id."""
        where = self.comment_index.get(comment_id)
        repo = self.repos_by_id.get(where[0]) if where else None
        if not where or not repo:
            return None
        found = [c for c in repo.comments.get(where[1], []) if c["id"] == comment_id]
        return (repo, found[0]) if found else None

    def ensure_label(self, repo: Repo, name: str, color: str = "ededed") -> JSON:
        """Return a label, creating it when missing."""
        if name.lower() not in repo.labels:
            repo.labels[name.lower()] = {
                "id": self.new_id(),
                "name": name,
                "color": color,
                "description": None,
                "default": False,
            }
        return repo.labels[name.lower()]

    def issues(self, owner: str, repo: str) -> list[JSON]:
        """Return a repository's issues (internal shape) in creation order."""
        return list(self.repo(owner, repo).issues.values())

    def comments(self, owner: str, repo: str, number: int) -> list[JSON]:
        """Return the comments on an issue or pull request."""
        return list(self.repo(owner, repo).comments.get(number, []))

    def commit_comments(self, owner: str, repo: str) -> list[JSON]:
        """Return a repository's commit comments."""
        return list(self.repo(owner, repo).commit_comments)

    def check_runs(self, owner: str, repo: str) -> list[JSON]:
        """Return a repository's check runs."""
        return list(self.repo(owner, repo).check_runs.values())

    def labels(self, owner: str, repo: str) -> list[JSON]:
        """Return a repository's labels."""
        return list(self.repo(owner, repo).labels.values())

    def reactions(self, kind: str, subject_id: int) -> list[JSON]:
        """Return the reactions on a subject (kind "issue_comment", "issue", ...)."""
        return list(self.reaction_store.get((kind, subject_id), []))

    def add_check_run(
        self, owner: str, repo: str, body: JSON, *, app_id: int | None = None
    ) -> JSON:
        """Create a check run from a POST-shaped body (app_id: who reports it)."""
        r = self.repo(owner, repo)
        run: JSON = {
            "id": self.new_id(),
            "status": "queued",
            "conclusion": None,
            "output": {},
            "actions": [],
            "started_at": self.now(),
            "completed_at": None,
            "app_id": app_id or self.app_id,
            "external_id": "",
            "details_url": None,
            **copy.deepcopy(body),
        }
        if run.get("conclusion"):
            run["status"] = "completed"
        r.check_runs[run["id"]] = run
        self.check_run_index[run["id"]] = r.id
        return run

    # ---- the App's registration (the manifest flow) -----------------------------------

    def register_app(self, manifest: JSON, owner: str, public_key: str, secret: str) -> None:
        """Register the App anew from a manifest: id, name, permissions, events, webhook.

        The sandbox serves one App: a registration replaces the one it had (tokens of the
        old registration stop working; installations stay, as the new App's).
        """
        self.app_id = self.new_id()
        self.app_name = str(manifest.get("name") or "Bulwark")
        self.app_slug = slug(self.app_name)
        self.app_description = str(manifest.get("description") or "")
        self.app_url = str(manifest.get("url") or "")
        self.bot_login = f"{self.app_slug}[bot]"
        self.bot_user = self.add_user(self.bot_login, bot=True)
        self.app_owner = owner
        self.app_public_key = public_key
        self.app_permissions = {
            str(k): str(v) for k, v in (manifest.get("default_permissions") or {}).items()
        }
        self.app_events = [str(e) for e in manifest.get("default_events") or []]
        hook = manifest.get("hook_attributes") or {}
        self.webhook_secret = secret
        self.hook_config = {
            "url": str(hook.get("url", "")),
            "content_type": "json",
            "secret": secret,
            "insecure_ssl": "0",
        }
        for token in self.tokens.values():
            token.revoked = True

    # ---- merging ---------------------------------------------------------------------

    def slug_of_app(self, app_id: int) -> str:
        """Return the slug of an app by its id."""
        if app_id == self.app_id:
            return self.app_slug
        return next((s for s, i in self.apps.items() if i == app_id), f"app-{app_id}")

    def required_on(self, repo: Repo, branch: str) -> tuple[list[tuple[str, int | None]], int]:
        """Return the checks (context, app id) and approvals a branch requires, both sources."""
        checks: list[tuple[str, int | None]] = []
        reviews = 0
        stored = repo.protections.get(branch)
        if stored is not None:
            status = stored["required_status_checks"] or {}
            checks += [(c["context"], c["app_id"]) for c in status.get("checks", [])]
            pr = stored["required_pull_request_reviews"]
            reviews = int(pr["required_approving_review_count"]) if pr else 0
        for rule in self.rules_for_branch(repo, branch):
            params = rule.get("parameters") or {}
            if rule["type"] == "required_status_checks":
                checks += [
                    (c["context"], c.get("integration_id"))
                    for c in params.get("required_status_checks", [])
                ]
            elif rule["type"] == "pull_request":
                reviews = max(reviews, int(params.get("required_approving_review_count", 0)))
        return checks, reviews

    def merge_blockers(self, repo: Repo, pull: JSON) -> list[str]:
        """Say why GitHub would refuse to merge a pull request now (none: it may merge).

        Answers as GitHub's 405 does, e.g. 'Required status check "ci" is expected.' and
        'At least 1 approving review is required by reviewers with write access.'
        (public reports: https://github.com/PennyDreadfulMTG/Penny-Dreadful-Tools/issues/6226,
        https://github.com/Reviewable/Reviewable/issues/561).
        """
        checks, reviews = self.required_on(repo, pull["base"])
        reported = self.reports(repo, pull["head_sha"])
        blockers = [
            f'Required status check "{context}" is expected.'
            for context, app_id in dict.fromkeys(checks)
            if not any(_passes(r, context, app_id) for r in reported)
        ]
        if _approvals(repo.reviews.get(pull["number"], []), pull["author"]) < reviews:
            noun = "review is" if reviews == 1 else "reviews are"
            blockers.append(
                f"At least {reviews} approving {noun} required by reviewers with write access."
            )
        return blockers

    def merge_pull(self, repo: Repo, pull: JSON) -> str:
        """Merge a pull request with a merge commit on its base; return the commit's sha."""
        parent = repo.branches.get(pull["base"])
        sha = self._commit(repo, parent, f"Merge pull request #{pull['number']}", pull["author"])
        repo.commits[sha]["parents"] = [p for p in (parent, pull["head_sha"]) if p]
        repo.branches[pull["base"]] = sha
        pull.update(merged=True, state="closed", merge_commit_sha=sha, merged_at=self.now())
        return sha

    # ---- installations and tokens ----------------------------------------------------

    def install(
        self,
        org: str,
        *,
        repositories: list[str] | None = None,
        suspended: bool = False,
        permissions: Mapping[str, str] | None = None,
    ) -> int:
        """Install the App on an account (all repositories or the named ones); return its id.

        The installation is granted `permissions`, else the App's (`app_permissions`).
        """
        account = self.account(org)
        ids = None
        if repositories is not None:
            ids = {account.repos[n.lower()].id for n in repositories}
        granted = permissions if permissions is not None else self.app_permissions
        inst = Installation(
            self.new_id(), account.login, ids, suspended, self.clock.time(),
            dict(granted) if granted is not None else None,
        )  # fmt: skip
        self.installations[inst.id] = inst
        return inst.id

    def uninstall(self, installation_id: int) -> None:
        """Remove an installation and its tokens."""
        self.installations.pop(installation_id, None)
        self.revoke_tokens(installation_id)

    def revoke_tokens(self, installation_id: int) -> None:
        """Revoke every token of an installation."""
        for token in self.tokens.values():
            if token.installation_id == installation_id:
                token.revoked = True

    def installation_for(self, account: str) -> Installation | None:
        """Return the installation on an account, if any."""
        login = account.lower()
        return next((i for i in self.installations.values() if i.account.lower() == login), None)

    def create_token(self, installation_id: int, repository_ids: set[int] | None = None) -> Token:
        """Mint an installation access token valid for one hour by the clock."""
        value = "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")
        token = Token(value, installation_id, self.clock.time() + TOKEN_LIFETIME, repository_ids)
        self.tokens[value] = token
        return token

    def is_pull_request(
        self, owner: str, repo: str, number: str | None, comment_id: str | None
    ) -> bool:
        """Return whether an issue number, or an issue comment's thread, is a pull request."""
        found = self.find_repo(owner, repo)
        if found is None:
            return False
        if comment_id is not None and comment_id.isdigit():
            where = self.comment_index.get(int(comment_id))
            return where is not None and where[1] in found.pulls
        return number is not None and number.isdigit() and int(number) in found.pulls

    def installation_repos(self, inst: Installation) -> list[Repo]:
        """Return the repositories an installation can reach."""
        account = self.account(inst.account)
        if inst.repository_ids is None:
            return list(account.repos.values())
        return [self.repos_by_id[i] for i in inst.repository_ids if i in self.repos_by_id]

    def can_reach(self, inst: Installation, repo: Repo, token: Token | None = None) -> bool:
        """Return whether an installation (and token) may see a repository."""
        if repo.owner.lower() != inst.account.lower():
            return False
        if inst.repository_ids is not None and repo.id not in inst.repository_ids:
            return False
        return token is None or token.repository_ids is None or repo.id in token.repository_ids


# ---- merging -------------------------------------------------------------------------

PASSING = frozenset({"success", "neutral", "skipped"})


def _passes(report: JSON, context: str, app_id: int | None) -> bool:
    """Tell whether a check run or status satisfies a required check."""
    if "context" in report:  # a commit status: no app, so no pinned check takes it
        return report["context"] == context and report["state"] == "success" and app_id is None
    if report["name"] != context or report["conclusion"] not in PASSING:
        return False
    return app_id in (None, -1) or report["app_id"] == app_id


def _approvals(reviews: list[JSON], author: str) -> int:
    """Count people whose latest decisive review approves (the author's own never counts)."""
    latest: dict[str, str] = {}
    for review in reviews:
        if review["state"] in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review["user"].lower()] = review["state"]
    return sum(1 for who, s in latest.items() if s == "APPROVED" and who != author.lower())


# ---- protection shapes ---------------------------------------------------------------


def reporters(repo: Repo) -> dict[str, int]:
    """Map each check name to the app that reported it last on the repository."""
    return {run["name"]: int(run["app_id"]) for run in repo.check_runs.values()}


def normalize_protection(
    body: JSON, old: JSON | None = None, reporters: Mapping[str, int] | None = None
) -> JSON:
    """Turn a PUT body into the stored protection; required signatures are kept from `old`.

    `reporters` maps a check's name to the app that last reported it on the repository.
    """
    checks = body.get("required_status_checks")
    stored: JSON = {
        "required_status_checks": _normalize_checks(checks, reporters or {}) if checks else None,
        "enforce_admins": bool(body.get("enforce_admins")),
        "required_pull_request_reviews": _normalize_reviews(
            body.get("required_pull_request_reviews")
        ),
        "restrictions": copy.deepcopy(body.get("restrictions")),
        "required_signatures": bool(old and old.get("required_signatures")),
        # Not in the PUT body: a PUT replaces the whole configuration and drops them.
        "required_deployment_environments": [],
        "force_push_bypass": [],
    }
    for flag in PROTECTION_FLAGS:
        stored[flag] = bool(body.get(flag))
    return stored


def _normalize_checks(checks: JSON, reporters: Mapping[str, int]) -> JSON:
    """Store required checks as GitHub does: an omitted app_id binds the last reporter.

    `-1` means any source (shown as null); an app_id left out (or a legacy
    `contexts` entry) binds the check to the app that last reported it, if any.
    """
    if checks.get("checks") is not None:
        given = [(c["context"], c.get("app_id", OMITTED)) for c in checks["checks"]]
    else:
        given = [(c, OMITTED) for c in checks.get("contexts") or []]
    entries = [
        {
            "context": context,
            "app_id": reporters.get(context) if app_id is OMITTED else app_id,
        }
        for context, app_id in given
    ]
    for entry in entries:
        if entry["app_id"] == -1:
            entry["app_id"] = None
    return {"strict": bool(checks.get("strict")), "checks": entries}


OMITTED = object()


def patch_status_checks(stored: JSON, body: JSON, reporters: Mapping[str, int]) -> None:
    """Apply a PATCH …/required_status_checks body: the fields given replace the stored ones."""
    current = stored["required_status_checks"]
    if "checks" in body or "contexts" in body:
        current["checks"] = _normalize_checks(body, reporters)["checks"]
    if "strict" in body:
        current["strict"] = bool(body["strict"])


REVIEW_FIELDS = (
    "dismiss_stale_reviews",
    "require_code_owner_reviews",
    "required_approving_review_count",
    "require_last_push_approval",
    "dismissal_restrictions",
    "bypass_pull_request_allowances",
)


def patch_reviews(stored: JSON, body: JSON) -> None:
    """Apply a PATCH …/required_pull_request_reviews body: the fields given replace the stored."""
    current = stored["required_pull_request_reviews"]
    for key in REVIEW_FIELDS:
        if key in body:
            current[key] = copy.deepcopy(body[key])


def _normalize_reviews(reviews: JSON | None) -> JSON | None:
    if reviews is None:
        return None
    return {
        "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
        "require_code_owner_reviews": bool(reviews.get("require_code_owner_reviews")),
        "required_approving_review_count": int(reviews.get("required_approving_review_count", 1)),
        "require_last_push_approval": bool(reviews.get("require_last_push_approval")),
        "dismissal_restrictions": reviews.get("dismissal_restrictions"),
        "bypass_pull_request_allowances": reviews.get("bypass_pull_request_allowances"),
    }


def render_protection(stored: JSON, url: str) -> JSON:
    """Render stored protection in GET's shape: absent features omitted, flags as {enabled}."""
    out: JSON = {"url": url}
    checks = stored["required_status_checks"]
    if checks:
        out["required_status_checks"] = {
            "url": f"{url}/required_status_checks",
            "strict": checks["strict"],
            "contexts": [c["context"] for c in checks["checks"]],
            "contexts_url": f"{url}/required_status_checks/contexts",
            "checks": copy.deepcopy(checks["checks"]),
        }
    reviews = stored["required_pull_request_reviews"]
    if reviews:
        out["required_pull_request_reviews"] = _render_reviews(reviews, url)
    if stored["restrictions"] is not None:
        out["restrictions"] = _render_restrictions(stored["restrictions"], url)
    out["required_signatures"] = {
        "url": f"{url}/required_signatures",
        "enabled": stored["required_signatures"],
    }
    out["enforce_admins"] = {"url": f"{url}/enforce_admins", "enabled": stored["enforce_admins"]}
    for flag in PROTECTION_FLAGS:
        out[flag] = {"enabled": stored[flag]}
    return out


def _render_reviews(reviews: JSON, url: str) -> JSON:
    out = {
        "url": f"{url}/required_pull_request_reviews",
        "dismiss_stale_reviews": reviews["dismiss_stale_reviews"],
        "require_code_owner_reviews": reviews["require_code_owner_reviews"],
        "required_approving_review_count": reviews["required_approving_review_count"],
        "require_last_push_approval": reviews["require_last_push_approval"],
    }
    if reviews.get("dismissal_restrictions"):
        out["dismissal_restrictions"] = _render_restrictions(
            reviews["dismissal_restrictions"], f"{url}/dismissal_restrictions"
        )
    allowances = reviews.get("bypass_pull_request_allowances")
    if allowances and any(allowances.get(k) for k in ("users", "teams", "apps")):
        out["bypass_pull_request_allowances"] = {
            "users": [_user(u) for u in allowances.get("users", [])],
            "teams": [_team(t) for t in allowances.get("teams", [])],
            "apps": [{"slug": a} for a in allowances.get("apps", [])],
        }
    return out


def _user(login: str) -> JSON:
    return {"login": login, "type": "User"}


def _team(slug: str) -> JSON:
    return {"slug": slug, "name": slug}


def _render_restrictions(restrictions: JSON, url: str) -> JSON:
    base = url if url.endswith("dismissal_restrictions") else f"{url}/restrictions"
    return {
        "url": base,
        "users_url": f"{base}/users",
        "teams_url": f"{base}/teams",
        "apps_url": f"{base}/apps",
        "users": [_user(u) for u in restrictions.get("users", [])],
        "teams": [_team(t) for t in restrictions.get("teams", [])],
        "apps": [{"slug": a} for a in restrictions.get("apps", [])],
    }


# ---- ruleset conditions ----------------------------------------------------------------


def _ref_matches(ruleset: JSON, repo: Repo, branch: str) -> bool:
    cond = ruleset.get("conditions", {}).get("ref_name")
    if not cond:
        return False
    include, exclude = cond.get("include", []), cond.get("exclude", [])
    return ruleset_refs_match(f"refs/heads/{branch}", include, exclude, repo.default_branch)


def _repo_matches(ruleset: JSON, repo: Repo) -> bool:
    conditions = ruleset.get("conditions", {})
    by_id = conditions.get("repository_id")
    if by_id is not None:
        return repo.id in (by_id.get("repository_ids") or [])
    cond = conditions.get("repository_name")
    if not cond:
        return True
    return ruleset_repos_match(repo.name, cond.get("include", []), cond.get("exclude", []))


def _applies(ruleset: JSON, repo: Repo) -> bool:
    return ruleset.get("source_type") == "Organization" and _repo_matches(ruleset, repo)


def b64(text: str) -> str:
    """Encode text as GitHub's contents API does (base64 with line breaks)."""
    raw = base64.b64encode(text.encode()).decode()
    return "\n".join(raw[i : i + 60] for i in range(0, len(raw), 60)) + "\n"


def git_blob_sha(text: str) -> str:
    """Return git's blob sha of a text."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324


@dataclass
class HookDelivery:
    """One attempt to deliver a webhook to the App, as GitHub's delivery log keeps it."""

    id: int
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None
    payload: JSON
    delivered_at: float
    status_code: int
    status: str
    redelivery: bool = False
    duration: float = 0.0


def slug(name: str) -> str:
    """Return the slug GitHub makes of an App's name (lower case, non-alphanumerics to '-')."""
    out = "".join(c if c.isalnum() else "-" for c in name.lower())
    return "-".join(part for part in out.split("-") if part) or "app"
