"""The App's manifest as the project ships it (app.yml), for the demo, benchmarks and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

APP_YML = Path(__file__).resolve().parents[2] / "app.yml"


def app_permissions(path: Path = APP_YML) -> dict[str, str] | None:
    """Return the manifest's `default_permissions`; None where no app.yml ships alongside."""
    if not path.is_file():
        return None
    manifest: Any = yaml.safe_load(path.read_text())
    return {str(k): str(v) for k, v in manifest["default_permissions"].items()}
