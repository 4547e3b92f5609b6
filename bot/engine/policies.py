"""Where policy comes from: the org's `.github` repository and each repository's default branch."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache, TTLCache

from bot.clock import Clock, SystemClock
from bot.core.policy import (
    ORG_POLICY_REPO,
    POLICY_PATH,
    Policy,
    PolicyError,
    load_policy_file,
    org_policy,
    repo_policy,
)
from bot.github.gateway import Gateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrgPolicy:
    """The org policy in force, and the errors of the file if it was refused."""

    policy: Policy
    errors: tuple[PolicyError, ...] = ()


def _cache(maxsize: int, ttl: float | None, clock: Clock | None) -> MutableMapping[str, Any]:
    if ttl is None:
        return LRUCache(maxsize=maxsize)
    timer = (clock or SystemClock()).monotonic
    return TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)


class PolicyStore:
    """Load org and repo policy from default branches; keep the last valid org policy.

    Only the default branch is ever read (`ref=None`): a pull request's head,
    or any other branch, can never change what Bulwark enforces.
    """

    def __init__(
        self, maxsize: int = 10_000, *, ttl: float | None = None, clock: Clock | None = None
    ) -> None:
        # One process sees every push that changes a policy file and forgets at once. A
        # fleet member does not, so it keeps files at most `ttl` seconds (ETags make the
        # re-reads free of rate limit).
        self._orgs: MutableMapping[str, OrgPolicy] = _cache(maxsize, ttl, clock)
        self._last_valid: LRUCache[str, Mapping[str, Any] | None] = LRUCache(maxsize=maxsize)
        self._repo_files: MutableMapping[str, tuple[str | None]] = _cache(10 * maxsize, ttl, clock)

    def forget(self, org: str) -> None:
        """Drop the cached org policy so the next read loads the file again."""
        self._orgs.pop(org.lower(), None)

    def forget_repo(self, repo: str) -> None:
        """Drop a repository's cached policy file (a push changed it)."""
        self._repo_files.pop(repo.lower(), None)

    def clear(self) -> None:
        """Forget every cached file; the periodic resync reads them all again."""
        self._orgs.clear()
        self._repo_files.clear()

    async def org(self, gh: Gateway, org: str) -> OrgPolicy:
        """Return the org policy, loading `.github/repo-protection.yml` once per change."""
        key = org.lower()
        cached = self._orgs.get(key)
        if cached is None:
            cached = await self._load_org(gh, org)
            self._orgs[key] = cached
        return cached

    async def _load_org(self, gh: Gateway, org: str) -> OrgPolicy:
        text = await gh.file_text(org, ORG_POLICY_REPO, POLICY_PATH)
        if text is None:
            self._last_valid[org.lower()] = None
            return OrgPolicy(org_policy(None))
        filename = f"{org}/{ORG_POLICY_REPO}:{POLICY_PATH}"
        doc, errors = load_policy_file(text, filename)
        if errors or doc is None:
            log.warning("org policy refused, the last valid one stays", extra={"org": org})
            return OrgPolicy(org_policy(self._last_valid.get(org.lower())), tuple(errors))
        self._last_valid[org.lower()] = doc
        return OrgPolicy(org_policy(doc))

    async def _repo_file(self, gh: Gateway, owner: str, repo: str) -> str | None:
        key = f"{owner}/{repo}".lower()
        cached = self._repo_files.get(key)
        if cached is None:
            cached = (await gh.file_text(owner, repo, POLICY_PATH),)
            self._repo_files[key] = cached
        return cached[0]

    def remember_file(self, owner: str, repo: str, text: str | None) -> None:
        """Keep a repository's policy file as another read (GraphQL) just saw it, if not kept."""
        key = f"{owner}/{repo}".lower()
        if self._repo_files.get(key) is None:
            self._repo_files[key] = (text,)

    async def for_repo(
        self, gh: Gateway, owner: str, repo: str
    ) -> tuple[Policy, tuple[PolicyError, ...]]:
        """Return the policy for one repository and any errors of its (or the org's) file."""
        org = await self.org(gh, owner)
        if repo.lower() == ORG_POLICY_REPO:
            return org.policy, org.errors
        text = await self._repo_file(gh, owner, repo)
        if text is None:
            return org.policy, org.errors
        filename = f"{owner}/{repo}:{POLICY_PATH}"
        doc, errors = load_policy_file(text, filename)
        if errors or doc is None:
            return org.policy, org.errors + tuple(errors)
        policy, weakening = repo_policy(org.policy, doc, filename)
        return policy, org.errors + tuple(weakening)
