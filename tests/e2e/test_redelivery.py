"""No delivery lost: deliveries that failed while Bulwark was down are redelivered, run once."""

from __future__ import annotations

from bot.cli.embedded import Embedded
from bot.core.render import COMMAND_REPLY_MARKER
from bot.sandbox import Sandbox
from bot.service.redelivery import LocalClaims, Redeliverer, lost
from tests.fixtures import install, weak_protection

DOWN = "http://127.0.0.1:9/api/github/webhooks"  # the discard port: nothing listens


def replies(sandbox: Sandbox) -> list[str]:
    comments = sandbox.state.comments("acme", "api", 7)
    return [c["body"] for c in comments if COMMAND_REPLY_MARKER in c["body"]]


def redeliverer(bulwark: Embedded) -> Redeliverer:
    """A fresh redeliverer, as a restarted process builds one."""
    runtime = bulwark.runtime
    return Redeliverer(
        runtime.clients.for_app, LocalClaims(runtime.clock), runtime.clock, metrics=bulwark.metrics
    )


async def lose_while_down(bulwark: Embedded) -> list[str]:
    """Send a slash command and a repository event while Bulwark cannot be reached."""
    box = bulwark.sandbox
    assert box.state.hook_config is not None
    box.state.hook_config["url"] = DOWN
    comment = box.payloads.issue_comment(
        "created", "acme", "api", 7, "/protection status", "bob", True
    )
    guids = [(await box.send_hook("issue_comment", comment)).guid]
    box.state.hook_config["url"] = bulwark.webhook_url  # Bulwark is back
    return guids


async def test_deliveries_failed_while_down_are_redelivered_and_answered_once(
    bulwark: Embedded,
) -> None:
    box = bulwark.sandbox
    box.state.add_repo("acme", "api")
    box.state.set_protection("acme", "api", "main", weak_protection())
    box.state.add_pull(
        "acme", "api", number=7, head_sha=box.state.new_sha(), base="main", author="bob"
    )
    await install(bulwark)
    (guid,) = await lose_while_down(bulwark)
    assert [d.status for d in box.state.hook_deliveries] == ["failed to connect to host"]
    assert replies(box) == []

    first = await redeliverer(bulwark).run_pass()
    await bulwark.settle()
    assert (first.failed, first.asked) == (1, 1)
    assert len(replies(box)) == 1
    attempts = [d for d in box.state.hook_deliveries if d.guid == guid]
    assert [(d.redelivery, d.status) for d in attempts] == [(False, "failed to connect to host"),
                                                            (True, "OK")]  # fmt: skip

    # The same process again, and a restarted one: GitHub's log shows it delivered.
    again = await redeliverer(bulwark).run_pass()
    await bulwark.settle()
    assert (again.failed, again.asked) == (0, 0)
    asked = [r for r in box.requests if r.template.endswith("/attempts")]
    assert len(asked) == 1
    assert len(replies(box)) == 1


async def test_a_redelivery_of_a_delivery_already_run_is_not_run_again(bulwark: Embedded) -> None:
    box = bulwark.sandbox
    box.state.add_repo("acme", "api")
    box.state.add_pull(
        "acme", "api", number=7, head_sha=box.state.new_sha(), base="main", author="bob"
    )
    await install(bulwark)
    assert box.state.hook_config is not None
    box.state.hook_config["url"] = bulwark.webhook_url
    comment = box.payloads.issue_comment(
        "created", "acme", "api", 7, "/protection status", "bob", True
    )
    sent = await box.send_hook("issue_comment", comment)
    await bulwark.settle()
    # GitHub timed out on its side though Bulwark took it: the log says failed.
    sent.status, sent.status_code = "timed out", 0
    result = await redeliverer(bulwark).run_pass()
    await bulwark.settle()
    assert result.asked == 1
    assert len(replies(box)) == 1  # the same GUID is acknowledged, not run twice


async def test_a_pass_is_bounded_and_claims_each_guid_once(bulwark: Embedded) -> None:
    box = bulwark.sandbox
    await install(bulwark)
    assert box.state.hook_config is not None
    box.state.hook_config["url"] = DOWN
    for _ in range(5):
        await box.send_hook("ping", box.payloads.ping())
    claims = LocalClaims(bulwark.runtime.clock)
    runner = Redeliverer(
        bulwark.runtime.clients.for_app, claims, bulwark.runtime.clock, max_per_pass=2
    )
    counts = [(await runner.run_pass()).asked for _ in range(4)]
    # Still down: each redelivery fails too, but a GUID is asked for once per window.
    assert counts == [2, 2, 1, 0]
    assert len(lost([vars(d) for d in box.state.hook_deliveries])) == 5
