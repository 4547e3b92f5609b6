"""Bulwark's way to GitHub: authentication, one disciplined client, and the gateway."""

from bot.github.clients import GitHubClients
from bot.github.errors import (
    Forbidden,
    GitHubError,
    Gone,
    Invalid,
    NotFound,
    NotSupported,
    ProtectionDisabled,
    QueryFailed,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from bot.github.gateway import AppGateway, Gateway

__all__ = [
    "AppGateway",
    "Forbidden",
    "Gateway",
    "GitHubClients",
    "GitHubError",
    "Gone",
    "Invalid",
    "NotFound",
    "NotSupported",
    "ProtectionDisabled",
    "QueryFailed",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
]
