"""Settings: read once from the environment (and `.env`), validated, frozen."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

DEFAULT_API_URL = "https://api.github.com"


class ConfigError(Exception):
    """A missing or malformed setting; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a `.env` file: KEY=VALUE lines, `#` comments, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def merged_environ(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """Return `.env` values overlaid by the real environment (which wins)."""
    return {**read_dotenv(cwd / ".env"), **environ}


def _graphql_url(api_url: str) -> str:
    # GitHub Enterprise Server serves REST at /api/v3 and GraphQL at /api/graphql.
    trimmed = api_url.rstrip("/")
    if trimmed.endswith("/api/v3"):
        return trimmed[: -len("/v3")] + "/graphql"
    return trimmed + "/graphql"


def _number(environ: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum:g}, got {raw!r}")
    return value


def _private_key(environ: Mapping[str, str]) -> str:
    inline = environ.get("PRIVATE_KEY", "").strip()
    path = environ.get("PRIVATE_KEY_PATH", "").strip()
    if inline:
        key = inline.replace("\\n", "\n")
        name = "PRIVATE_KEY"
    elif path:
        try:
            key = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                "PRIVATE_KEY_PATH", f"cannot read the key file ({exc.strerror})"
            ) from None
        name = "PRIVATE_KEY_PATH"
    else:
        raise ConfigError("PRIVATE_KEY", "missing (set PRIVATE_KEY or PRIVATE_KEY_PATH)")
    if "-----BEGIN" not in key or "PRIVATE KEY-----" not in key:
        raise ConfigError(name, "not a PEM private key")
    _check_rsa_key(name, key)
    return key


def _check_rsa_key(name: str, pem: str) -> None:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(name, "the PEM key cannot be loaded") from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(name, "GitHub App keys are RSA keys")


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything Bulwark reads from its environment."""

    app_id: int
    private_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    webhook_path: str = "/api/github/webhooks"
    github_api_url: str = DEFAULT_API_URL
    github_graphql_url: str = DEFAULT_API_URL + "/graphql"
    host: str = "0.0.0.0"  # noqa: S104 - a web service listens on every interface by default
    port: int = 3000
    write_interval: float = 1.0
    redis_url: str | None = None
    resync_interval: float = 3600.0
    log_level: str = "INFO"
    log_format: str = "json"

    def __repr__(self) -> str:
        return (
            f"Settings(app_id={self.app_id}, api={self.github_api_url!r}, "
            f"webhook_path={self.webhook_path!r}, redis={'on' if self.redis_url else 'off'})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build validated settings; raise ConfigError naming the first bad variable."""
        raw_app_id = environ.get("APP_ID", "").strip()
        if not raw_app_id:
            # One line that says how to get one. `serve` does not start the setup page by
            # itself: a deployment that lost its APP_ID must fail loudly, not come up as a
            # page that registers a new App on a public port.
            raise ConfigError(
                "APP_ID", "missing (the GitHub App's id; `bulwark setup` registers one)"
            )
        if not raw_app_id.isdigit() or int(raw_app_id) <= 0:
            raise ConfigError("APP_ID", f"expected a positive integer, got {raw_app_id!r}")
        private_key = _private_key(environ)
        secret = environ.get("WEBHOOK_SECRET", "")
        if not secret:
            raise ConfigError("WEBHOOK_SECRET", "missing (the webhook's HMAC secret)")
        return cls(
            app_id=int(raw_app_id),
            private_key=private_key,
            webhook_secret=secret,
            **_common(environ),
        )

    @classmethod
    def for_token(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings for a token-only command (`bulwark scan` with GITHUB_TOKEN)."""
        return _token_settings(cls, environ)


def _token_settings(cls: type[Settings], environ: Mapping[str, str]) -> Settings:
    return cls(app_id=0, private_key="", webhook_secret="", **_common(environ))


def _common(environ: Mapping[str, str]) -> dict[str, Any]:
    path = environ.get("WEBHOOK_PATH", "/api/github/webhooks").strip() or "/api/github/webhooks"
    if not path.startswith("/"):
        raise ConfigError("WEBHOOK_PATH", f"must start with '/', got {path!r}")
    api_url = environ.get("GITHUB_API_URL", "").strip().rstrip("/") or DEFAULT_API_URL
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError("GITHUB_API_URL", f"expected an http(s) URL, got {api_url!r}")
    graphql_url = environ.get("GITHUB_GRAPHQL_URL", "").strip() or _graphql_url(api_url)
    port = _number(environ, "PORT", 3000, minimum=0)
    if port != int(port) or port > 65535:
        raise ConfigError("PORT", f"expected a port number, got {environ.get('PORT')!r}")
    level = environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError("LOG_LEVEL", f"expected DEBUG, INFO, WARNING or ERROR, got {level!r}")
    fmt = environ.get("LOG_FORMAT", "").strip().lower() or (
        "text" if sys.stderr.isatty() else "json"
    )
    if fmt not in {"json", "text"}:
        raise ConfigError("LOG_FORMAT", f"expected json or text, got {fmt!r}")
    return {
        "webhook_path": path,
        "github_api_url": api_url,
        "github_graphql_url": graphql_url,
        "host": environ.get("HOST", "0.0.0.0").strip() or "0.0.0.0",  # noqa: S104
        "port": int(port),
        "write_interval": _number(environ, "GITHUB_WRITE_INTERVAL", 1.0, minimum=0),
        "redis_url": environ.get("REDIS_URL", "").strip() or None,
        "resync_interval": _number(environ, "RESYNC_INTERVAL", 3600, minimum=1),
        "log_level": level,
        "log_format": fmt,
    }


def load_settings() -> Settings:
    """Build Settings from the process environment overlaid on `./.env`."""
    return Settings.from_env(merged_environ(os.environ, Path.cwd()))
