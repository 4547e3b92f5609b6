"""App authentication: the App's JWT and a cache of installation tokens."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import jwt as pyjwt
from cachetools import LRUCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.clock import Clock

log = logging.getLogger(__name__)

# GitHub refuses JWTs that live longer than ten minutes; backdate iat for clock drift.
# https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
_JWT_BACKDATE = 60
_JWT_LIFETIME = 540
_JWT_REFRESH_MARGIN = 60
_TOKEN_REFRESH_MARGIN = 300
_MAX_INSTALLATIONS = 100_000

TokenRequest = Callable[[int], Awaitable[tuple[str, float]]]


class AppAuth:
    """Signs the App's JWT (RS256) on the injected clock and reuses it while fresh."""

    def __init__(self, app_id: int, private_key: str, clock: Clock) -> None:
        self.app_id = app_id
        self._private_key = private_key
        # Parsed once, at start-up, then kept: parsing and checking an RSA key costs tens
        # of milliseconds, which a JWT signed every nine minutes would spend on the event
        # loop. Settings have checked the key; an unreadable one fails at the first JWT.
        self._key: RSAPrivateKey | None = None
        with contextlib.suppress(pyjwt.InvalidKeyError):
            self._key = _rsa_key(private_key)
        self._clock = clock
        self._jwt: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self.app_id})"

    def jwt(self) -> str:
        """Return the App's JWT, signing a new one a minute before the old one expires."""
        now = self._clock.time()
        if self._jwt is None or now >= self._expires_at - _JWT_REFRESH_MARGIN:
            issued = int(now)
            self._expires_at = issued + _JWT_LIFETIME
            claims = {"iat": issued - _JWT_BACKDATE, "exp": issued + _JWT_LIFETIME}
            claims_with_issuer = {**claims, "iss": str(self.app_id)}
            if self._key is None:
                self._key = _rsa_key(self._private_key)
            self._jwt = pyjwt.encode(claims_with_issuer, self._key, algorithm="RS256")
        return self._jwt


def _rsa_key(pem: str) -> RSAPrivateKey:
    """Parse the App's private key (PEM); pyjwt's own error for anything else."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise pyjwt.InvalidKeyError(f"the App's private key cannot be read: {exc}") from None
    if not isinstance(key, RSAPrivateKey):
        raise pyjwt.InvalidKeyError("the App's private key is not an RSA key")
    return key


class TokenCache:
    """Installation tokens, reused until five minutes before they expire."""

    def __init__(self, app_auth: AppAuth, request_token: TokenRequest, clock: Clock) -> None:
        self.app_auth = app_auth
        self._request_token = request_token
        self._clock = clock
        self._tokens: LRUCache[int, tuple[str, float]] = LRUCache(maxsize=_MAX_INSTALLATIONS)
        self._pending: dict[int, asyncio.Task[tuple[str, float]]] = {}

    def __repr__(self) -> str:
        return f"TokenCache(app_id={self.app_auth.app_id}, cached={len(self._tokens)})"

    async def token(self, installation_id: int) -> str:
        """Return a fresh installation token; concurrent callers share one request."""
        cached = self._tokens.get(installation_id)
        if cached is not None and self._clock.time() < cached[1] - _TOKEN_REFRESH_MARGIN:
            return cached[0]
        task = self._pending.get(installation_id)
        if task is None:
            task = asyncio.ensure_future(self._fetch(installation_id))
            self._pending[installation_id] = task
        token, _ = await asyncio.shield(task)
        return token

    def invalidate(self, installation_id: int, token: str) -> None:
        """Forget the installation's token, if it is still the one given."""
        cached = self._tokens.get(installation_id)
        if cached is not None and cached[0] == token:
            del self._tokens[installation_id]
            log.info("installation token refused; dropped", extra={"installation": installation_id})

    async def _fetch(self, installation_id: int) -> tuple[str, float]:
        try:
            token, expires_at = await self._request_token(installation_id)
            self._tokens[installation_id] = (token, expires_at)
            return token, expires_at
        finally:
            self._pending.pop(installation_id, None)
