"""The local setup page of `bulwark setup`: register the App through GitHub's manifest flow.

The page answers only a browser that shows the one-time token printed on the terminal
(then remembered in a cookie), so a stranger who reaches the port cannot register an
App onto this server. Each page view issues a `state`; GitHub's redirect must bring one
back, and it is used once. The code is exchanged once; the App's id, key and webhook
secret go to `.env` (mode 0600, created atomically, never overwritten), never to a log.
https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.core.manifest import Manifest
from bot.core.setup import (
    app_manifest,
    done_page,
    dotenv_text,
    error_page,
    register_page,
    registration_url,
    web_url,
)
from bot.github.errors import GitHubError, NotFound

log = logging.getLogger(__name__)

COOKIE = "bulwark_setup"
CALLBACK = "/callback"
MAX_STATES = 32  # page views not yet answered by GitHub; the oldest is dropped beyond
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
Converter = Callable[[str], Awaitable[dict[str, Any]]]

RESTART_HINT = "Open the link printed by `bulwark setup` again and register from the start."
NEEDS_LINK = "This page needs the link printed on the terminal where `bulwark setup` runs."


class DotenvExists(Exception):
    """`.env` is there already: setup never overwrites credentials."""


def write_dotenv(path: Path, text: str) -> None:
    """Create `path` with mode 0600 atomically; raise DotenvExists rather than overwrite."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)  # fails if `path` exists: never a half-written or lost file
        except FileExistsError:
            raise DotenvExists(str(path)) from None
    finally:
        temporary.unlink(missing_ok=True)


@dataclass
class SetupFlow:
    """One run of `bulwark setup`: its token, the states it issued, where it writes."""

    manifest: Manifest
    convert: Converter
    token: str
    env_path: Path
    public_url: str | None
    api_url: str
    webhook_path: str = "/api/github/webhooks"
    org: str | None = None
    states: list[str] = field(default_factory=list)
    registered: bool = False

    def authorized(self, request: web.Request) -> bool:
        """Tell whether the request shows this run's token (query or cookie), in constant time."""
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def issue_state(self) -> str:
        """Return a new single-use state for one page view."""
        state = secrets.token_urlsafe(32)
        self.states = [*self.states[-(MAX_STATES - 1) :], state]
        return state

    def take_state(self, given: str) -> bool:
        """Consume a state GitHub brought back; compare each in constant time."""
        found = None
        for state in self.states:
            if hmac.compare_digest(state.encode(), given.encode()):
                found = state
        if found is None:
            return False
        self.states.remove(found)
        return True

    def dotenv_for(self, app: dict[str, Any]) -> str:
        """Return the `.env` text for the App GitHub registered."""
        api = self.api_url if self.api_url.rstrip("/") != "https://api.github.com" else None
        return dotenv_text(int(app["id"]), str(app["pem"]), str(app["webhook_secret"]), api)


FLOW = web.AppKey("bulwark_setup_flow", SetupFlow)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


def _refused(status: int, message: str, hint: str = RESTART_HINT) -> web.Response:
    return _html(error_page(message, hint), status)


async def show_page(request: web.Request) -> web.StreamResponse:
    """Show what the App asks for and the button that posts its manifest to GitHub."""
    flow = request.app[FLOW]
    if not flow.authorized(request):
        return _refused(403, "Wrong or missing setup token.", NEEDS_LINK)
    if "token" in request.query:
        # Keep the token out of the address bar and history: a cookie carries it from here.
        found = web.HTTPFound("/", headers=HEADERS)
        found.set_cookie(COOKIE, flow.token, httponly=True, samesite="Lax", path="/")
        raise found
    if flow.registered or flow.env_path.exists():
        return _refused(409, f"{flow.env_path} exists: this server is registered already.", "")
    return _html(_register(flow, request))


def _register(flow: SetupFlow, request: web.Request) -> str:
    web_root = web_url(flow.api_url)
    redirect = str(request.url.origin().with_path(CALLBACK))
    document = app_manifest(flow.manifest, flow.public_url, flow.webhook_path, redirect)
    action = registration_url(web_root, flow.org, flow.issue_state())
    account = flow.org or "your user account"
    return register_page(flow.manifest, document, action=action, account=account, web=web_root)


async def callback(request: web.Request) -> web.StreamResponse:
    """Take GitHub's redirect: check the state, exchange the code, write `.env`."""
    flow = request.app[FLOW]
    if not flow.authorized(request):
        return _refused(403, "Wrong or missing setup token.", NEEDS_LINK)
    if not flow.take_state(request.query.get("state", "")):
        log.warning("setup: refused a callback whose state this page did not issue")
        return _refused(400, "GitHub's answer does not match a registration started here.")
    if flow.registered or flow.env_path.exists():
        return _refused(409, f"{flow.env_path} exists: nothing was overwritten.", "")
    return await _exchange(flow, request.query.get("code", ""))


async def _exchange(flow: SetupFlow, code: str) -> web.Response:
    try:
        app = await flow.convert(code)
    except NotFound:
        return _refused(410, "GitHub refused the code: it was used already or has expired.")
    except GitHubError as exc:
        log.warning("setup: GitHub did not exchange the code (status %s)", exc.status)
        return _refused(502, f"GitHub did not answer the exchange (status {exc.status}).")
    try:
        write_dotenv(flow.env_path, flow.dotenv_for(app))
    except (KeyError, ValueError):
        return _refused(502, "GitHub's answer lacks the App's id, key or secret, as they are.")
    except DotenvExists:
        return _refused(409, f"{flow.env_path} exists: nothing was overwritten.", "")
    flow.registered = True
    log.info("setup: registered App %s; wrote %s (mode 0600)", app["id"], flow.env_path)
    page = done_page(str(app.get("name", "")), int(app["id"]), str(app["html_url"]), ".env")
    return _html(page)


def create_setup_app(flow: SetupFlow) -> web.Application:
    """Build the setup page's aiohttp application."""
    app = web.Application()
    app[FLOW] = flow
    app.router.add_get("/", show_page)
    app.router.add_get(CALLBACK, callback)
    return app
