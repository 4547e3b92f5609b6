"""The setup page of `bulwark setup`: GitHub's manifest flow as plain data and HTML.

https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
(GitHub Enterprise Server: the same pages on its own host,
https://docs.github.com/en/enterprise-server@3.14/apps/sharing-github-apps/registering-a-github-app-from-a-manifest).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from bot.core.manifest import Manifest

DOTCOM_API = "api.github.com"
# Only characters that survive a `.env` line untouched (GitHub's ids, secrets, PEM base64).
_UNSAFE_IN_DOTENV = frozenset("\"'\r\n\\")


def web_url(api_url: str) -> str:
    """Return GitHub's web root for a REST root: github.com, a GHES host, or the same host."""
    parts = urlsplit(api_url.rstrip("/"))
    host = parts.netloc
    if host == DOTCOM_API:
        return "https://github.com"
    if host.startswith("api.") and parts.path in ("", "/"):
        host = host.removeprefix("api.")  # GHE.com: api.SUBDOMAIN.ghe.com -> SUBDOMAIN.ghe.com
    # GitHub Enterprise Server serves REST under /api/v3 and its pages at the root.
    return f"{parts.scheme}://{host}"


def registration_url(web: str, org: str | None, state: str) -> str:
    """Return where the manifest is POSTed: the org's new-App page, else the user's."""
    if org:
        return f"{web}/organizations/{quote(org, safe='')}/settings/apps/new?state={state}"
    return f"{web}/settings/apps/new?state={state}"


def installation_url(html_url: str) -> str:
    """Return the page where the App's owner installs it."""
    return html_url.rstrip("/") + "/installations/new"


def app_manifest(
    manifest: Manifest, public_url: str | None, webhook_path: str, redirect_url: str
) -> dict[str, Any]:
    """Return `app.yml` as GitHub's manifest flow takes it, pointed at this deployment.

    `setup_url` and `callback_urls` stay out: GitHub sends people to the first after an
    installation "if additional setup is required" and to the second after a user
    authorizes the App; Bulwark needs neither, and an unused callback URL is one more
    place a user's authorization code could be sent.
    """
    if public_url:
        webhook = public_url.rstrip("/") + webhook_path
    else:  # app.yml's own, as its owner edited it
        webhook = str((manifest.document.get("hook_attributes") or {}).get("url", ""))
    return manifest.with_webhook(webhook, redirect_url)


def dotenv_text(app_id: int, pem: str, webhook_secret: str, api_url: str | None) -> str:
    """Return the `.env` lines for a new App (the key on one line, `\\n`-escaped)."""
    pem = pem.strip().replace("\r\n", "\n")
    for name, value in (("PRIVATE_KEY", pem.replace("\n", "")), ("WEBHOOK_SECRET", webhook_secret)):
        if not value or _UNSAFE_IN_DOTENV & set(value):
            raise ValueError(f"{name} from GitHub cannot be written to .env as it is")
    key = pem.replace("\n", "\\n")
    lines = [
        "# The GitHub App registered by `bulwark setup`. Keep this file secret.",
        f"APP_ID={int(app_id)}",
        f'PRIVATE_KEY="{key}"',
        f"WEBHOOK_SECRET={webhook_secret}",
    ]
    if api_url:
        lines.append(f"GITHUB_API_URL={api_url}")
    return "\n".join(lines) + "\n"


# ---- the pages ---------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>{title} · Bulwark setup</title>
<style>
body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:46rem;padding:0 1rem;
color:#1f2328}}
table{{border-collapse:collapse;width:100%}} th,td{{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #d0d7de;vertical-align:top}}
code{{background:#f6f8fa;padding:0 .2rem}}
button,.button{{background:#1f883d;color:#fff;border:0;border-radius:6px;padding:.6rem 1.2rem;
font-size:1rem;text-decoration:none;display:inline-block}}
.error{{color:#cf222e}}
</style></head>
<body>
<h1>{title}</h1>
{body}
</body></html>
"""

REGISTER_BODY = """<p>Bulwark will register a GitHub App for <strong id="account">{account}</strong>
on <code>{web}</code>. GitHub will ask you to confirm, then send you back here.</p>
<p>Webhook URL: <code id="webhook">{webhook}</code></p>
<h2>Permissions it asks for</h2>
<table id="permissions"><thead><tr><th>permission</th><th>why</th></tr></thead>
<tbody>
{permissions}
</tbody></table>
<h2>Events it subscribes to</h2>
<table id="events"><thead><tr><th>event</th><th>why</th></tr></thead>
<tbody>
{events}
</tbody></table>
<form method="post" action="{action}">
<input type="hidden" name="manifest" value="{manifest}">
<p><button type="submit" id="register">Register on GitHub</button></p>
</form>
"""
ROW = "<tr><td><code>{name}</code></td><td>{reason}</td></tr>"

DONE_BODY = """<p>GitHub registered <strong id="app-name">{name}</strong> (App id
<code id="app-id">{app_id}</code>). Its id, private key and webhook secret are in
<code>{env_path}</code> (readable by you only).</p>
<p><a class="button" id="install" href="{install}">Install it on GitHub</a></p>
<p>Then start Bulwark:</p>
<pre><code id="next">bulwark serve</code></pre>
"""

ERROR_BODY = """<p class="error" id="error">{message}</p>
<p>{hint}</p>
"""


def _page(title: str, body: str) -> str:
    return PAGE.format(title=escape(title), body=body)


def _rows(items: list[tuple[str, str]]) -> str:
    return "\n".join(ROW.format(name=escape(n), reason=escape(r)) for n, r in items)


def register_page(
    manifest: Manifest, document: dict[str, Any], *, action: str, account: str, web: str
) -> str:
    """Render the page that shows what the App asks for and posts its manifest to GitHub."""
    permissions = [
        (f"{name}: {level}", manifest.reason(name)) for name, level in manifest.permissions.items()
    ]
    events = [(name, manifest.reason(name)) for name in manifest.events]
    body = REGISTER_BODY.format(
        account=escape(account),
        web=escape(web),
        webhook=escape(str(document["hook_attributes"]["url"])),
        permissions=_rows(permissions),
        events=_rows(events),
        action=escape(action),
        manifest=escape(json.dumps(document)),
    )
    return _page("Register Bulwark on GitHub", body)


def done_page(name: str, app_id: int, html_url: str, env_path: str) -> str:
    """Render the page shown once the App is registered and `.env` written."""
    body = DONE_BODY.format(
        name=escape(name),
        app_id=int(app_id),
        env_path=escape(env_path),
        install=escape(installation_url(html_url)),
    )
    return _page("Bulwark is registered", body)


def error_page(message: str, hint: str) -> str:
    """Render a refusal: what went wrong and what to do."""
    return _page("Bulwark setup", ERROR_BODY.format(message=escape(message), hint=escape(hint)))
