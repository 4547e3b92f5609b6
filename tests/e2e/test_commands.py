"""Slash commands end to end: signed `issue_comment` deliveries, answers in the thread."""

from __future__ import annotations

from typing import Any

import pytest

from bot.cli.embedded import Embedded
from bot.clock import FakeClock
from bot.core.render import COMMAND_REPLY_MARKER
from bot.sandbox import Sandbox
from bot.sandbox.app import WRITE_METHODS, RequestRecord
from tests.fixtures import install, strong_protection, weak_protection

ROLES = {
    "adam": "admin",
    "mia": "maintain",
    "will": "write",
    "tri": "triage",
    "rita": "read",
}
PRIVILEGED = ["adam", "mia", "alice"]  # admin, maintain, org owner without a repo role
UNPRIVILEGED = ["will", "tri", "rita", "otto"]  # write, triage, read, outside collaborator


@pytest.fixture
async def org(bulwark: Embedded) -> int:
    """An installed org in report mode: `api` drifts and stays drifted until someone fixes it."""
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api", branches=("main", "release"))
    state.set_protection("acme", "api", "main", weak_protection())
    state.set_protection("acme", "api", "release", weak_protection())
    for login, role in ROLES.items():
        state.add_collaborator("acme", "api", login, role)
    state.add_user("otto")
    state.add_user("dependabot[bot]", bot=True)
    state.add_pull("acme", "api", number=7, head_sha=state.new_sha(), base="main", author="bob")
    installation_id = await install(bulwark)
    bulwark.sandbox.requests.clear()
    return installation_id


async def say(
    bulwark: Embedded,
    body: str,
    user: str = "will",
    *,
    number: int = 7,
    is_pull: bool = True,
    action: str = "created",
    tweak: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Post a comment as `user` through a signed delivery and settle; return the payload."""
    payload: dict[str, Any] = bulwark.sandbox.payloads.issue_comment(
        action, "acme", "api", number, body, user, is_pull
    )
    for key, value in (tweak or {}).items():
        payload["comment"][key] = value
    assert await bulwark.deliver("issue_comment", payload) == 202
    await bulwark.settle()
    return payload


def replies(sandbox: Sandbox, number: int = 7) -> list[str]:
    """Return the bodies of Bulwark's command replies on a thread, oldest first."""
    return [
        c["body"]
        for c in sandbox.state.comments("acme", "api", number)
        if c["author"] == sandbox.state.bot_login and COMMAND_REPLY_MARKER in c["body"]
    ]


def eyes(sandbox: Sandbox, payload: dict[str, Any]) -> list[str]:
    """Return the users who reacted 👀 to the comment of a payload."""
    found = sandbox.state.reactions("issue_comment", payload["comment"]["id"])
    return [str(r.get("user")) for r in found if r.get("content") == "eyes"]


def protection_writes(sandbox: Sandbox) -> list[RequestRecord]:
    """Return the writes that touched protection or rulesets."""
    return [
        r
        for r in sandbox.requests
        if r.method in WRITE_METHODS and ("/protection" in r.path or "/rulesets" in r.path)
    ]


def reviews_required(sandbox: Sandbox, branch: str = "main") -> bool:
    got = sandbox.state.protection("acme", "api", branch)
    return bool(got and got.get("required_pull_request_reviews"))


def fail_only(sandbox: Sandbox, templates: set[str], kind: str = "503") -> None:
    """Make GitHub fail every request for `templates`, and only those."""
    every = {resource.canonical for resource in sandbox.app.router.resources()}
    assert templates <= every, templates - every
    sandbox.faults.exempt(every - templates)
    sandbox.faults.configure(1.0, kinds=(kind,))


# ---- status, check, help -----------------------------------------------------------------


async def test_status_lists_the_base_branch_findings(bulwark: Embedded, org: int) -> None:
    payload = await say(bulwark, "Looks odd.\n/protection status")

    [reply] = replies(bulwark.sandbox)
    assert "does not meet the protection policy" in reply
    assert "force" in reply.lower()
    assert eyes(bulwark.sandbox, payload)
    assert protection_writes(bulwark.sandbox) == []


@pytest.mark.parametrize(
    ("base", "says", "not_said"),
    [
        ("release", "release allows force pushes", "`main`"),
        ("main", "meets the protection policy on `main`", "`release`"),
    ],
)
async def test_status_on_a_pr_speaks_of_its_base_branch(
    bulwark: Embedded, org: int, base: str, says: str, not_said: str
) -> None:
    state = bulwark.sandbox.state
    policy = "mode: report\nbranches: [default, release]\n"
    state.add_file("acme", ".github", ".github/repo-protection.yml", policy)
    bulwark.runtime.policies.forget("acme")
    state.set_protection("acme", "api", "main", strong_protection())
    state.add_pull("acme", "api", number=8, head_sha=state.new_sha(), base=base, author="bob")

    await say(bulwark, "/protection status", number=8)

    [reply] = replies(bulwark.sandbox, 8)
    assert says in reply
    assert not_said not in reply


async def test_status_on_an_issue_speaks_of_the_default_branch(bulwark: Embedded, org: int) -> None:
    state = bulwark.sandbox.state
    issue = state.add_issue("acme", "api", title="Is main protected?", author="rita")

    number = issue["number"]
    payload = await say(bulwark, "/protection status", "rita", number=number, is_pull=False)

    [reply] = replies(bulwark.sandbox, issue["number"])
    assert "does not meet the protection policy" in reply
    assert eyes(bulwark.sandbox, payload)
    pulls = [r for r in bulwark.sandbox.requests if "/pulls/" in r.path]
    assert pulls == []


async def test_status_on_an_issue_covers_every_protected_branch(
    bulwark: Embedded, org: int
) -> None:
    state = bulwark.sandbox.state
    policy = "mode: report\nbranches: [default, release]\n"
    state.add_file("acme", ".github", ".github/repo-protection.yml", policy)
    bulwark.runtime.policies.forget("acme")
    state.set_protection("acme", "api", "main", strong_protection())
    issue = state.add_issue("acme", "api", title="Are we covered?", author="rita")

    await say(bulwark, "/protection status", "rita", number=issue["number"], is_pull=False)

    [reply] = replies(bulwark.sandbox, issue["number"])
    assert "release allows force pushes" in reply  # a branch other than the default
    assert "on `release`" in reply and "on `main`" not in reply  # main meets the policy


async def test_check_reconciles_in_the_repo_mode(bulwark: Embedded, org: int) -> None:
    await say(bulwark, "/protection check")

    [reply] = replies(bulwark.sandbox)
    assert "checked again" in reply
    assert "does not meet the protection policy" in reply
    assert protection_writes(bulwark.sandbox) == []  # report mode: check writes nothing
    assert not reviews_required(bulwark.sandbox)


async def test_check_in_enforce_mode_repairs(bulwark: Embedded, org: int) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: enforce\n")
    bulwark.runtime.policies.forget("acme")

    await say(bulwark, "/protection check")

    [reply] = replies(bulwark.sandbox)
    assert "checked again" in reply
    assert reviews_required(bulwark.sandbox)


async def test_help_names_every_command_and_who_may_use_it(bulwark: Embedded, org: int) -> None:
    await say(bulwark, "/protection help")

    [reply] = replies(bulwark.sandbox)
    for verb in ("status", "check", "fix", "report", "help"):
        assert f"`/protection {verb}`" in reply
    assert "admin" in reply and "maintain" in reply and "org owner" in reply


async def test_unknown_subcommand_gets_help_naming_the_word(bulwark: Embedded, org: int) -> None:
    await say(bulwark, "/protection frobnicate")

    [reply] = replies(bulwark.sandbox)
    assert "frobnicate" in reply
    assert "`/protection status`" in reply


async def test_case_and_spaces_and_several_commands(bulwark: Embedded, org: int) -> None:
    payload = await say(bulwark, "  /PROTECTION    Status  \nthanks\n/Protection\tHELP")

    got = replies(bulwark.sandbox)
    assert len(got) == 2
    assert "does not meet the protection policy" in got[0]
    assert "`/protection fix`" in got[1]
    assert len(eyes(bulwark.sandbox, payload)) == 1


@pytest.mark.parametrize(
    "body",
    [
        "```\n/protection fix\n```",
        "~~~\n/protection status\n~~~",
        "Try `/protection status` next time.",
        "> /protection status",
        "> quoted\n/protection status is what I typed",
        "Say\n`\n/protection status\n`",
        "I never said /protection status in a line of its own.",
    ],
)
async def test_commands_in_code_or_quotes_are_not_commands(
    bulwark: Embedded, org: int, body: str
) -> None:
    payload = await say(bulwark, body, "adam")

    assert replies(bulwark.sandbox) == []
    assert eyes(bulwark.sandbox, payload) == []
    assert protection_writes(bulwark.sandbox) == []


# ---- fix and report: who may --------------------------------------------------------------


@pytest.mark.parametrize("login", PRIVILEGED)
async def test_fix_by_admin_maintain_or_org_owner_applies_the_policy(
    bulwark: Embedded, org: int, login: str
) -> None:
    payload = await say(bulwark, "/protection fix", login)

    [reply] = replies(bulwark.sandbox)
    assert "applied the org policy" in reply
    assert reviews_required(bulwark.sandbox)
    assert protection_writes(bulwark.sandbox)
    assert eyes(bulwark.sandbox, payload)


@pytest.mark.parametrize("login", [*UNPRIVILEGED, "dependabot[bot]", "bulwark[bot]"])
@pytest.mark.parametrize("verb", ["fix", "report"])
async def test_nobody_else_changes_protection_or_the_report(
    bulwark: Embedded, org: int, login: str, verb: str
) -> None:
    await say(bulwark, f"/protection {verb}", login)

    assert protection_writes(bulwark.sandbox) == []
    assert not reviews_required(bulwark.sandbox)
    issues = [r for r in bulwark.sandbox.requests if r.path.startswith("/repos/acme/.github/")]
    assert [r for r in issues if r.method != "GET"] == []
    if login.endswith("[bot]"):
        assert replies(bulwark.sandbox) == []  # bots are not answered at all
        assert bulwark.sandbox.requests == []
    else:
        [reply] = replies(bulwark.sandbox)
        assert f"`/protection {verb}` needs the" in reply
        assert "admin" in reply and "maintain" in reply
        role = ROLES.get(login, "no role")
        assert role in reply


async def test_a_payload_claiming_owner_does_not_help_a_read_user(
    bulwark: Embedded, org: int
) -> None:
    await say(bulwark, "/protection fix", "rita", tweak={"author_association": "OWNER"})

    [reply] = replies(bulwark.sandbox)
    assert "needs the" in reply and "read" in reply
    assert protection_writes(bulwark.sandbox) == []
    asked = [r.path for r in bulwark.sandbox.requests if r.path.endswith("/permission")]
    assert asked == ["/repos/acme/api/collaborators/rita/permission"]


async def test_org_owner_without_a_repo_role_is_asked_of_the_org(
    bulwark: Embedded, org: int
) -> None:
    state = bulwark.sandbox.state
    state.add_org_owner("acme", "olga")
    state.repo("acme", "api").collaborators["olga"] = None

    await say(bulwark, "/protection fix", "olga")

    [reply] = replies(bulwark.sandbox)
    assert "applied the org policy" in reply
    assert reviews_required(bulwark.sandbox)


@pytest.mark.parametrize("login", PRIVILEGED)
async def test_report_by_a_privileged_user_links_the_report(
    bulwark: Embedded, org: int, login: str
) -> None:
    await say(bulwark, "/protection report", login)

    [reply] = replies(bulwark.sandbox)
    [issue] = bulwark.sandbox.state.issues("acme", ".github")
    assert f"/issues/{issue['number']}" in reply
    assert "up to date" in reply


# ---- what is ignored -----------------------------------------------------------------------


@pytest.mark.parametrize("action", ["edited", "deleted"])
async def test_edited_and_deleted_comments_do_nothing(
    bulwark: Embedded, org: int, action: str
) -> None:
    await say(bulwark, "/protection fix", "adam", action=action)

    assert replies(bulwark.sandbox) == []
    assert bulwark.sandbox.requests == []


async def test_the_apps_own_reply_quoting_a_command_does_nothing(
    bulwark: Embedded, org: int
) -> None:
    await say(bulwark, "/protection help", "bulwark[bot]")

    assert replies(bulwark.sandbox) == []
    assert bulwark.sandbox.requests == []


async def test_a_bot_sender_is_ignored_whatever_the_comment_says(
    bulwark: Embedded, org: int
) -> None:
    payload: dict[str, Any] = bulwark.sandbox.payloads.issue_comment(
        "created", "acme", "api", 7, "/protection status", "will"
    )
    payload["sender"]["type"] = "Bot"
    payload["sender"]["login"] = "ci-bot"
    assert await bulwark.deliver("issue_comment", payload) == 202
    await bulwark.settle()

    assert replies(bulwark.sandbox) == []


# ---- floods and failures -------------------------------------------------------------------


async def test_a_flood_is_answered_a_bounded_number_of_times_then_one_notice(
    bulwark: Embedded, org: int, clock: FakeClock
) -> None:
    for _ in range(4):
        await say(bulwark, "/protection status\n/protection help")

    got = replies(bulwark.sandbox)
    limit = bulwark.runtime.limiter.per_minute
    assert len(got) == limit + 1
    assert "many commands" in got[-1]
    assert all("many commands" not in r for r in got[:-1])

    clock.advance(61)
    await say(bulwark, "/protection help")
    assert len(replies(bulwark.sandbox)) == limit + 2


async def test_the_limit_is_per_thread(bulwark: Embedded, org: int) -> None:
    state = bulwark.sandbox.state
    issue = state.add_issue("acme", "api", title="Another thread", author="rita")
    for _ in range(4):
        await say(bulwark, "/protection status\n/protection help")

    await say(bulwark, "/protection help", number=issue["number"], is_pull=False)

    assert len(replies(bulwark.sandbox, issue["number"])) == 1


async def test_one_flooder_silences_nobody_else(bulwark: Embedded, org: int) -> None:
    limit = bulwark.runtime.limiter.per_minute
    for _ in range(limit + 3):
        await say(bulwark, "/protection help", "will")
    flooded = len(replies(bulwark.sandbox))

    await say(bulwark, "/protection status", "adam")  # an admin
    await say(bulwark, "/protection help", "rita")  # anyone else

    got = replies(bulwark.sandbox)
    assert flooded == limit + 1  # will's answers and one notice
    assert len(got) == flooded + 2
    assert all("many commands" not in r for r in got[flooded:])


async def test_someone_who_may_fix_is_never_dropped(bulwark: Embedded, org: int) -> None:
    limit = bulwark.runtime.limiter.per_minute
    for _ in range(limit + 2):
        await say(bulwark, "/protection help", "mia")  # maintain

    got = replies(bulwark.sandbox)
    assert len(got) == limit + 2
    assert all("many commands" not in r for r in got)
    asked = [
        r for r in bulwark.sandbox.requests if r.path.endswith("/collaborators/mia/permission")
    ]
    assert len(asked) == 2  # asked only for the commands past the limit


async def test_the_notice_names_the_flooder_not_the_next_commenter(
    bulwark: Embedded, org: int
) -> None:
    limit = bulwark.runtime.limiter.per_minute
    for _ in range(limit):
        await say(bulwark, "/protection help", "will")
    await say(bulwark, "/protection help", "rita")  # the next one on the thread: answered
    await say(bulwark, "/protection help", "will")  # over will's limit: the notice

    got = replies(bulwark.sandbox)
    assert len(got) == limit + 2
    assert "many commands" not in got[-2]
    assert "many commands" in got[-1]
    assert "will" in got[-1] and "rita" not in got[-1]
    assert "@will" not in got[-1]  # named, escaped, never mentioned


async def test_github_down_is_told_in_the_thread(bulwark: Embedded, org: int) -> None:
    # Down for GraphQL and for REST's protection read: the verdict cannot be read at all.
    fail_only(bulwark.sandbox, {"/graphql", "/repos/{owner}/{repo}/branches/{branch}/protection"})

    await say(bulwark, "/protection status")

    [reply] = replies(bulwark.sandbox)
    assert "could not" in reply
    assert "503" in reply or "GitHub" in reply


async def test_permission_lookup_failing_is_told_and_nothing_is_written(
    bulwark: Embedded, org: int
) -> None:
    fail_only(bulwark.sandbox, {"/repos/{owner}/{repo}/collaborators/{username}/permission"})

    await say(bulwark, "/protection fix", "adam")

    [reply] = replies(bulwark.sandbox)
    assert "I could not run `/protection fix`" in reply
    assert protection_writes(bulwark.sandbox) == []


async def test_a_secondary_rate_limit_is_told_in_the_thread(bulwark: Embedded, org: int) -> None:
    fail_only(bulwark.sandbox, {"/repos/{owner}/{repo}/branches/{branch}/protection"}, "secondary")

    await say(bulwark, "/protection fix", "adam")

    [reply] = replies(bulwark.sandbox)
    assert "could not" in reply.lower()
    assert not reviews_required(bulwark.sandbox)


async def test_a_failed_reaction_still_gets_the_answer(bulwark: Embedded, org: int) -> None:
    fail_only(bulwark.sandbox, {"/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"})

    await say(bulwark, "/protection help")

    assert len(replies(bulwark.sandbox)) == 1


async def test_the_base_branch_lookup_failing_is_told_in_the_thread(
    bulwark: Embedded, org: int
) -> None:
    fail_only(bulwark.sandbox, {"/repos/{owner}/{repo}/pulls/{pull_number}"})

    payload = await say(bulwark, "/protection status\n/protection fix", "adam")

    got = replies(bulwark.sandbox)
    assert len(got) == 2
    assert all("I could not run" in reply for reply in got)
    assert eyes(bulwark.sandbox, payload)
    assert protection_writes(bulwark.sandbox) == []


async def test_after_the_notice_a_flood_costs_no_requests(bulwark: Embedded, org: int) -> None:
    for _ in range(4):
        await say(bulwark, "/protection status\n/protection help")
    bulwark.sandbox.requests.clear()

    payload = await say(bulwark, "/protection status")

    assert bulwark.sandbox.requests == []
    assert eyes(bulwark.sandbox, payload) == []
