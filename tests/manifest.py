"""The App as the project ships it: app.yml's permissions, granted to every test installation."""

from __future__ import annotations

from bot.cli.manifest import app_permissions

_found = app_permissions()
assert _found is not None, "app.yml is missing"
APP_PERMISSIONS: dict[str, str] = _found
