"""`bulwark setup`: register the App through GitHub's manifest flow from a local page."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.cli.manifest import load_manifest
from bot.clock import SystemClock
from bot.github.client import RetryPolicy
from bot.github.clients import manifest_gateway
from bot.logs import configure_logging
from bot.service.setup import SetupFlow, create_setup_app
from bot.settings import ConfigError, Settings, merged_environ

log = logging.getLogger("bot.cli")
DEFAULT_PORT = 3000


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse `bulwark setup` arguments."""
    parser = argparse.ArgumentParser(
        prog="bulwark setup",
        description="Register Bulwark as a GitHub App in one click (GitHub's manifest flow): "
        "serve a local page listing what the App asks for, send its manifest to GitHub, "
        "and write the new App's APP_ID, PRIVATE_KEY and WEBHOOK_SECRET to ./.env (0600).",
    )
    parser.add_argument("--org", help="register the App for this organization (else your user)")
    parser.add_argument(
        "--url",
        help="the public https URL where `bulwark serve` will run; GitHub sends webhooks to "
        "URL + WEBHOOK_PATH (default: hook_attributes.url of app.yml as written)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the page's port")
    parser.add_argument("--host", default="127.0.0.1", help="the page's interface")
    parser.add_argument("--manifest", type=Path, default=None, help="default ./app.yml")
    return parser.parse_args(argv)


def refuse_if_configured(environ: dict[str, str], env_path: Path) -> None:
    """Refuse to start where credentials exist: setup never replaces a registered App."""
    if env_path.exists():
        raise ConfigError(".env", f"{env_path} exists; setup never overwrites it (move it away)")
    if environ.get("APP_ID", "").strip():
        raise ConfigError(
            "APP_ID", "set already: this deployment is registered (`bulwark doctor` checks it)"
        )


def main(argv: list[str]) -> int:
    """Run `bulwark setup [--org ORG] [--url PUBLIC_URL] [--port N]` until interrupted."""
    args = parse_args(argv)
    env_path = Path.cwd() / ".env"
    environ = merged_environ(os.environ, Path.cwd())
    refuse_if_configured(environ, env_path)
    settings = Settings.for_token(environ)
    configure_logging(settings.log_level, settings.log_format)
    flow = SetupFlow(
        manifest=load_manifest(args.manifest),
        convert=_unopened,
        token=secrets.token_urlsafe(32),
        env_path=env_path,
        public_url=args.url,
        api_url=settings.github_api_url,
        webhook_path=settings.webhook_path,
        org=args.org,
    )
    app = create_setup_app(flow)
    app.cleanup_ctx.append(_github(flow))
    app.on_startup.append(_announce(flow, args.host, args.port))
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


async def _unopened(code: str) -> dict[str, Any]:
    raise RuntimeError("the GitHub session is not open yet")


def _github(flow: SetupFlow) -> Callable[[web.Application], AsyncIterator[None]]:
    async def session(_: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as opened:
            gateway = manifest_gateway(
                opened, flow.api_url, clock=SystemClock(), retry=RetryPolicy()
            )
            flow.convert = gateway.convert
            yield

    return session


def _announce(
    flow: SetupFlow, host: str, port: int
) -> Callable[[web.Application], Awaitable[None]]:
    async def announce(_: web.Application) -> None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        print(f"Open http://{shown}:{port}/?token={flow.token} to register Bulwark on GitHub.")
        print("(The link works for this run only; Ctrl-C stops the page.)", file=sys.stderr)

    return announce
