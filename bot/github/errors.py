"""The few failures the rest of Bulwark sees from GitHub, translated in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gidgethub import GitHubBroken, HTTPException, RateLimitExceeded

_PLAN_LIMIT = "upgrade to github pro"
_PROTECTION_DISABLED = "branch protection has been disabled"
_ARCHIVED = "archived"
_SECONDARY = "secondary rate limit"


class GitHubError(Exception):
    """A request GitHub refused or could not answer; never carries a token."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}" if status else message)
        self.status = status
        self.message = message


class NotFound(GitHubError):
    """404: the thing does not exist (or the token may not see it)."""


class NotSupported(GitHubError):
    """403: the feature needs a paid plan (e.g. protection on a private repo on Free)."""


class ProtectionDisabled(GitHubError):
    """404: classic branch protection is disabled for this repository."""


class Forbidden(GitHubError):
    """403: not allowed; `archived` when the repository is archived (read-only)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.archived = _ARCHIVED in message.lower()


class Unauthorized(GitHubError):
    """401: the credentials were refused, even after one refresh."""


class Invalid(GitHubError):
    """422: GitHub's validation failed; `errors` is GitHub's list."""

    def __init__(self, status: int, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(status, message)
        self.errors: list[Any] = list(errors or [])

    def has_code(self, code: str) -> bool:
        """Tell whether one of GitHub's errors carries this code (e.g. already_exists)."""
        return any(isinstance(e, Mapping) and e.get("code") == code for e in self.errors)


class Gone(GitHubError):
    """410: the feature is off for this repository (e.g. issues disabled)."""


class Unavailable(GitHubError):
    """5xx, connection failure or timeout, after the retries ran out."""


class RateLimited(GitHubError):
    """A rate limit whose reset is further away than the retry policy allows to wait."""

    def __init__(self, reset_at: float, message: str = "rate limit exceeded") -> None:
        super().__init__(403, message)
        self.reset_at = reset_at


def is_secondary_limit(exc: HTTPException) -> bool:
    """Tell whether a 403/429 is GitHub's secondary (abuse) rate limit."""
    if int(exc.status_code) not in (403, 429) or isinstance(exc, RateLimitExceeded):
        return False
    if "retry-after" in exc.headers or int(exc.status_code) == 429:
        return True
    return _SECONDARY in str(exc).lower()


def translate(exc: HTTPException) -> GitHubError:
    """Turn one of gidgethub's HTTP exceptions into a Bulwark error."""
    status = int(exc.status_code)
    message = _message(exc)
    lowered = message.lower()
    if isinstance(exc, GitHubBroken) or status >= 500:
        return Unavailable(status, message)
    if isinstance(exc, RateLimitExceeded):
        return RateLimited(exc.rate_limit.reset_datetime.timestamp(), message)
    if status == 401:
        return Unauthorized(status, message)
    if status == 403 and _PLAN_LIMIT in lowered:
        return NotSupported(status, message)
    if status in (403, 429) and is_secondary_limit(exc):
        return RateLimited(0.0, message)
    if status == 403:
        return Forbidden(status, message)
    if status == 404 and _PROTECTION_DISABLED in lowered:
        return ProtectionDisabled(status, message)
    if status == 404:
        return NotFound(status, message)
    if status == 410:
        return Gone(status, message)
    if status == 422:
        return Invalid(status, message, _errors(exc))
    return GitHubError(status, message)


def _message(exc: HTTPException) -> str:
    if exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return exc.status_code.phrase


def _errors(exc: HTTPException) -> list[Any]:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list):
        return errors
    return [errors] if errors else []


class QueryFailed(GitHubError):
    """A GraphQL query answered with errors; `errors` is GitHub's list."""

    def __init__(self, errors: list[Any]) -> None:
        messages = "; ".join(
            str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors
        )
        super().__init__(200, messages or "GraphQL query failed")
        self.errors = errors
