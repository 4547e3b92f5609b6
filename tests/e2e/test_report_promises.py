"""The report issue opens with the Promises table, read from the org at each resync."""

from __future__ import annotations

from bot.cli.embedded import Embedded
from bot.sandbox import Sandbox
from tests.e2e.test_report import REPORT_MODE, resync, the_report
from tests.fixtures import install, weak_protection


async def test_the_report_opens_with_the_promises_table(
    bulwark: Embedded, sandbox: Sandbox
) -> None:
    sandbox.state.add_file("acme", ".github", ".github/repo-protection.yml", REPORT_MODE)
    sandbox.state.add_repo("acme", "api")
    sandbox.state.set_protection("acme", "api", "main", weak_protection())
    sandbox.state.account("acme").two_factor_requirement_enabled = False
    installation = await install(bulwark)
    body = the_report(sandbox)["body"]
    assert body.splitlines()[3] == "### Promises"
    assert "| `mfa_required` | ❌ `not_met` |" in body
    assert "| `few_admins` | ✅ `met` | 1 org owner (limit 5) |" in body
    assert (
        "| `no_admin_bypass` | ❌ `not_met` | protection requires it on 0 of 2 repositories |"
        in body
    )
    assert "| `vulnerability_disclosure` | ❌ `not_met` |" in body

    sandbox.state.account("acme").two_factor_requirement_enabled = True
    sandbox.state.add_file("acme", ".github", "SECURITY.md", "# Security\n")
    await resync(bulwark, installation)
    body = the_report(sandbox)["body"]
    assert "| `mfa_required` | ✅ `met` |" in body
    assert "| `vulnerability_disclosure` | ✅ `met` |" in body
