"""Builds gateways: one session, one token cache, per-installation caches and write gates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from cachetools import LRUCache

from bot.clock import Clock
from bot.github.auth import AppAuth, TokenCache
from bot.github.client import ClientMetrics, GitHubClient, RetryPolicy, WriteGate
from bot.github.gateway import AppGateway, Gateway, ManifestGateway

ETAG_CACHE_SIZE = 500
MAX_INSTALLATIONS = 10_000
READS_PER_INSTALLATION = 8
_APP = 0  # the App's own lane (JWT calls); installation ids are positive


class AppSettings(Protocol):
    """The settings GitHubClients reads (bot.settings.Settings has them)."""

    @property
    def app_id(self) -> int: ...
    @property
    def private_key(self) -> str: ...
    @property
    def github_api_url(self) -> str: ...
    @property
    def github_graphql_url(self) -> str: ...
    @property
    def write_interval(self) -> float: ...


@dataclass
class _Lane:
    """What one installation does not share with any other."""

    writes: WriteGate
    reads: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(READS_PER_INSTALLATION)
    )
    etags: LRUCache[str, Any] = field(default_factory=lambda: LRUCache(maxsize=ETAG_CACHE_SIZE))


class GitHubClients:
    """The process's way to GitHub: gateways per installation, for the App, or for a token."""

    def __init__(
        self,
        app_id: int,
        private_key: str,
        api_url: str,
        graphql_url: str,
        write_interval: float,
        *,
        session: aiohttp.ClientSession,
        clock: Clock,
        retry: RetryPolicy,
        metrics: ClientMetrics | None = None,
        requester: str = "bulwark",
    ) -> None:
        self.app_auth = AppAuth(app_id, private_key, clock)
        self.api_url = api_url
        self.graphql_url = graphql_url
        self.write_interval = write_interval
        self.session = session
        self.clock = clock
        self.retry = retry
        self.metrics = metrics
        self.requester = requester
        self.tokens = TokenCache(self.app_auth, self._request_token, clock)
        self._lanes: LRUCache[int, _Lane] = LRUCache(maxsize=MAX_INSTALLATIONS)

    def __repr__(self) -> str:
        return f"GitHubClients(app_id={self.app_auth.app_id}, api={self.api_url!r})"

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: AppSettings,
        *,
        clock: Clock,
        retry: RetryPolicy | None = None,
        metrics: ClientMetrics | None = None,
    ) -> AsyncIterator[GitHubClients]:
        """Open the process's one ClientSession and close it afterwards."""
        async with aiohttp.ClientSession() as session:
            yield cls(
                settings.app_id,
                settings.private_key,
                settings.github_api_url,
                settings.github_graphql_url,
                settings.write_interval,
                session=session,
                clock=clock,
                retry=retry or RetryPolicy(),
                metrics=metrics,
            )

    def for_installation(self, installation_id: int) -> Gateway:
        """Return a gateway acting as one installation."""
        tokens = self.tokens

        async def token() -> str:
            return await tokens.token(installation_id)

        def refused(stale: str) -> None:
            tokens.invalidate(installation_id, stale)

        client = self._client(
            self._lane(installation_id),
            token_provider=token,
            on_unauthorized=refused,
            installation_id=installation_id,
        )
        return Gateway(client, self.graphql_url)

    def for_app(self) -> AppGateway:
        """Return a gateway acting as the App itself (JWT)."""
        return AppGateway(self._client(self._lane(_APP), jwt_provider=self.app_auth.jwt))

    def for_token(self, token: str) -> Gateway:
        """Return a gateway acting with a fixed token (a PAT or an Actions token)."""

        async def fixed() -> str:
            return token

        lane = _Lane(writes=WriteGate(self.write_interval, self.clock))
        return Gateway(self._client(lane, token_provider=fixed), self.graphql_url)

    async def _request_token(self, installation_id: int) -> tuple[str, float]:
        return await self.for_app().installation_token(installation_id)

    def _lane(self, key: int) -> _Lane:
        lane = self._lanes.get(key)
        if lane is None:
            lane = _Lane(writes=WriteGate(self.write_interval, self.clock))
            self._lanes[key] = lane
        return lane

    def _client(self, lane: _Lane, **auth: Any) -> GitHubClient:
        return GitHubClient(
            self.session,
            self.requester,
            base_url=self.api_url,
            cache=lane.etags,
            clock=self.clock,
            retry=self.retry,
            writes=lane.writes,
            reads=lane.reads,
            metrics=self.metrics,
            **auth,
        )


def manifest_gateway(
    session: aiohttp.ClientSession, api_url: str, *, clock: Clock, retry: RetryPolicy
) -> ManifestGateway:
    """Return a gateway with no credentials, for the manifest flow's one exchange."""
    client = GitHubClient(
        session,
        "bulwark",
        base_url=api_url,
        clock=clock,
        retry=retry,
        writes=WriteGate(0.0, clock),
        reads=asyncio.Semaphore(1),
    )
    return ManifestGateway(client)
