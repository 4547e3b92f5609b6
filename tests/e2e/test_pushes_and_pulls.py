"""Direct pushes, pull request feedback and policy trust, end to end through signed webhooks."""

from __future__ import annotations

from bot.cli.embedded import Embedded
from bot.core.render import COMMIT_COMMENT_MARKER, PR_STATUS_MARKER
from bot.engine.pushes import ASSOCIATION_WAIT
from tests.fixtures import install, weak_protection


async def _push(bulwark: Embedded, repo: str, shas: list[str], pusher: str, **kw: object) -> None:
    payload = bulwark.sandbox.payloads.push("acme", repo, "main", shas, pusher, **kw)
    assert await bulwark.deliver("push", payload) == 202
    await bulwark.settle()


async def test_direct_push_is_a_finding_with_one_commit_comment(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    sha = state.add_commit("acme", "api", "main", message="hotfix", author="bob")

    await _push(bulwark, "api", [sha], "bob")
    await _push(bulwark, "api", [sha], "bob")  # redelivered push: still one comment

    comments = [c for c in state.commit_comments("acme", "api") if c["commit_id"] == sha]
    assert len(comments) == 1
    assert COMMIT_COMMENT_MARKER in comments[0]["body"]
    pushes = bulwark.runtime.statuses.org("acme").direct_pushes
    assert any(p.sha == sha and p.pusher == "bob" for p in pushes)


def _merged(bulwark: Embedded, *, approver: str) -> str:
    """Merge bob's pull request into acme/api's main, approved by `approver`; return the sha."""
    state = bulwark.sandbox.state
    sha = state.add_commit("acme", "api", "main", message="Merge pull request", author="bob")
    number = state.add_pull(
        "acme", "api", head_sha=state.new_sha(), author="bob", merged=True,
        merge_commit_sha=sha, state="closed",
    )  # fmt: skip
    state.add_review("acme", "api", number, user=approver, state="APPROVED")
    return sha


async def test_reviewed_merge_is_not_a_direct_push(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    sha = _merged(bulwark, approver="carol")

    await _push(bulwark, "api", [sha], "bob")

    assert state.commit_comments("acme", "api") == []
    assert not bulwark.runtime.statuses.org("acme").direct_pushes


def _association_asks(bulwark: Embedded, sha: str) -> list[float]:
    """When Bulwark asked GitHub which pull requests brought `sha`."""
    return [r.time for r in bulwark.sandbox.requests if r.path.endswith(f"/commits/{sha}/pulls")]


async def test_merge_whose_association_lags_is_not_a_direct_push(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    # A rebase merge of two commits; GitHub links them to the pull request 20 s after the push.
    first = state.add_commit("acme", "api", "main", message="one", author="bob")
    last = state.add_commit("acme", "api", "main", message="two", author="bob")
    number = state.add_pull(
        "acme", "api", head_sha=state.new_sha(), author="bob", merged=True,
        merge_commit_sha=last, commits=[first, last], association_lag=20.0,
    )  # fmt: skip
    state.add_review("acme", "api", number, user="carol", state="APPROVED")
    pushed_at = bulwark.sandbox.clock.time()

    await _push(bulwark, "api", [first, last], "bob")

    assert state.commit_comments("acme", "api") == []
    assert not bulwark.runtime.statuses.org("acme").direct_pushes
    asks = _association_asks(bulwark, first)
    assert len(asks) > 1  # the empty answer was asked again, not believed
    assert 20.0 <= asks[-1] - pushed_at < ASSOCIATION_WAIT  # until GitHub linked it, no longer
    assert len(_association_asks(bulwark, last)) == 1  # the merge commit matched at once


async def test_lagging_merge_commit_is_matched_by_merge_commit_sha(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.association_lag = 30.0
    await install(bulwark)
    sha = _merged(bulwark, approver="carol")

    await _push(bulwark, "api", [sha], "bob")

    assert not bulwark.runtime.statuses.org("acme").direct_pushes
    assert len(_association_asks(bulwark, sha)) == 1  # no waiting needed
    listed = [r for r in bulwark.sandbox.requests if r.path == "/repos/acme/api/pulls"]
    assert listed and all(r.status == 200 for r in listed)


async def test_direct_push_is_still_found_after_the_bounded_wait(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.association_lag = 20.0
    await install(bulwark)
    sha = state.add_commit("acme", "api", "main", message="hotfix", author="bob")
    pushed_at = bulwark.sandbox.clock.time()

    await _push(bulwark, "api", [sha], "bob")

    pushes = bulwark.runtime.statuses.org("acme").direct_pushes
    assert [(p.sha, p.pusher) for p in pushes] == [(sha, "bob")]
    assert len(state.commit_comments("acme", "api")) == 1
    asks = _association_asks(bulwark, sha)
    assert asks[-1] - pushed_at == ASSOCIATION_WAIT  # waited exactly the bound, then accused


async def test_self_approved_merge_is_a_direct_push(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    sha = _merged(bulwark, approver="bob")  # the author approving their own change

    await _push(bulwark, "api", [sha], "bob")

    assert len(state.commit_comments("acme", "api")) == 1


async def test_force_push_is_a_finding(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    head = state.repo("acme", "api").branches["main"]

    await _push(bulwark, "api", [], "mallory", forced=True, after=head, before="a" * 40)

    pushes = bulwark.runtime.statuses.org("acme").direct_pushes
    assert any(p.forced and p.pusher == "mallory" for p in pushes)


async def test_push_to_an_unprotected_branch_is_ignored(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api", branches=("main", "scratch"))
    await install(bulwark)
    sha = state.add_commit("acme", "api", "scratch", message="wip", author="bob")
    payload = bulwark.sandbox.payloads.push("acme", "api", "scratch", [sha], "bob")
    assert await bulwark.deliver("push", payload) == 202
    await bulwark.settle()
    assert state.commit_comments("acme", "api") == []


async def _open_pr(
    bulwark: Embedded, repo: str, action: str = "opened", sha: str = "a" * 40
) -> int:
    state = bulwark.sandbox.state
    number = state.add_pull("acme", repo, head_sha=sha, author="bob")
    payload = bulwark.sandbox.payloads.pull_request(action, "acme", repo, number, "bob")
    assert await bulwark.deliver("pull_request", payload) == 202
    await bulwark.settle()
    return number


async def test_pr_on_a_compliant_base_gets_a_green_check_and_no_comment(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    number = await _open_pr(bulwark, "api")
    runs = [r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection"]
    assert len(runs) == 1 and runs[0]["conclusion"] == "success"
    assert state.comments("acme", "api", number) == []


async def test_a_pr_seen_before_is_judged_without_listing_comments_or_runs(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    bulwark.sandbox.requests.clear()
    number = await _open_pr(bulwark, "api")
    # Just opened: no comment of Bulwark's to look for; a new head SHA: its runs are listed.
    assert [f"{r.method} {r.template}" for r in bulwark.sandbox.requests] == [
        "POST /graphql",
        "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
        "POST /repos/{owner}/{repo}/check-runs",
    ]
    bulwark.sandbox.requests.clear()

    payload = bulwark.sandbox.payloads.pull_request("synchronize", "acme", "api", number, "bob")
    assert await bulwark.deliver("pull_request", payload) == 202
    await bulwark.settle()

    sent = [f"{r.method} {r.template}" for r in bulwark.sandbox.requests]
    assert sent == ["POST /graphql", "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}"]
    runs = [r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection"]
    assert len(runs) == 1 and runs[0]["conclusion"] == "success"
    assert state.comments("acme", "api", number) == []


async def test_pr_on_a_drifted_base_gets_one_check_and_one_comment(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    await install(bulwark)
    number = await _open_pr(bulwark, "api")
    for _ in range(5):
        payload = bulwark.sandbox.payloads.pull_request("synchronize", "acme", "api", number, "bob")
        assert await bulwark.deliver("pull_request", payload) == 202
    await bulwark.settle()

    runs = [r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection"]
    assert len(runs) == 1
    assert runs[0]["conclusion"] == "failure"
    assert [a["identifier"] for a in runs[0]["actions"]] == ["fix-protection"]
    comments = [c for c in state.comments("acme", "api", number) if PR_STATUS_MARKER in c["body"]]
    assert len(comments) == 1

    # An admin clicks "Fix protection": the base is fixed and the comment says so.
    state.add_collaborator("acme", "api", "alice", "admin")
    run = runs[0]
    payload = bulwark.sandbox.payloads.check_run(
        "requested_action", "acme", "api", run["id"], "alice", requested_action="fix-protection"
    )
    assert await bulwark.deliver("check_run", payload) == 202
    await bulwark.settle()
    assert state.protection("acme", "api", "main")["enforce_admins"]["enabled"] is True
    comments = [c for c in state.comments("acme", "api", number) if PR_STATUS_MARKER in c["body"]]
    assert len(comments) == 1 and "Resolved" in comments[0]["body"]


async def test_pr_from_a_fork_is_told_codeql_will_not_report(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.add_org("outsider")
    state.add_repo("outsider", "api", fork=True)
    await install(bulwark)
    number = state.add_pull(
        "acme", "api", head_sha="c" * 40, author="bob", head_repo="outsider/api"
    )
    payload = bulwark.sandbox.payloads.pull_request("opened", "acme", "api", number, "bob")
    assert await bulwark.deliver("pull_request", payload) == 202
    await bulwark.settle()

    run = next(r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection")
    assert "comes from a fork" in run["output"]["summary"]
    same_repo = await _open_pr(bulwark, "api", sha="d" * 40)
    runs = {r["head_sha"]: r for r in state.check_runs("acme", "api")}
    assert same_repo and "comes from a fork" not in runs["d" * 40]["output"]["summary"]


async def test_fix_button_refused_for_a_writer(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    await install(bulwark)
    await _open_pr(bulwark, "api")
    state.add_collaborator("acme", "api", "dave", "write")
    run = next(r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection")
    bulwark.sandbox.requests.clear()

    payload = bulwark.sandbox.payloads.check_run(
        "requested_action", "acme", "api", run["id"], "dave", requested_action="fix-protection"
    )
    assert await bulwark.deliver("check_run", payload) == 202
    await bulwark.settle()

    assert state.protection("acme", "api", "main")["enforce_admins"]["enabled"] is False
    assert not [r for r in bulwark.sandbox.requests if r.method == "PUT"]
    run = next(r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection")
    assert "Nothing was changed" in run["output"]["summary"]


async def test_policy_on_a_pr_branch_changes_nothing(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api", branches=("main", "weaken"))
    state.add_file("acme", "api", ".github/repo-protection.yml", "mode: report\n", branch="weaken")
    state.add_file(
        "acme", ".github", ".github/repo-protection.yml", "mode: report\n", branch="main"
    )
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: enforce\n")
    await install(bulwark)
    got = state.protection("acme", "api", "main")
    assert got is not None and got["enforce_admins"]["enabled"] is True


async def test_weakening_repo_policy_is_refused(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    state.add_file(
        "acme",
        "api",
        ".github/repo-protection.yml",
        "pull_request_reviews:\n  required_approving_review_count: 0\n",
    )
    await install(bulwark)
    got = state.protection("acme", "api", "main")
    assert got["required_pull_request_reviews"]["required_approving_review_count"] == 1
    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None
    invalid = [f for f in status.findings if f.kind.value == "policy_invalid"]
    assert invalid and ":2:" in invalid[0].message


async def test_malformed_org_policy_keeps_the_default(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: [unclosed\n")
    state.add_repo("acme", "api")
    await install(bulwark)
    assert state.protection("acme", "api", "main") is not None
    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None and any(f.kind.value == "policy_invalid" for f in status.findings)


async def test_policy_push_on_default_branch_reloads(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    await install(bulwark)
    assert state.protection("acme", "api", "main")["enforce_admins"]["enabled"] is False

    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: enforce\n")
    sha = state.add_commit("acme", ".github", "main", message="enforce", author="alice")
    payload = bulwark.sandbox.payloads.push("acme", ".github", "main", [sha], "alice")
    for commit in payload["commits"]:
        commit["modified"] = [".github/repo-protection.yml"]
    assert await bulwark.deliver("push", payload) == 202
    await bulwark.settle()

    assert state.protection("acme", "api", "main")["enforce_admins"]["enabled"] is True


async def test_disabled_classic_protection_falls_back_to_a_ruleset(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api", protection_disabled=True)
    installation_id = await install(bulwark)
    rulesets = state.rulesets("acme", "api")
    assert [r["name"] for r in rulesets] == ["Bulwark policy"]
    status = bulwark.runtime.statuses.get("acme/api")
    assert status is not None and status.outcome.value == "fixed"
    # GitHub answered the GET of …/protection with the "disabled" 404: no classic write tried.
    path = "/repos/acme/api/branches/main/protection"
    gets = [r for r in bulwark.sandbox.requests if r.path == path]
    assert gets and all(r.status == 404 and r.method == "GET" for r in gets)

    bulwark.sandbox.requests.clear()
    await bulwark.runtime.enqueue_resync(installation_id, delivery_id="again")
    await bulwark.settle()
    assert bulwark.sandbox.writes("acme", "api") == []  # the ruleset is edited in place, not again


async def test_private_repo_on_a_free_plan_is_not_supported(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_org("tiny", plan="free")
    state.add_repo("tiny", "secret", private=True)
    await install(bulwark, "tiny")
    status = bulwark.runtime.statuses.get("tiny/secret")
    assert status is not None and status.outcome.value == "unsupported"
    assert status.findings[0].kind.value == "not_supported"
    assert not [w for w in bulwark.sandbox.writes("tiny", "secret") if "/protection" in w.path]


async def test_approval_into_another_branch_does_not_count(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api", branches=("main", "scratch"))
    await install(bulwark)
    sha = state.add_commit("acme", "api", "main", message="from scratch", author="bob")
    number = state.add_pull(
        "acme", "api", head_sha=sha, base="scratch", author="bob", merged=True, state="closed"
    )
    state.add_review("acme", "api", number, user="carol", state="APPROVED")

    await _push(bulwark, "api", [sha], "bob")

    assert len(state.commit_comments("acme", "api")) == 1


async def test_a_direct_push_to_an_excluded_repo_is_left_alone(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    policy = "exclude:\n  repositories:\n    - {name: scratch, reason: experiments}\n"
    state.add_file("acme", ".github", ".github/repo-protection.yml", policy)
    state.add_repo("acme", "scratch")
    await install(bulwark)
    sha = state.add_commit("acme", "scratch", "main", message="wip", author="bob")

    await _push(bulwark, "scratch", [sha], "bob")

    assert state.commit_comments("acme", "scratch") == []
    assert not bulwark.runtime.statuses.org("acme").direct_pushes


async def test_a_failed_read_leaves_the_status_comment_alone(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    await install(bulwark)
    number = await _open_pr(bulwark, "api")
    [before] = [c for c in state.comments("acme", "api", number) if PR_STATUS_MARKER in c["body"]]

    bulwark.sandbox.faults.configure(1.0, kinds=("502",), methods=("GET",))
    payload = bulwark.sandbox.payloads.pull_request("synchronize", "acme", "api", number, "bob")
    assert await bulwark.deliver("pull_request", payload) == 202
    await bulwark.settle()
    bulwark.sandbox.faults.clear()

    [after] = [c for c in state.comments("acme", "api", number) if PR_STATUS_MARKER in c["body"]]
    assert after["body"] == before["body"]  # still says the base drifts; never "Resolved"


async def test_another_apps_check_run_and_comment_are_never_adopted(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    await install(bulwark)
    sha = "b" * 40
    number = state.add_pull("acme", "api", head_sha=sha, author="bob")
    other = state.add_check_run(
        "acme", "api", {"name": "repo-protection", "head_sha": sha}, app_id=999
    )
    state.add_user("impostor[bot]", bot=True)
    state.add_comment(
        "acme", "api", number, body=f"{PR_STATUS_MARKER}\nnot Bulwark", author="impostor[bot]"
    )

    payload = bulwark.sandbox.payloads.pull_request("opened", "acme", "api", number, "bob")
    assert await bulwark.deliver("pull_request", payload) == 202
    await bulwark.settle()

    runs = [r for r in state.check_runs("acme", "api") if r["head_sha"] == sha]
    assert (
        len(runs) == 2 and state.repo("acme", "api").check_runs[other["id"]]["status"] == "queued"
    )
    bodies = [c["body"] for c in state.comments("acme", "api", number)]
    assert f"{PR_STATUS_MARKER}\nnot Bulwark" in bodies and len(bodies) == 2


async def test_fix_button_works_on_a_pull_request_from_a_fork(bulwark: Embedded) -> None:
    state = bulwark.sandbox.state
    state.add_file("acme", ".github", ".github/repo-protection.yml", "mode: report\n")
    state.add_repo("acme", "api")
    state.set_protection("acme", "api", "main", weak_protection())
    state.add_org("outsider")
    state.add_repo("outsider", "api", fork=True)
    await install(bulwark)
    number = state.add_pull(
        "acme", "api", head_sha="f" * 40, author="bob", head_repo="outsider/api"
    )
    payload = bulwark.sandbox.payloads.pull_request("opened", "acme", "api", number, "bob")
    assert await bulwark.deliver("pull_request", payload) == 202
    await bulwark.settle()
    run = next(r for r in state.check_runs("acme", "api") if r["name"] == "repo-protection")
    state.add_collaborator("acme", "api", "alice", "admin")

    click = bulwark.sandbox.payloads.check_run(
        "requested_action", "acme", "api", run["id"], "alice", requested_action="fix-protection"
    )
    assert click["check_run"]["pull_requests"] == []  # as GitHub sends it for a fork's PR
    assert await bulwark.deliver("check_run", click) == 202
    await bulwark.settle()

    assert state.protection("acme", "api", "main")["enforce_admins"]["enabled"] is True


async def test_a_rebase_merge_of_a_reviewed_pull_request_is_not_a_direct_push(
    bulwark: Embedded,
) -> None:
    state = bulwark.sandbox.state
    state.add_repo("acme", "api")
    await install(bulwark)
    shas = [
        state.add_commit("acme", "api", "main", message=f"step {i}", author="bob") for i in range(3)
    ]
    number = state.add_pull(
        "acme", "api", head_sha=shas[-1], author="bob", merged=True, state="closed", commits=shas
    )
    state.add_review("acme", "api", number, user="carol", state="APPROVED")

    await _push(bulwark, "api", shas, "bob")

    assert state.commit_comments("acme", "api") == []
