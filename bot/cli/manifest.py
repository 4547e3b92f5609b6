"""Find and read the App's manifest: `./app.yml`, else the one Bulwark ships with."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bot.core.manifest import Manifest, ManifestError, parse_manifest
from bot.settings import ConfigError


def load_manifest(path: Path | None = None) -> Manifest:
    """Read the manifest at `path`, else `./app.yml`, else the packaged copy."""
    if path is None and Path("app.yml").is_file():
        path = Path("app.yml")
    try:
        if path is None:
            text = resources.files("bot").joinpath("data/app.yml").read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        return parse_manifest(text)
    except OSError as exc:
        raise ConfigError("--manifest", f"cannot read {path}: {exc.strerror}") from None
    except ManifestError as exc:
        raise ConfigError("--manifest", str(exc)) from None


def app_permissions() -> dict[str, str]:
    """Return the permissions the shipped manifest asks for (the demo's installation gets them)."""
    text = resources.files("bot").joinpath("data/app.yml").read_text(encoding="utf-8")
    return dict(parse_manifest(text).permissions)
