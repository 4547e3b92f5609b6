"""What `bulwark doctor` concludes from what it read: plain data in, checks out."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bot.core.manifest import Manifest, satisfies

DELIVERY_WINDOW = 24 * 3600.0  # failed deliveries are counted over the last day
LOW_BUDGET = 0.10  # a budget below a tenth of its limit is worth a warning
SHOWN_REPOS = 10


class Severity(enum.Enum):
    """How much a check's result matters; PROBLEM and WARNING make doctor exit 1."""

    OK = "ok"
    NOTE = "note"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class Check:
    """One line of the diagnosis: what was checked, on what, the verdict, and the fix."""

    area: str
    subject: str
    severity: Severity
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """Return the check as JSON-ready data."""
        return {**asdict(self), "severity": self.severity.value}


@dataclass(frozen=True)
class Budget:
    """One rate-limit resource: what is left of the hourly limit."""

    resource: str
    remaining: int
    limit: int


@dataclass(frozen=True)
class InstallationView:
    """What doctor read about one installation."""

    id: int
    account: str
    account_type: str = "Organization"
    selection: str = "all"
    permissions: Mapping[str, str] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    suspended: bool = False
    html_url: str = ""
    report_name: str = ".github"
    report: Mapping[str, Any] | None = None
    protection_disabled: tuple[str, ...] = ()
    budgets: tuple[Budget, ...] = ()


@dataclass(frozen=True)
class Observed:
    """Everything doctor read from GitHub, with the time it read it (epoch seconds)."""

    app: Mapping[str, Any]
    installations: tuple[InstallationView, ...]
    hook_config: Mapping[str, Any] | None
    deliveries: tuple[Mapping[str, Any], ...]
    now: float


def diagnose(manifest: Manifest, seen: Observed) -> list[Check]:
    """Return every check of a deployment, the healthy ones too."""
    checks = [_credentials(seen.app)]
    checks += _app_asks(manifest, seen.app)
    if not seen.installations:
        checks.append(_not_installed(seen.app))
    for inst in seen.installations:
        checks += _installation(manifest, seen.app, inst)
    checks += _hook_config(seen.hook_config)
    checks += _deliveries(seen.deliveries, seen.now)
    return checks


def exit_status(checks: Iterable[Check]) -> int:
    """Return 1 when a check found a problem or a warning, else 0."""
    bad = {Severity.PROBLEM, Severity.WARNING}
    return 1 if any(c.severity in bad for c in checks) else 0


def problems(checks: Iterable[Check]) -> list[Check]:
    """Return the checks that are not OK."""
    return [c for c in checks if c.severity is not Severity.OK]


# ---- the App and its installations ---------------------------------------------------


def _credentials(app: Mapping[str, Any]) -> Check:
    return Check(
        "credentials",
        f"app {app.get('slug')}",
        Severity.OK,
        f"authenticated as the App (id {app.get('id')})",
    )


def _not_installed(app: Mapping[str, Any]) -> Check:
    return Check(
        "installation",
        f"app {app.get('slug')}",
        Severity.PROBLEM,
        "the App is installed nowhere, so it protects nothing",
        f"install it: {app.get('html_url', '')}/installations/new",
    )


def _app_asks(manifest: Manifest, app: Mapping[str, Any]) -> Iterator[Check]:
    """Compare the App's registration with app.yml: what it asks every installation for."""
    asked = app.get("permissions") or {}
    for name, wanted in manifest.permissions.items():
        if not satisfies(asked.get(name), wanted):
            yield Check(
                "permissions",
                f"app {app.get('slug')}",
                Severity.PROBLEM,
                f"the App does not ask for {name}: {wanted} (asks: {asked.get(name) or 'none'})",
                f"in the App's settings, Permissions & events: set {name} to {wanted}",
            )
    for event in sorted(set(manifest.events) - set(app.get("events") or ())):
        yield Check(
            "events",
            f"app {app.get('slug')}",
            Severity.PROBLEM,
            f"the App is not subscribed to {event}",
            f"in the App's settings, Permissions & events: subscribe to {event}",
        )


def _installation(
    manifest: Manifest, app: Mapping[str, Any], inst: InstallationView
) -> Iterator[Check]:
    subject = f"{inst.account} (installation {inst.id})"
    if inst.suspended:
        yield Check(
            "installation",
            subject,
            Severity.PROBLEM,
            "the installation is suspended",
            f"unsuspend it: {inst.html_url}",
        )
        return
    yield Check(
        "installation", subject, Severity.OK, f"{inst.account_type}, {inst.selection} repositories"
    )
    yield from _granted(manifest, app, inst, subject)
    yield from _events(manifest, app, inst, subject)
    if inst.account_type == "Organization":
        yield _report(inst)
    if inst.protection_disabled:
        yield _protection_disabled(inst, subject)
    yield from _budgets(inst, subject)


def _granted(
    manifest: Manifest, app: Mapping[str, Any], inst: InstallationView, subject: str
) -> Iterator[Check]:
    """Compare what the installation granted with app.yml.

    GitHub keeps an App's requested permissions (`GET /app`) apart from those each
    installation granted (`GET /app/installations`): a raise takes effect only once
    the owner approves it, so asked-but-not-granted is a request awaiting approval.
    https://docs.github.com/en/apps/maintaining-github-apps/modifying-a-github-app-registration
    https://docs.github.com/en/apps/using-github-apps/approving-updated-permissions-for-a-github-app
    """
    asked = app.get("permissions") or {}
    ok = True
    for name, wanted in manifest.permissions.items():
        granted = inst.permissions.get(name)
        if satisfies(granted, wanted):
            continue
        ok = False
        if satisfies(asked.get(name), wanted):
            yield Check(
                "permissions",
                subject,
                Severity.PROBLEM,
                f"{name}: {wanted} awaits the owner's approval (granted: {granted or 'none'})",
                f"an owner of {inst.account} accepts the new permissions: {inst.html_url}",
            )
        else:
            yield Check(
                "permissions",
                subject,
                Severity.PROBLEM,
                f"{name}: {wanted} is missing (granted: {granted or 'none'})",
                f"ask for {name}: {wanted} in the App's settings, then have {inst.account} "
                "accept it",
            )
    if ok:
        yield Check("permissions", subject, Severity.OK, "every permission app.yml asks for")


def _events(
    manifest: Manifest, app: Mapping[str, Any], inst: InstallationView, subject: str
) -> Iterator[Check]:
    missing = sorted(set(manifest.events) - set(inst.events))
    if not missing:
        yield Check("events", subject, Severity.OK, "subscribed to every event app.yml names")
        return
    pending = set(app.get("events") or ())
    for event in missing:
        waiting = event in pending
        yield Check(
            "events",
            subject,
            Severity.PROBLEM,
            f"{event} is not delivered" + (" (awaits the owner's approval)" if waiting else ""),
            f"an owner of {inst.account} accepts the new permissions: {inst.html_url}"
            if waiting
            else f"subscribe the App to {event} in its settings",
        )


def _report(inst: InstallationView) -> Check:
    name = f"{inst.account}/{inst.report_name}"
    report = inst.report
    if report is None:
        return Check(
            "report",
            name,
            Severity.PROBLEM,
            "the report repository does not exist",
            f"create {name}, or name another in report.repository of the policy",
        )
    if not report.get("has_issues", True):
        return Check(
            "report",
            name,
            Severity.PROBLEM,
            "issues are disabled there",
            f"turn on Issues in {name}'s settings (General → Features)",
        )
    if not report.get("private", False):
        return Check(
            "report",
            name,
            Severity.WARNING,
            "public: private repositories are counted in the report, not named",
            "keep the report in a private repository (org policy `report: {repository: "
            ".github-private}`) to see every repository named, or accept counts",
        )
    return Check("report", name, Severity.OK, "private, issues enabled")


def _protection_disabled(inst: InstallationView, subject: str) -> Check:
    names = ", ".join(inst.protection_disabled[:SHOWN_REPOS])
    more = len(inst.protection_disabled) - SHOWN_REPOS
    if more > 0:
        names += f" and {more} more"
    return Check(
        "protection",
        subject,
        Severity.NOTE,
        f"classic branch protection is disabled on {names}: Bulwark uses a ruleset there",
        "nothing to do; re-enable classic protection in those repositories to use it instead",
    )


def _budgets(inst: InstallationView, subject: str) -> Iterator[Check]:
    for budget in inst.budgets:
        low = budget.limit > 0 and budget.remaining < budget.limit * LOW_BUDGET
        yield Check(
            "rate limit",
            subject,
            Severity.WARNING if low else Severity.OK,
            f"{budget.resource}: {budget.remaining} of {budget.limit} left this hour",
            "wait for the hourly reset, or raise RESYNC_INTERVAL" if low else "",
        )


# ---- the webhook -----------------------------------------------------------------------


def _hook_config(config: Mapping[str, Any] | None) -> list[Check]:
    """Check the App's webhook: an https URL, JSON, a secret, TLS verified."""
    if config is None:
        return [
            Check(
                "webhook",
                "config",
                Severity.PROBLEM,
                "the App has no webhook",
                "in the App's settings, activate the webhook and set its URL",
            )
        ]
    url = str(config.get("url") or "")
    found: list[Check] = []
    if not url:
        found.append(
            Check(
                "webhook",
                "url",
                Severity.PROBLEM,
                "no webhook URL is set",
                "set the webhook URL to https://YOUR-HOST/api/github/webhooks",
            )
        )
    elif not url.startswith("https://"):
        found.append(
            Check(
                "webhook",
                "url",
                Severity.PROBLEM,
                f"{url} is not https",
                "serve Bulwark behind TLS and set an https:// webhook URL",
            )
        )
    if config.get("content_type") != "json":
        found.append(
            Check(
                "webhook",
                "content type",
                Severity.PROBLEM,
                f"content type is {config.get('content_type') or 'unset'}, not json",
                "in the App's settings, set the webhook's content type to application/json",
            )
        )
    if not config.get("secret"):
        found.append(
            Check(
                "webhook",
                "secret",
                Severity.PROBLEM,
                "no webhook secret is set",
                "set a secret in the App's settings and the same in WEBHOOK_SECRET",
            )
        )
    if str(config.get("insecure_ssl", "0")) != "0":
        found.append(
            Check(
                "webhook",
                "tls",
                Severity.PROBLEM,
                "TLS verification is off",
                "turn SSL verification on in the App's webhook settings",
            )
        )
    return found or [Check("webhook", url, Severity.OK, "https, json, secret set, TLS verified")]


def failed_deliveries(
    deliveries: Sequence[Mapping[str, Any]], since: float
) -> list[Mapping[str, Any]]:
    """Return deliveries after `since` that failed and were not delivered since (newest first)."""
    delivered = {d.get("guid") for d in deliveries if _succeeded(d)}
    failed = [
        d
        for d in deliveries
        if not _succeeded(d) and d.get("guid") not in delivered and _epoch(d) >= since
    ]
    return sorted(failed, key=_epoch, reverse=True)


def _deliveries(deliveries: Sequence[Mapping[str, Any]], now: float) -> list[Check]:
    failed = failed_deliveries(deliveries, now - DELIVERY_WINDOW)
    if not failed:
        return [
            Check(
                "deliveries",
                "last 24 h",
                Severity.OK,
                f"{len(deliveries)} recent deliveries, none lost",
            )
        ]
    codes = Counter(int(d.get("status_code") or 0) for d in failed)
    by_code = ", ".join(f"{n} × {code or 'no answer'}" for code, n in sorted(codes.items()))
    last = failed[0]
    return [
        Check(
            "deliveries",
            "last 24 h",
            Severity.PROBLEM,
            f"{len(failed)} failed ({by_code}); last: {last.get('event')} at "
            f"{last.get('delivered_at')}, {last.get('status_code')} {last.get('status')}",
            "make the webhook URL reachable; `bulwark serve` redelivers the last 3 days' failures",
        )
    ]


def _succeeded(delivery: Mapping[str, Any]) -> bool:
    # "The data for a failed delivery will have a status value that is not OK."
    # https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries
    return delivery.get("status") == "OK"


def _epoch(delivery: Mapping[str, Any]) -> float:
    raw = str(delivery.get("delivered_at") or "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
