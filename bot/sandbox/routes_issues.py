"""Conversation endpoints: issues, comments, labels, reactions, pulls, reviews, check runs."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.routes_common import (
    BODY,
    body_of,
    caller_of,
    check_body_length,
    error,
    invalid,
    not_found,
    paginate,
    repo_from,
    respond,
    state_of,
)
from bot.sandbox.shapes import (
    check_run_json,
    comment_json,
    issue_json,
    label_json,
    pull_as_issue_json,
    pull_json,
    review_json,
    user_json,
)
from bot.sandbox.state import JSON, Repo

routes = web.RouteTableDef()
ISSUES_DISABLED = "Issues are disabled for this repo"
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"})
MAX_OUTPUT = 65535


def _issues_repo(request: web.Request, *, write: bool = False) -> Repo:
    repo = repo_from(request, write=write)
    if not repo.has_issues:
        raise error(410, ISSUES_DISABLED, "https://docs.github.com/rest/issues/issues")
    return repo


def _number(request: web.Request) -> int:
    try:
        return int(request.match_info["issue_number"])
    except (KeyError, ValueError):
        raise not_found() from None


def _issue(repo: Repo, number: int) -> JSON:
    issue = repo.issues.get(number)
    if issue is None:
        raise not_found()
    return issue


# ---- issues ------------------------------------------------------------------------------


@routes.get("/repos/{owner}/{repo}/issues")
async def list_issues(request: web.Request) -> web.Response:
    """List issues filtered by state, labels and creator."""
    state, repo = state_of(request), _issues_repo(request)
    wanted_state = request.query.get("state", "open")
    labels = {x.strip().lower() for x in request.query.get("labels", "").split(",") if x.strip()}
    creator = request.query.get("creator", "").lower()
    # GitHub: "every pull request is an issue" — the list holds both, newest first.
    items = [(i, False) for i in repo.issues.values()]
    items += [(p, True) for p in repo.pulls.values()]
    items.sort(key=lambda item: int(item[0]["number"]), reverse=True)
    found = [
        (i, is_pull)
        for i, is_pull in items
        if (wanted_state == "all" or i["state"] == wanted_state)
        and labels <= {x.lower() for x in i.get("labels", [])}
        and (not creator or i["author"].lower() == creator)
    ]
    page, headers = paginate(request, found)
    shown = [
        pull_as_issue_json(state, repo, i) if is_pull else issue_json(state, repo, i)
        for i, is_pull in page
    ]
    return respond(shown, headers=headers)


@routes.post("/repos/{owner}/{repo}/issues")
async def create_issue(request: web.Request) -> web.Response:
    """Open an issue."""
    state, repo = state_of(request), _issues_repo(request, write=True)
    body = body_of(request)
    check_body_length(body.get("body"))
    if not body.get("title"):
        raise invalid(
            "Validation Failed", [{"resource": "Issue", "code": "missing_field", "field": "title"}]
        )
    caller = caller_of(request)
    issue = state.add_issue(
        repo.owner,
        repo.name,
        title=str(body["title"]),
        body=body.get("body") or "",
        author=caller.login,
        labels=[str(x) for x in body.get("labels") or []],
    )
    issue["via_app"] = caller.kind == "installation"
    return respond(issue_json(state, repo, issue), 201)


@routes.get("/repos/{owner}/{repo}/issues/{issue_number:\\d+}")
async def get_issue(request: web.Request) -> web.Response:
    """Return one issue."""
    state, repo = state_of(request), _issues_repo(request)
    number = _number(request)
    if number in repo.pulls:
        return respond(pull_as_issue_json(state, repo, repo.pulls[number]))
    return respond(issue_json(state, repo, _issue(repo, number)))


@routes.patch("/repos/{owner}/{repo}/issues/{issue_number:\\d+}")
async def update_issue(request: web.Request) -> web.Response:
    """Edit an issue's title, body, state or labels."""
    state, repo = state_of(request), _issues_repo(request, write=True)
    issue = _issue(repo, _number(request))
    body = body_of(request)
    check_body_length(body.get("body"))
    for key in ("title", "body"):
        if key in body:
            issue[key] = body[key]
    if body.get("state") in ("open", "closed"):
        issue["state"] = body["state"]
        issue["closed_at"] = state.now() if body["state"] == "closed" else None
    if "labels" in body:
        issue["labels"] = [str(x) for x in body["labels"]]
        for name in issue["labels"]:
            state.ensure_label(repo, name)
    issue["updated_at"] = state.now()
    return respond(issue_json(state, repo, issue))


@routes.post("/repos/{owner}/{repo}/issues/{issue_number:\\d+}/labels")
async def add_issue_labels(request: web.Request) -> web.Response:
    """Add labels to an issue."""
    state, repo = state_of(request), repo_from(request, write=True)
    issue = _issue(repo, _number(request))
    body = request.get(BODY)
    names = body.get("labels", []) if isinstance(body, dict) else body or []
    for name in names:
        state.ensure_label(repo, str(name))
        if str(name) not in issue["labels"]:
            issue["labels"].append(str(name))
    labels = [repo.labels[n.lower()] for n in issue["labels"]]
    return respond([label_json(state, repo, lab) for lab in labels])


# ---- comments ------------------------------------------------------------------------------


@routes.get("/repos/{owner}/{repo}/issues/{issue_number:\\d+}/comments")
async def list_comments(request: web.Request) -> web.Response:
    """List the comments on an issue or pull request."""
    state, repo = state_of(request), repo_from(request)
    comments = repo.comments.get(_number(request), [])
    page, headers = paginate(request, comments)
    return respond([comment_json(state, repo, c) for c in page], headers=headers)


@routes.post("/repos/{owner}/{repo}/issues/{issue_number:\\d+}/comments")
async def create_comment(request: web.Request) -> web.Response:
    """Comment on an issue or pull request."""
    state, repo = state_of(request), repo_from(request, write=True)
    number = _number(request)
    if number not in repo.issues and number not in repo.pulls:
        raise not_found()
    if number in repo.issues and not repo.has_issues:
        raise error(410, ISSUES_DISABLED)
    body = body_of(request)
    check_body_length(body.get("body"))
    caller = caller_of(request)
    comment = state.add_comment(
        repo.owner, repo.name, number, body=str(body.get("body", "")), author=caller.login
    )
    comment["via_app"] = caller.kind == "installation"
    return respond(comment_json(state, repo, comment), 201)


def _comment(request: web.Request) -> tuple[Repo, JSON]:
    repo = repo_from(request)
    try:
        found = state_of(request).find_comment(int(request.match_info["comment_id"]))
    except ValueError:
        found = None
    if found is None or found[0] is not repo:
        raise not_found()
    return found


@routes.get("/repos/{owner}/{repo}/issues/comments/{comment_id}")
async def get_comment(request: web.Request) -> web.Response:
    """Return one comment."""
    repo, comment = _comment(request)
    return respond(comment_json(state_of(request), repo, comment))


@routes.patch("/repos/{owner}/{repo}/issues/comments/{comment_id}")
async def update_comment(request: web.Request) -> web.Response:
    """Edit a comment's body."""
    repo_from(request, write=True)
    repo, comment = _comment(request)
    text = body_of(request).get("body")
    check_body_length(text)
    comment["body"] = str(text or "")
    comment["updated_at"] = state_of(request).now()
    return respond(comment_json(state_of(request), repo, comment))


@routes.delete("/repos/{owner}/{repo}/issues/comments/{comment_id}")
async def delete_comment(request: web.Request) -> web.Response:
    """Delete a comment."""
    repo_from(request, write=True)
    repo, comment = _comment(request)
    repo.comments[comment["number"]].remove(comment)
    return respond(None, 204)


# ---- reactions -----------------------------------------------------------------------------


async def _react(request: web.Request, kind: str, subject_id: int) -> web.Response:
    state = state_of(request)
    content = body_of(request).get("content")
    if content not in REACTIONS:
        raise invalid(
            "Validation Failed", [{"resource": "Reaction", "code": "invalid", "field": "content"}]
        )
    caller = caller_of(request)
    store = state.reaction_store.setdefault((kind, subject_id), [])
    for reaction in store:
        if reaction["content"] == content and reaction["user"] == caller.login:
            return respond(_reaction_json(request, reaction), 200)
    reaction = {
        "id": state.new_id(),
        "content": content,
        "user": caller.login,
        "created_at": state.now(),
    }
    store.append(reaction)
    return respond(_reaction_json(request, reaction), 201)


def _reaction_json(request: web.Request, reaction: JSON) -> JSON:
    return {
        "id": reaction["id"],
        "node_id": f"REA_{reaction['id']}",
        "user": user_json(state_of(request), reaction["user"]),
        "content": reaction["content"],
        "created_at": reaction["created_at"],
    }


@routes.post("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
async def react_to_comment(request: web.Request) -> web.Response:
    """React to a comment (201 new, 200 when the same reaction exists)."""
    repo_from(request, write=True)
    _, comment = _comment(request)
    return await _react(request, "issue_comment", comment["id"])


@routes.post("/repos/{owner}/{repo}/issues/{issue_number:\\d+}/reactions")
async def react_to_issue(request: web.Request) -> web.Response:
    """React to an issue."""
    repo = repo_from(request, write=True)
    issue = _issue(repo, _number(request))
    return await _react(request, "issue", issue["id"])


# ---- labels --------------------------------------------------------------------------------


@routes.get("/repos/{owner}/{repo}/labels/{name}")
async def get_label(request: web.Request) -> web.Response:
    """Return one label."""
    state, repo = state_of(request), repo_from(request)
    label = repo.labels.get(request.match_info["name"].lower())
    if label is None:
        raise not_found()
    return respond(label_json(state, repo, label))


@routes.get("/repos/{owner}/{repo}/labels")
async def list_labels(request: web.Request) -> web.Response:
    """List a repository's labels."""
    state, repo = state_of(request), repo_from(request)
    page, headers = paginate(request, list(repo.labels.values()))
    return respond([label_json(state, repo, lab) for lab in page], headers=headers)


@routes.post("/repos/{owner}/{repo}/labels")
async def create_label(request: web.Request) -> web.Response:
    """Create a label (422 already_exists on a duplicate name)."""
    state, repo = state_of(request), repo_from(request, write=True)
    body = body_of(request)
    name = str(body.get("name", ""))
    if name.lower() in repo.labels:
        raise invalid(
            "Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}]
        )
    label = state.ensure_label(repo, name, str(body.get("color", "ededed")))
    label["description"] = body.get("description")
    return respond(label_json(state, repo, label), 201)


# ---- pulls and reviews -----------------------------------------------------------------------


def _pull(request: web.Request, repo: Repo) -> JSON:
    try:
        pull = repo.pulls.get(int(request.match_info["pull_number"]))
    except ValueError:
        pull = None
    if pull is None:
        raise not_found()
    return pull


@routes.get("/repos/{owner}/{repo}/pulls")
async def list_pulls(request: web.Request) -> web.Response:
    """List pull requests by state and base, newest first unless asked otherwise."""
    state, repo = state_of(request), repo_from(request)
    wanted = request.query.get("state", "open")
    base = request.query.get("base")
    found = [
        p
        for p in repo.pulls.values()
        if (wanted == "all" or p["state"] == wanted) and (not base or p["base"] == base)
    ]
    # https://docs.github.com/en/rest/pulls/pulls#list-pull-requests: `direction` defaults
    # to desc when sorting by creation, else asc. Here a pull is updated when created.
    sort = request.query.get("sort", "created")
    direction = request.query.get("direction", "desc" if sort == "created" else "asc")
    found.sort(key=lambda p: (p["created_at"], p["number"]), reverse=direction == "desc")
    page, headers = paginate(request, found)
    return respond([pull_json(state, repo, p) for p in page], headers=headers)


@routes.get("/repos/{owner}/{repo}/pulls/{pull_number}")
async def get_pull(request: web.Request) -> web.Response:
    """Return one pull request."""
    state, repo = state_of(request), repo_from(request)
    return respond(pull_json(state, repo, _pull(request, repo)))


@routes.get("/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
async def list_reviews(request: web.Request) -> web.Response:
    """List a pull request's reviews."""
    state, repo = state_of(request), repo_from(request)
    pull = _pull(request, repo)
    reviews = repo.reviews.get(pull["number"], [])
    page, headers = paginate(request, reviews)
    items = [review_json(state, repo, pull["number"], r) for r in page]
    return respond(items, headers=headers)


# ---- check runs ------------------------------------------------------------------------------


def _check_actions(actions: list[JSON]) -> None:
    if len(actions) > 3:
        raise invalid("Invalid request.\n\nOnly 3 actions are allowed.")
    limits = {"label": 20, "description": 40, "identifier": 20}
    for action in actions:
        for key, limit in limits.items():
            if len(str(action.get(key, ""))) > limit:
                raise invalid(f"Invalid request.\n\n{key} is too long (maximum is {limit})")


def _check_output(output: JSON | None) -> None:
    for key in ("summary", "text"):
        if output and len(str(output.get(key) or "")) > MAX_OUTPUT:
            raise invalid(f"Invalid request.\n\n{key} is too long (maximum is {MAX_OUTPUT})")


def _apply_run(run: JSON, body: JSON, now: str) -> None:
    _check_actions(body.get("actions") or [])
    _check_output(body.get("output"))
    for key in ("name", "status", "conclusion", "output", "actions", "details_url", "external_id"):
        if key in body:
            run[key] = body[key]
    if run.get("conclusion"):
        run["status"] = "completed"
    if run["status"] == "completed":
        run["completed_at"] = body.get("completed_at") or run["completed_at"] or now


@routes.post("/repos/{owner}/{repo}/check-runs")
async def create_check_run(request: web.Request) -> web.Response:
    """Create a check run."""
    state, repo = state_of(request), repo_from(request, write=True)
    body = body_of(request)
    _check_actions(body.get("actions") or [])
    _check_output(body.get("output"))
    if body.get("head_sha") not in repo.commits:
        raise error(422, f"No commit found for SHA: {body.get('head_sha')}")
    if body.get("status") == "completed" and not body.get("conclusion"):
        raise error(422, "Invalid request.\n\nconclusion is required when status is completed.")
    run = state.add_check_run(
        repo.owner, repo.name, {"name": body.get("name"), "head_sha": body.get("head_sha")}
    )
    _apply_run(run, body, state.now())
    return respond(check_run_json(state, repo, run), 201)


def _run(request: web.Request, repo: Repo) -> JSON:
    try:
        run = repo.check_runs.get(int(request.match_info["check_run_id"]))
    except ValueError:
        run = None
    if run is None:
        raise not_found()
    return run


@routes.get("/repos/{owner}/{repo}/check-runs/{check_run_id}")
async def get_check_run(request: web.Request) -> web.Response:
    """Return one check run."""
    state, repo = state_of(request), repo_from(request)
    return respond(check_run_json(state, repo, _run(request, repo)))


@routes.patch("/repos/{owner}/{repo}/check-runs/{check_run_id}")
async def update_check_run(request: web.Request) -> web.Response:
    """Update a check run (only its own App may)."""
    state, repo = state_of(request), repo_from(request, write=True)
    run = _run(request, repo)
    if run["app_id"] != state.app_id:
        raise error(
            403,
            f"Invalid app_id `{state.app_id}` - check run can only be modified by "
            "the GitHub App that created it.",
        )
    _apply_run(run, body_of(request), state.now())
    return respond(check_run_json(state, repo, run))


@routes.get("/repos/{owner}/{repo}/commits/{ref}/check-runs")
async def list_check_runs(request: web.Request) -> web.Response:
    """List the check runs on a commit (or branch head), optionally by `check_name`."""
    state, repo = state_of(request), repo_from(request)
    ref = request.match_info["ref"]
    sha = repo.branches.get(ref, ref)
    name = request.query.get("check_name")
    runs = [
        r
        for r in reversed(list(repo.check_runs.values()))
        if r["head_sha"] == sha and (name is None or r["name"] == name)
    ]
    page, headers = paginate(request, runs)
    body = {"total_count": len(runs), "check_runs": [check_run_json(state, repo, r) for r in page]}
    return respond(body, headers=headers)
