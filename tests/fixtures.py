"""Builders and helpers shared by tests and benchmarks: protection bodies, a test key, installs.

Protection builders return a fresh PUT-shaped body each call (the sandbox's
`set_protection` takes the same shape); keyword arguments replace top-level keys.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.cli.embedded import Embedded, sandbox_settings
from bot.clock import FakeClock
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import Reconciler
from bot.engine.scan import ScanResult, scan_org
from bot.github.client import RetryPolicy
from bot.github.clients import GitHubClients
from bot.github.gateway import Gateway
from bot.sandbox import Sandbox
from bot.sandbox.history import COMPLIANT_PROTECTION, COMPLIANT_RULES
from bot.sandbox.state import CiCheck, State
from bot.store.statuses import StatusStore

JSON = dict[str, Any]


# A CI that reports the default policy's checks on every commit (as commit statuses, so
# no app is bound to them): the world most scenarios were written for. Scenarios about
# checks that do not report give their repositories their own `ci`.
POLICY_CI = (CiCheck("CodeQL", None), CiCheck("test", None))


def compliant_rules() -> list[JSON]:
    """Ruleset rules that meet the default policy, as GitHub's REST API returns them."""
    return copy.deepcopy(COMPLIANT_RULES)


def report_policy_checks(state: State) -> None:
    """Make every repository created from now on report the default policy's checks."""
    state.default_ci = POLICY_CI


def compliant_protection(**overrides: Any) -> JSON:
    """Return a protection body that meets the default policy and no more."""
    return copy.deepcopy(COMPLIANT_PROTECTION) | overrides


def strong_protection(**overrides: Any) -> JSON:
    """Return a protection body stricter than the default policy in every respect."""
    body: JSON = {
        "required_status_checks": {
            "strict": True,
            "checks": [
                {"context": "CodeQL", "app_id": 57789},
                {"context": "test"},
                {"context": "lint"},
            ],
        },
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "required_approving_review_count": 2,
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": True,
        },
        "restrictions": {"users": ["alice"], "teams": [], "apps": []},
        "required_linear_history": True,
        "allow_force_pushes": False,
        "allow_deletions": False,
        "required_conversation_resolution": True,
    }
    return body | overrides


def weak_protection(**overrides: Any) -> JSON:
    """Return a protection body that meets nothing the default policy asks for."""
    body: JSON = {
        "required_status_checks": None,
        "enforce_admins": False,
        "required_pull_request_reviews": None,
        "restrictions": None,
        "allow_force_pushes": True,
    }
    return body | overrides


@functools.cache
def rsa_private_key_pem() -> str:
    """Return a 2048-bit RSA private key in PKCS#1 PEM, generated once per process.

    It is not the sandbox's App key, so a JWT signed with it is one GitHub refuses.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


async def install(bulwark: Embedded, org: str = "acme") -> int:
    """Install the App on `org` through a signed `installation.created` delivery and settle."""
    installation_id = bulwark.sandbox.state.install(org)
    bulwark.installation_id = installation_id
    payload = bulwark.sandbox.payloads.installation_created(installation_id)
    assert await bulwark.deliver("installation", payload) == 202
    await bulwark.settle()
    return installation_id


@asynccontextmanager
async def sandbox_clients(box: Sandbox, clock: FakeClock) -> AsyncIterator[GitHubClients]:
    """Open Bulwark's GitHub clients against a started sandbox, with the tests' retry policy."""
    settings = sandbox_settings(box)
    async with GitHubClients.open(settings, clock=clock, retry=RetryPolicy.for_tests()) as opened:
        yield opened


def reconciler(clock: FakeClock) -> Reconciler:
    """A reconciler with fresh policy and status stores."""
    return Reconciler(PolicyStore(), StatusStore(), clock)


async def read_only_scan(gh: Gateway, org: str, clock: FakeClock) -> ScanResult:
    """Scan an org as `bulwark scan` does by default: read only, fresh stores."""
    return await scan_org(gh, org, policies=PolicyStore(), reconciler=reconciler(clock))


T = TypeVar("T")


async def most_in_one_step(done: Callable[[], int], work: Awaitable[T]) -> tuple[T, int]:
    """Run `work` beside other work that notes `done()` at each of its loop steps.

    Return what `work` returned and the most `done()` grew between two of those steps:
    how much of its work `work` did at most without letting the event loop run others.
    """
    seen: list[int] = []

    async def other_work() -> None:
        while True:
            seen.append(done())
            await asyncio.sleep(0)

    beside = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    try:
        result = await work
    finally:
        beside.cancel()
    seen.append(done())
    return result, max(after - before for before, after in itertools.pairwise(seen))
