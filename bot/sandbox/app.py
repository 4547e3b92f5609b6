"""The sandbox's aiohttp application: auth, validation, faults, rate limits, ETags, the log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import secrets
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.sandbox import (
    keys,
    openapi,
    permissions,
    routes_app,
    routes_ci,
    routes_evidence,
    routes_graphql,
    routes_hooks,
    routes_issues,
    routes_manifest,
    routes_repos,
)
from bot.sandbox.context import RATE_LIMIT_DOC, SANDBOX, RateLimits, SandboxContext
from bot.sandbox.faults import LOST, SECONDARY_MESSAGE, Fault, Faults
from bot.sandbox.history import seed_history
from bot.sandbox.limits import SecondaryLimits
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
# The manifest flow's conversion takes no credentials: its one-time code is the credential.
# https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest
ANONYMOUS_TEMPLATES = frozenset({"/app-manifests/{code}/conversions"})
JWT_TEMPLATES = frozenset(
    {
        "/repos/{owner}/{repo}/installation",
        "/orgs/{org}/installation",
        "/users/{username}/installation",
    }
)
API_V3 = "/api/v3"
GHES_GRAPHQL = "/api/graphql"
# The rulesets REST API came to GitHub Enterprise Server in 3.11; before, its routes are 404:
# https://docs.github.com/en/enterprise-server@3.11/rest/repos/rules
RULESETS_SINCE = (3, 11)
GHES_DOCS = "https://docs.github.com/enterprise-server"


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


def _route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


PAGE = "page:"


def _page_name(page: web.RouteDef) -> str:
    return PAGE + page.method + page.path.replace("/", ":").replace("{", "").replace("}", "")


def _is_page(request: web.Request) -> bool:
    name = request.match_info.route.name
    return name is not None and name.startswith(PAGE)


def _repo_key(method: str, path: str) -> tuple[str, str] | None:
    if method not in WRITE_METHODS:
        return None
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "repos":
        return parts[2].lower(), parts[3].lower()
    return None


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def _matches(header: str, etag: str) -> bool:
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


class Sandbox:
    """A local, stateful GitHub for tests, the demo, benchmarks and people."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        latency: float = 0.0,
        seed: int = 0,
        enterprise: str | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        # GitHub Enterprise Server (`enterprise` is its version, e.g. "3.10") serves REST
        # under /api/v3 and GraphQL at /api/graphql:
        # https://docs.github.com/en/enterprise-server@3.10/rest/quickstart
        self.enterprise = enterprise
        self.api_prefix = API_V3 if enterprise else ""
        self.graphql_path = GHES_GRAPHQL if enterprise else "/graphql"
        self.state = State(clock=self.clock, seed=seed)
        # The App's registered permissions, granted to each installation; tests pass
        # app.yml's `default_permissions`, so a manifest that asks too little fails them.
        self.state.app_permissions = dict(permissions) if permissions is not None else None
        self.state.app_id = 424242
        # The key of the App the sandbox starts with; an App registered through the manifest
        # flow has its own, handed out once by the conversion (GitHub keeps only its public half).
        self.private_key_pem = keys.private_key_pem()
        self.state.webhook_secret = secrets.token_hex(20)
        if self.state.hook_config is not None:
            self.state.hook_config["secret"] = self.state.webhook_secret
        self.latency = latency
        self.faults = Faults(self.clock)
        self.rate_limits = RateLimits(self.clock)
        self.secondary = SecondaryLimits(self.clock)
        self.requests: list[RequestRecord] = []
        self.overlapping_writes: list[tuple[str, str]] = []
        self.url = ""
        self._in_flight: dict[tuple[str, str], int] = {}
        self._runner: web.AppRunner | None = None
        self.app = self._build()

    def _build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024**2)
        app[SANDBOX] = SandboxContext(self.state, self.rate_limits, self.faults)
        # github.com's web pages (the manifest flow's) sit at the root, outside the API.
        for page in routes_manifest.pages:
            assert isinstance(page, web.RouteDef)
            app.router.add_route(page.method, page.path, page.handler, name=_page_name(page))
        modules = (
            routes_app,
            routes_repos,
            routes_issues,
            routes_ci,
            routes_graphql,
            routes_hooks,
            routes_evidence,
        )
        for module in (*modules, routes_manifest):
            for route in module.routes:
                assert isinstance(route, web.RouteDef)
                path = self.api_prefix + route.path
                if route.path == "/graphql":
                    path = self.graphql_path
                app.router.add_route(route.method, path, route.handler, **route.kwargs)
        return app

    @property
    def app_id(self) -> int:
        """Return the id of the App the sandbox serves (changed by a manifest registration)."""
        return self.state.app_id

    @app_id.setter
    def app_id(self, value: int) -> None:
        self.state.app_id = value

    @property
    def app_slug(self) -> str:
        """Return the App's slug."""
        return self.state.app_slug

    @property
    def bot_login(self) -> str:
        """Return the login of the App's bot user (`slug[bot]`)."""
        return self.state.bot_login

    @property
    def webhook_secret(self) -> str:
        """Return the App's webhook secret."""
        return self.state.webhook_secret

    @property
    def api_url(self) -> str:
        """Return the REST API's root URL (GITHUB_API_URL)."""
        return self.url + self.api_prefix

    @property
    def graphql_url(self) -> str:
        """Return the GraphQL endpoint's URL."""
        return self.url + self.graphql_path

    def _api_path(self, path: str) -> str:
        """Return a request path as github.com would spell it (no /api/v3)."""
        if path == self.graphql_path:
            return "/graphql"
        return path.removeprefix(self.api_prefix) if self.api_prefix else path

    def _template(self, request: web.Request) -> str:
        return self._api_path(_route_template(request))

    def _no_rulesets(self, template: str) -> bool:
        """Return whether this instance predates the rulesets API (GHES before 3.11)."""
        if self.enterprise is None or not ("/rulesets" in template or "/rules/" in template):
            return False
        major, _, minor = self.enterprise.partition(".")
        return (int(major), int(minor or 0)) < RULESETS_SINCE

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, reuse_port: bool = False
    ) -> str:
        """Serve on a real port; set and return `url`.

        `reuse_port`: several processes, forked once the state was built, share the port
        (each then keeps its own copy of the state: for read-mostly benchmarks).
        """
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_port=reuse_port or None)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound}"
        self.state.base_url = self.api_url
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

    async def send_hook(self, event: str, payload: JSON, *, guid: str | None = None) -> Any:
        """Deliver an event to the App's webhook URL (`state.hook_config`) and log it."""
        return await routes_hooks.send_hook(
            self.state, event, payload, self.webhook_secret, guid=guid
        )

    @property
    def payloads(self) -> Payloads:
        """Return webhook payload builders reading this sandbox's state."""
        return Payloads(self.state)

    # ---- the request pipeline --------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_page(request):
            return await handler(request)  # a web page: no API auth, description or limits
        if not self.url:
            self.state.base_url = f"{request.scheme}://{request.host}{self.api_prefix}"
        body = await self._read_body(request)
        path = self._api_path(request.path)
        key = _repo_key(request.method, path)
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
                    request.method, path, self._template(request), status, inst, body,
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
        template = self._template(request)
        fault = self.faults.pick(template, request.method)
        if fault is not None and fault.kind != LOST:
            return await self._fault(request, fault)
        resource = "graphql" if template == "/graphql" else "core"
        rate_key = "anonymous"
        try:
            caller = self._authenticate(request, template)
            request[CALLER] = caller
            rate_key = caller.rate_key
            if caller.installation is not None and rate_key not in self.rate_limits.scaled:
                repos = self.state.installation_repos(caller.installation)
                self.rate_limits.scale(rate_key, len(repos))
            self._check_primary(resource, rate_key, caller)
            self._check_permission(request, caller)
            self._check_refused(request)
            self._check_request(request, body)
            if self._no_rulesets(template):
                raise error(404, "Not Found", f"{GHES_DOCS}@{self.enterprise}/rest")
            response = await self._within_secondary(request, handler, template, rate_key)
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
        if self._api_path(request.path) == "/graphql":
            return  # checked against the GraphQL schema by its route
        raw_path = self._api_path(request.raw_path)
        problem = _validate(request.method, raw_path, dict(request.query), body)
        if problem is not None:
            message = str(problem.body.get("message", "")).replace("\n", " ")
            self.state.violations.append(f"{request.method} {raw_path}: {message}")
            raise problem

    async def _within_secondary(
        self, request: web.Request, handler: Handler, template: str, key: str
    ) -> web.StreamResponse:
        wait = self.secondary.enter(key, request.method, template, request.get(BODY))
        if wait is not None:
            body = {"message": SECONDARY_MESSAGE, "documentation_url": RATE_LIMIT_DOC}
            raise ApiError(403, body, {"retry-after": str(max(1, math.ceil(wait)))})
        try:
            return await handler(request)
        finally:
            self.secondary.leave(key)

    def _check_permission(self, request: web.Request, caller: Caller) -> None:
        """Refuse an installation a route its granted permissions do not cover."""
        granted = caller.installation.permissions if caller.installation else None
        if granted is None or request.method not in {"GET", *WRITE_METHODS}:
            return
        found = openapi.match(request.method, self._api_path(request.raw_path))
        if found is None:
            return  # no such operation: the description check answers 404
        need = permissions.needs().get(f"{request.method} {found.template}")
        if need is None:
            return
        on_pull = need.by_target and self.state.is_pull_request(
            found.params.get("owner", ""),
            found.params.get("repo", ""),
            found.params.get("issue_number"),
            found.params.get("comment_id"),
        )
        if any(permissions.grants(granted, p, need.access) for p in need.resolved(on_pull)):
            return
        # GitHub's answer when an installation lacks the permission a route needs
        # (https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps);
        # e.g. a comment on a pull request with only `issues: write`, as public reports show:
        # https://github.com/android/nowinandroid/issues/1360
        raise error(403, permissions.MESSAGE, need.docs or DOCS_ROOT)

    def _check_primary(self, resource: str, key: str, caller: Caller) -> None:
        reset = self.faults.primary_exhausted()
        used, remaining, window_reset = self.rate_limits.status(resource, key)
        if reset is None and remaining > 0:
            return
        who = f"installation ID {caller.installation_id}" if caller.installation else "user"
        headers = {
            "x-ratelimit-limit": str(self.rate_limits.limit(resource, key)),
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
                    "x-ratelimit-limit": str(self.rate_limits.limit(resource, key)),
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
        if template in ANONYMOUS_TEMPLATES:
            return Caller("anonymous", "anonymous")
        if not credential:
            raise error(401, "Requires authentication", "https://docs.github.com/rest")
        if template.startswith("/app") or template in JWT_TEMPLATES:
            return self._app_caller(credential)
        return self._token_caller(credential)

    def _app_caller(self, credential: str) -> Caller:
        try:
            claims = jwt.decode(
                credential,
                self.state.app_public_key or keys.public_key_pem(),
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
    # 90 days of history for `bulwark evidence`, with one exception to each of four promises.
    seed_history(
        state, "acme", now=state.clock.time(), busy=("web", "api", "docs"),
        direct_push="web", self_approved="api", failing_test="docs", no_codeql="docs",
    )  # fmt: skip
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
        "",
        "Prove its promises over the last 90 days (a trust page):",
        f"  GITHUB_TOKEN={SAMPLE_TOKEN} GITHUB_API_URL={url} {_command()} evidence --org acme "
        "--format html --out trust.html",
    ]


def _write_key(pem: str) -> Path:
    prefix, suffix = "bulwark-sandbox-", ".pem"
    with tempfile.NamedTemporaryFile("w", prefix=prefix, suffix=suffix, delete=False) as f:
        f.write(pem)
    return Path(f.name)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
