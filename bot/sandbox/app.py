"""The sandbox's aiohttp application: auth, validation, faults, rate limits, ETags, the log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.sandbox import keys, openapi, routes_app, routes_graphql, routes_issues, routes_repos
from bot.sandbox.context import RATE_LIMIT_DOC, SANDBOX, RateLimits, SandboxContext
from bot.sandbox.faults import LOST, SECONDARY_MESSAGE, Fault, Faults
from bot.sandbox.routes_common import (
    BAD_JSON,
    BODY,
    CALLER,
    COST,
    ApiError,
    Caller,
    error,
    respond,
)
from bot.sandbox.state import JSON, State
from bot.sandbox.webhooks import Payloads, deliver

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JWT_TEMPLATES = frozenset(
    {
        "/repos/{owner}/{repo}/installation",
        "/orgs/{org}/installation",
        "/users/{username}/installation",
    }
)


@dataclass(frozen=True)
class RequestRecord:
    """One request the sandbox answered."""

    method: str
    path: str
    template: str
    status: int
    installation_id: int | None
    body: Any
    time: float


def _validate(method: str, path: str, query: dict[str, str], body: Any) -> ApiError | None:
    """Check a request against GitHub's OpenAPI description."""
    problem = openapi.validate(method, path, query, body)
    return None if problem is None else ApiError(problem.status, problem.body)


def _template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def _repo_key(request: web.Request) -> tuple[str, str] | None:
    if request.method not in WRITE_METHODS:
        return None
    parts = request.path.split("/")
    if len(parts) > 3 and parts[1] == "repos":
        return parts[2].lower(), parts[3].lower()
    return None


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def _matches(header: str, etag: str) -> bool:
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


class Sandbox:
    """A local, stateful GitHub for tests, the demo, benchmarks and people."""

    app_slug = "bulwark"
    bot_login = "bulwark[bot]"

    def __init__(self, *, clock: Clock | None = None, latency: float = 0.0, seed: int = 0) -> None:
        self.clock: Clock = clock or SystemClock()
        self.state = State(clock=self.clock, seed=seed)
        self.app_id = self.state.app_id = 424242
        self.private_key_pem = keys.private_key_pem()
        self.webhook_secret = secrets.token_hex(20)
        self.latency = latency
        self.faults = Faults(self.clock)
        self.rate_limits = RateLimits(self.clock)
        self.requests: list[RequestRecord] = []
        self.overlapping_writes: list[tuple[str, str]] = []
        self.url = ""
        self._in_flight: dict[tuple[str, str], int] = {}
        self._runner: web.AppRunner | None = None
        self.app = self._build()

    def _build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024**2)
        app[SANDBOX] = SandboxContext(self.state, self.rate_limits, self.faults)
        for module in (routes_app, routes_repos, routes_issues, routes_graphql):
            app.router.add_routes(module.routes)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a real port; set and return `url`."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"
        self.state.base_url = self.url
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def writes(self, owner: str, repo: str) -> list[RequestRecord]:
        """Return the write requests made for one repository."""
        prefix = f"/repos/{owner}/{repo}/".lower()
        return [
            r
            for r in self.requests
            if r.method in WRITE_METHODS and (r.path.lower() + "/").startswith(prefix)
        ]

    async def deliver(
        self,
        url: str,
        event: str,
        payload: JSON,
        *,
        delivery_id: str | None = None,
        secret: str | None = None,
    ) -> int:
        """Send a signed webhook delivery to `url`; return the HTTP status."""
        return await deliver(
            url, event, payload, secret=secret or self.webhook_secret, delivery_id=delivery_id
        )

    @property
    def payloads(self) -> Payloads:
        """Return webhook payload builders reading this sandbox's state."""
        return Payloads(self.state)

    # ---- the request pipeline --------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.url:
            self.state.base_url = f"{request.scheme}://{request.host}"
        body = await self._read_body(request)
        key = _repo_key(request)
        self._enter(key)
        status = 0
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            response = await self._respond(request, handler, body)
            status = response.status
            return response
        finally:
            self._leave(key)
            caller = request.get(CALLER)
            inst = caller.installation_id if isinstance(caller, Caller) else None
            self.requests.append(
                RequestRecord(
                    request.method, request.path, _template(request), status, inst, body,
                    self.clock.time(),
                )
            )  # fmt: skip

    async def _read_body(self, request: web.Request) -> Any:
        raw = await request.read() if request.can_read_body else b""
        try:
            request[BODY] = json.loads(raw) if raw.strip() else None
        except ValueError:
            request[BODY] = None
            request[BAD_JSON] = True
        return request[BODY]

    def _enter(self, key: tuple[str, str] | None) -> None:
        if key is None:
            return
        if self._in_flight.get(key):
            self.overlapping_writes.append(key)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def _leave(self, key: tuple[str, str] | None) -> None:
        if key is not None:
            self._in_flight[key] -= 1

    async def _respond(
        self, request: web.Request, handler: Handler, body: Any
    ) -> web.StreamResponse:
        template = _template(request)
        fault = self.faults.pick(template, request.method)
        if fault is not None and fault.kind != LOST:
            return await self._fault(request, fault)
        resource = "graphql" if request.path == "/graphql" else "core"
        rate_key = "anonymous"
        try:
            caller = self._authenticate(request, template)
            request[CALLER] = caller
            rate_key = caller.rate_key
            self._check_primary(resource, rate_key, caller)
            self._check_refused(request)
            self._check_request(request, body)
            response = await handler(request)
        except ApiError as exc:
            response = respond(exc.body, exc.status, exc.headers)
        except web.HTTPException as exc:
            response = respond({"message": exc.reason, "documentation_url": DOCS_ROOT}, exc.status)
        response = self._finish(request, response, resource, rate_key)
        if fault is not None and request.transport is not None:
            request.transport.abort()  # done, but the caller never hears of it
        return response

    def _check_refused(self, request: web.Request) -> None:
        """Refuse a repository the installation may not read, as GitHub does.

        https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api#resource-not-accessible
        """
        parts = request.path.split("/")
        repo = "/".join(parts[2:4]).lower() if len(parts) > 3 and parts[1] == "repos" else None
        if repo is not None and repo in self.faults.refused_repos:
            raise error(403, "Resource not accessible by integration")

    def _check_request(self, request: web.Request, body: Any) -> None:
        if request.get(BAD_JSON):
            raise error(400, "Problems parsing JSON")
        if request.path == "/graphql":
            return  # checked against the GraphQL schema by its route
        problem = _validate(request.method, request.raw_path, dict(request.query), body)
        if problem is not None:
            message = str(problem.body.get("message", "")).replace("\n", " ")
            self.state.violations.append(f"{request.method} {request.raw_path}: {message}")
            raise problem

    def _check_primary(self, resource: str, key: str, caller: Caller) -> None:
        reset = self.faults.primary_exhausted()
        used, remaining, window_reset = self.rate_limits.status(resource, key)
        if reset is None and remaining > 0:
            return
        who = f"installation ID {caller.installation_id}" if caller.installation else "user"
        headers = {
            "x-ratelimit-limit": str(self.rate_limits.limit(resource)),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(reset) if reset is not None else window_reset),
            "x-ratelimit-resource": resource,
        }
        message = f"API rate limit exceeded for {who}."
        if resource == "graphql":
            errors = [{"type": "RATE_LIMITED", "message": message}]
            raise ApiError(200, {"errors": errors}, headers)
        raise ApiError(403, {"message": message, "documentation_url": RATE_LIMIT_DOC}, headers)

    def _finish(
        self, request: web.Request, response: web.StreamResponse, resource: str, key: str
    ) -> web.StreamResponse:
        not_modified = False
        if (
            request.method == "GET"
            and response.status == 200
            and isinstance(response, web.Response)
        ):
            etag = _etag(response.body if isinstance(response.body, bytes) else b"")
            response.headers["ETag"] = etag
            if _matches(request.headers.get("If-None-Match", ""), etag):
                response = web.Response(status=304, headers={"ETag": etag})
                not_modified = True
        if "x-ratelimit-remaining" not in response.headers:
            if not not_modified:
                self.rate_limits.charge(resource, key, int(request.get(COST, 1)))
            used, remaining, reset = self.rate_limits.status(resource, key)
            response.headers.update(
                {
                    "x-ratelimit-limit": str(self.rate_limits.limit(resource)),
                    "x-ratelimit-remaining": str(remaining),
                    "x-ratelimit-used": str(used),
                    "x-ratelimit-reset": str(reset),
                    "x-ratelimit-resource": resource,
                }
            )
        response.headers["x-github-request-id"] = secrets.token_hex(8).upper()
        response.headers["x-github-media-type"] = "github.v3; format=json"
        return response

    async def _fault(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "reset":
            # Drop the connection without answering, as a reset by a proxy would.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=499)
        if fault.kind == "timeout":
            await asyncio.sleep(self.faults.timeout_delay)
            return respond({"message": "Server Error"}, 504)
        if fault.kind in ("502", "503"):
            return respond({"message": "Server Error"}, int(fault.kind))
        status = 429 if fault.kind == "secondary429" else 403
        body = {"message": SECONDARY_MESSAGE, "documentation_url": RATE_LIMIT_DOC}
        return respond(body, status, {"retry-after": "1"})

    # ---- authentication --------------------------------------------------------------

    def _authenticate(self, request: web.Request, template: str) -> Caller:
        _scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        credential = credential.strip()
        if not credential:
            raise error(401, "Requires authentication", "https://docs.github.com/rest")
        if template.startswith("/app") or template in JWT_TEMPLATES:
            return self._app_caller(credential)
        return self._token_caller(credential)

    def _app_caller(self, credential: str) -> Caller:
        try:
            claims = jwt.decode(
                credential,
                keys.public_key_pem(),
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "require": ["iat", "exp", "iss"]},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise _bad_jwt(f"'{exc}'") from None
        now = self.clock.time()
        iat, exp = float(claims["iat"]), float(claims["exp"])
        if str(claims["iss"]) != str(self.app_id):
            raise _bad_jwt("'Issuer' claim ('iss') must be the App's id")
        if iat > now + 60:
            raise _bad_jwt(
                "'Issued at' claim ('iat') must be an Integer representing a time in the past"
            )
        if exp <= now or exp - iat > 600:
            raise _bad_jwt("'Expiration time' claim ('exp') is too far in the future or expired")
        return Caller("app", "app")

    def _token_caller(self, credential: str) -> Caller:
        token = self.state.tokens.get(credential)
        if token is not None:
            inst = self.state.installations.get(token.installation_id)
            if token.revoked or inst is None or token.expires_at <= self.clock.time():
                raise _bad_credentials()
            return Caller("installation", f"inst:{inst.id}", self.bot_login, inst, token)
        login = self.state.personal_tokens.get(credential)
        if login is None:
            raise _bad_credentials()
        return Caller("pat", f"user:{login.lower()}", login)


DOCS_ROOT = "https://docs.github.com/rest"


def _bad_credentials() -> ApiError:
    return error(401, "Bad credentials", DOCS_ROOT)


def _bad_jwt(reason: str) -> ApiError:
    return error(401, f"A JSON web token could not be decoded ({reason})", DOCS_ROOT)


SAMPLE_TOKEN = "ghp_sandboxSampleOrgOwnerToken0001"  # noqa: S105 - a local fake, no secret


def _command() -> str:
    """Return how to run `bulwark` from here (the venv's script when not on the PATH)."""
    beside = Path(sys.executable).with_name("bulwark")
    return str(beside) if beside.exists() and not shutil.which("bulwark") else "bulwark"


def seed_sample(state: State) -> int:
    """Seed the sample org "acme" with a few repositories; return the installation id."""
    state.add_org("acme")
    state.add_org_owner("acme", "alice")
    for name in ("web", "api", "docs"):
        state.add_repo("acme", name)
    state.add_repo("acme", ".github")
    state.add_repo("acme", "old-site", archived=True)
    state.add_repo("acme", "upstream-fork", fork=True)
    state.add_collaborator("acme", "web", "bob", "write")
    state.add_personal_token(SAMPLE_TOKEN, "alice")  # an org owner's token, for `bulwark scan`
    state.set_protection(
        "acme",
        "web",
        "main",
        {
            "required_status_checks": None,
            "enforce_admins": False,
            "required_pull_request_reviews": {"required_approving_review_count": 1},
            "restrictions": None,
        },
    )
    return state.install("acme")


async def run_sandbox(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    stop: asyncio.Event | None = None,
    write: Callable[[str], None] = print,
) -> None:
    """Run the sandbox with the sample org until interrupted (or until `stop` is set)."""
    sandbox = Sandbox()
    installation = seed_sample(sandbox.state)
    url = await sandbox.start(host, port)
    key_path = _write_key(sandbox.private_key_pem)
    try:
        for line in _banner(sandbox, url, key_path, installation):
            write(line)
        await (stop or asyncio.Event()).wait()
    finally:
        await sandbox.stop()
        _remove(key_path)


def _banner(sandbox: Sandbox, url: str, key_path: Path, installation: int) -> list[str]:
    return [
        f"GitHub sandbox on {url} (org acme, installation {installation})",
        f"App id: {sandbox.app_id}",
        f"Private key: {key_path}",
        f"Webhook secret: {sandbox.webhook_secret}",
        "",
        "Start the app against it with:",
        f"  APP_ID={sandbox.app_id} PRIVATE_KEY_PATH={key_path} "
        f"WEBHOOK_SECRET={sandbox.webhook_secret} GITHUB_API_URL={url} "
        f"GITHUB_WRITE_INTERVAL=0 {_command()} serve",
        "",
        "Scan its org as an org owner would:",
        f"  GITHUB_TOKEN={SAMPLE_TOKEN} GITHUB_API_URL={url} {_command()} scan --org acme",
    ]


def _write_key(pem: str) -> Path:
    prefix, suffix = "bulwark-sandbox-", ".pem"
    with tempfile.NamedTemporaryFile("w", prefix=prefix, suffix=suffix, delete=False) as f:
        f.write(pem)
    return Path(f.name)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
