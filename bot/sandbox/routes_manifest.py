"""GitHub's manifest flow: the github.com pages that register an App, and the conversion.

https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
1. the person's browser POSTs a `manifest` (JSON) to `/settings/apps/new` (a user account)
   or `/organizations/ORG/settings/apps/new`, with an optional `state` in the query;
2. GitHub shows a page where they click "Create GitHub App", then redirects to the
   manifest's `redirect_url` with `?code=…&state=…`;
3. the server exchanges the code, within an hour and once, with
   `POST /app-manifests/{code}/conversions` (no credentials):
   https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest
The pages are web pages, not API routes: they sit outside the API prefix and take no token.
"""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

from aiohttp import web
from yarl import URL

from bot.sandbox import keys
from bot.sandbox.routes_common import not_found, respond, state_of
from bot.sandbox.shapes import app_json
from bot.sandbox.state import JSON, State

routes = web.RouteTableDef()  # the API
pages = web.RouteTableDef()  # github.com's web pages
CODE_LIFETIME = 3600.0  # "You must complete all three steps ... within one hour"
CONVERSION_DOCS = "https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest"
WEB_USER = "alice"  # who is signed in to the sandbox's web pages (the sample org's owner)

CONFIRM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Create GitHub App · GitHub sandbox</title>
<style>body{{font:15px system-ui,sans-serif;margin:2rem auto;max-width:42rem;color:#1f2328}}
h1{{font-size:1.4rem}} code{{background:#f6f8fa;padding:0 .2rem}}
button{{background:#1f883d;color:#fff;border:0;border-radius:6px;padding:.5rem 1rem;
font-size:1rem}}</style></head>
<body><p>GitHub sandbox</p>
<h1>Create GitHub App for <span id="owner">{owner}</span></h1>
<p>GitHub App name: <strong id="name">{name}</strong></p>
<p>Webhook URL: <code id="hook">{hook}</code></p>
<h2>Permissions</h2><ul id="permissions">{permissions}</ul>
<h2>Events</h2><ul id="events">{events}</ul>
<form method="post" action="{action}">
<input type="hidden" name="manifest" value="{manifest}">
<button type="submit" id="create">Create GitHub App for {owner}</button>
</form></body></html>
"""
ITEM = "<li><code>{name}</code>: {level}</li>"
EVENT = "<li><code>{name}</code></li>"


def _manifest(form: Any) -> JSON:
    """Read the posted `manifest` field; GitHub answers 422 when it is not an App manifest."""
    try:
        manifest = json.loads(str(form.get("manifest", "")))
    except ValueError:
        raise web.HTTPUnprocessableEntity(text="The manifest is not valid JSON.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("url"), str):
        raise web.HTTPUnprocessableEntity(text="The manifest needs a `url` (the App's homepage).")
    hook = manifest.get("hook_attributes")
    if not isinstance(hook, dict) or not isinstance(hook.get("url"), str):
        raise web.HTTPUnprocessableEntity(text="The manifest needs `hook_attributes.url`.")
    return manifest


def _owner(request: web.Request) -> str:
    org = request.match_info.get("org")
    if org is None:
        return WEB_USER
    account = state_of(request).accounts.get(org.lower())
    if account is None:
        raise web.HTTPNotFound(text="Not Found")
    return account.login


def _confirm_page(manifest: JSON, owner: str, action: str) -> str:
    esc = html.escape
    permissions = manifest.get("default_permissions") or {}
    return CONFIRM_PAGE.format(
        owner=esc(owner),
        name=esc(str(manifest.get("name", ""))),
        hook=esc(str(manifest["hook_attributes"]["url"])),
        permissions="".join(
            ITEM.format(name=esc(str(k)), level=esc(str(v))) for k, v in permissions.items()
        ),
        events="".join(EVENT.format(name=esc(str(e))) for e in manifest.get("default_events", [])),
        action=esc(action),
        manifest=esc(json.dumps(manifest)),
    )


@pages.post("/settings/apps/new")
@pages.post("/organizations/{org}/settings/apps/new")
async def new_app(request: web.Request) -> web.Response:
    """Show the page where the person confirms the App the manifest describes."""
    manifest = _manifest(await request.post())
    owner = _owner(request)
    # The confirmation posts to the App list of the same account, carrying `state` along.
    action = URL(request.path.removesuffix("/new")).with_query(request.query)
    return web.Response(text=_confirm_page(manifest, owner, str(action)), content_type="text/html")


@pages.post("/settings/apps")
@pages.post("/organizations/{org}/settings/apps")
async def create_app(request: web.Request) -> web.Response:
    """Register the App and redirect to the manifest's `redirect_url` with a one-time code."""
    state = state_of(request)
    manifest = _manifest(await request.post())
    owner = _owner(request)
    code = secrets.token_hex(20)
    state.manifest_codes[code] = (
        _register(state, manifest, owner),
        state.clock.time() + CODE_LIFETIME,
    )
    redirect = manifest.get("redirect_url")
    if not isinstance(redirect, str) or not redirect:
        raise web.HTTPUnprocessableEntity(text="The sandbox needs the manifest's redirect_url.")
    query = {"code": code}
    if "state" in request.query:
        query["state"] = request.query["state"]
    raise web.HTTPFound(str(URL(redirect).update_query(query)))


def _register(state: State, manifest: JSON, owner: str) -> JSON:
    """Register the App; return what the conversion will answer (its only copy of the key)."""
    private, public = keys.new_key_pair()
    secret = secrets.token_hex(20)
    state.register_app(manifest, owner, public, secret)
    return {
        **app_json(state),
        "client_id": f"Iv1.{state.app_id:016x}",
        "client_secret": secrets.token_hex(20),
        "webhook_secret": secret,
        "pem": private,
    }


@routes.post("/app-manifests/{code}/conversions")
async def convert(request: web.Request) -> web.Response:
    """Exchange a manifest flow's code for the App's id, key and secrets, once, within an hour."""
    state = state_of(request)
    found = state.manifest_codes.pop(request.match_info["code"], None)
    if found is None or found[1] <= state.clock.time():
        raise not_found(CONVERSION_DOCS)
    return respond(found[0], 201)
