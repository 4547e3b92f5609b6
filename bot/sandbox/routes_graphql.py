"""POST /graphql: GitHub's schema, executed with dict/callable resolvers over sandbox state."""

from __future__ import annotations

import base64
import functools
import json
import secrets
from collections.abc import Awaitable, Mapping
from typing import Any, TypeGuard

from aiohttp import web
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLResolveInfo,
    execute,
    parse,
)

from bot.clock import isoformat
from bot.sandbox.context import context_of
from bot.sandbox.faults import GRAPHQL_FORBIDDEN_MESSAGE, GRAPHQL_TIMEOUT_MESSAGE, GraphQLFaults
from bot.sandbox.graphql_history import ref_node, repo_fields
from bot.sandbox.graphql_schema import load_graphql_schema, node_cost, validate_query
from bot.sandbox.routes_common import (
    COST,
    Caller,
    body_of,
    caller_of,
    can_see_account,
    can_see_repo,
    may_see_bypass,
    respond,
    state_of,
)
from bot.sandbox.state import JSON, Repo, State

routes = web.RouteTableDef()


class Reading:
    """What one query reads: whose protection (for the failure shapes a query may meet)."""

    def __init__(self, faults: GraphQLFaults | None = None) -> None:
        self.faults = faults or GraphQLFaults()
        self.protections: list[str] = []

    def protection(self, repo: Repo) -> None:
        """Note a read of a repository's protection; refuse it where GitHub would."""
        if repo.full_name.lower() in self.faults.forbidden:
            raise GraphQLError(GRAPHQL_FORBIDDEN_MESSAGE)
        self.protections.append(repo.full_name)


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _offset(after: str | None) -> int:
    if not after:
        return 0
    try:
        return int(base64.b64decode(after).decode().rsplit(":", 1)[1]) + 1
    except (ValueError, IndexError):
        raise GraphQLError(f"`{after}` does not appear to be a valid cursor.") from None


def connection(items: list[Any], first: int | None, after: str | None) -> JSON:
    """Return a connection page: nodes, edges, pageInfo and totalCount."""
    start = _offset(after)
    size = first if first is not None else 100
    page = items[start : start + size]
    end = start + len(page)
    return {
        "totalCount": len(items),
        "nodes": page,
        "edges": [{"cursor": _cursor(start + i), "node": n} for i, n in enumerate(page)],
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(start) if page else None,
            "endCursor": _cursor(end - 1) if page else None,
        },
    }


def _rule_node(state: State, repo: Repo, branch: str, stored: JSON) -> JSON:
    reviews = stored["required_pull_request_reviews"] or {}
    checks = stored["required_status_checks"] or {}
    entries = checks.get("checks", [])
    return {
        "__typename": "BranchProtectionRule",
        "id": f"BPR_{repo.id}_{branch}",
        "pattern": branch,
        "requiresApprovingReviews": bool(reviews),
        "requiredApprovingReviewCount": reviews.get("required_approving_review_count"),
        "dismissesStaleReviews": bool(reviews.get("dismiss_stale_reviews")),
        "requiresCodeOwnerReviews": bool(reviews.get("require_code_owner_reviews")),
        "requireLastPushApproval": bool(reviews.get("require_last_push_approval")),
        "requiresStatusChecks": bool(checks),
        "requiresStrictStatusChecks": bool(checks.get("strict")),
        "requiredStatusCheckContexts": [c["context"] for c in entries],
        "requiredStatusChecks": [
            {
                "context": c["context"],
                "app": {"databaseId": c["app_id"], "slug": f"app-{c['app_id']}"}
                if c["app_id"] not in (None, -1)
                else None,
            }
            for c in entries
        ],
        "isAdminEnforced": stored["enforce_admins"],
        "allowsForcePushes": stored["allow_force_pushes"],
        "allowsDeletions": stored["allow_deletions"],
        "requiresLinearHistory": stored["required_linear_history"],
        "requiresConversationResolution": stored["required_conversation_resolution"],
        "lockBranch": stored["lock_branch"],
        "lockAllowsFetchAndMerge": stored["allow_fork_syncing"],
        "requiresCommitSignatures": stored["required_signatures"],
        "restrictsPushes": stored["restrictions"] is not None,
        "restrictsReviewDismissals": bool(reviews.get("dismissal_restrictions")),
        "blocksCreations": stored["block_creations"],
        "isLinearHistoryRequired": stored["required_linear_history"],
        "requiresDeployments": bool(stored.get("required_deployment_environments")),
        "requiredDeploymentEnvironments": list(stored.get("required_deployment_environments", [])),
        "bypassForcePushAllowances": lambda _, first=None, after=None, **__: connection(
            [
                {"__typename": "BypassForcePushAllowance", "id": f"BFPA_{login}"}
                for login in stored.get("force_push_bypass", [])
            ],
            first,
            after,
        ),
    }


# REST's parameter names, as GraphQL's RuleParameters members spell them.
_PULL_REQUEST = {
    "required_approving_review_count": ("requiredApprovingReviewCount", 0),
    "dismiss_stale_reviews_on_push": ("dismissStaleReviewsOnPush", False),
    "require_code_owner_review": ("requireCodeOwnerReview", False),
    "require_last_push_approval": ("requireLastPushApproval", False),
    "required_review_thread_resolution": ("requiredReviewThreadResolution", False),
    "allowed_merge_methods": ("allowedMergeMethods", None),
}


def _parameters(rule: JSON) -> JSON | None:
    params = rule.get("parameters") or {}
    if rule["type"] == "pull_request":
        out: JSON = {"__typename": "PullRequestParameters"}
        for key, (name, default) in _PULL_REQUEST.items():
            out[name] = params.get(key, default)
        return out
    if rule["type"] == "required_status_checks":
        return {
            "__typename": "RequiredStatusChecksParameters",
            "strictRequiredStatusChecksPolicy": bool(
                params.get("strict_required_status_checks_policy")
            ),
            "doNotEnforceOnCreate": bool(params.get("do_not_enforce_on_create")),
            "requiredStatusChecks": [
                {"context": c["context"], "integrationId": c.get("integration_id")}
                for c in params.get("required_status_checks") or []
            ],
        }
    return None


def _bypass_actor(ruleset: JSON, index: int, actor: JSON) -> JSON:
    kind = actor.get("actor_type")
    who = None
    if kind == "Integration":
        who = {"__typename": "App", "databaseId": actor.get("actor_id"), "id": f"A_{index}"}
    elif kind == "Team":
        who = {"__typename": "Team", "databaseId": actor.get("actor_id"), "id": f"T_{index}"}
    role = actor.get("actor_id") if kind == "RepositoryRole" else None
    return {
        "__typename": "RepositoryRulesetBypassActor",
        "id": f"RRBA_{ruleset['id']}_{index}",
        "bypassMode": str(actor.get("bypass_mode", "always")).upper(),
        "organizationAdmin": kind == "OrganizationAdmin",
        "enterpriseOwner": kind == "EnterpriseOwner",
        "deployKey": kind == "DeployKey",
        "repositoryRoleDatabaseId": role,
        "repositoryRoleName": None,
        "actor": who,
    }


def ruleset_node(state: State, caller: Caller, ruleset: JSON) -> JSON:
    """Return a RepositoryRuleset node; bypass actors only to callers who may write it.

    REST shows `bypass_actors` only to callers with write access to the ruleset; the
    sandbox answers GraphQL's nullable `bypassActors` alike, with null.
    """
    org = ruleset["source_type"] == "Organization"
    source: JSON = (
        {"__typename": "Organization", "login": ruleset["source"], "id": "O_src"}
        if org
        else {"__typename": "Repository", "nameWithOwner": ruleset["source"], "id": "R_src"}
    )
    ref_name = ruleset.get("conditions", {}).get("ref_name")
    rules = [
        {
            "__typename": "RepositoryRule",
            "id": f"RR_{ruleset['id']}_{i}",
            "type": r["type"].upper(),
            "parameters": _parameters(r),
        }
        for i, r in enumerate(ruleset["rules"])
    ]
    actors = [_bypass_actor(ruleset, i, a) for i, a in enumerate(ruleset["bypass_actors"])]
    shown = may_see_bypass(state, caller, ruleset)
    return {
        "__typename": "RepositoryRuleset",
        "id": f"RRS_{ruleset['id']}",
        "databaseId": ruleset["id"],
        "name": ruleset.get("name", f"ruleset-{ruleset['id']}"),
        "enforcement": ruleset["enforcement"].upper(),
        "target": ruleset["target"].upper(),
        "source": source,
        "conditions": {
            "refName": None
            if ref_name is None
            else {"include": ref_name.get("include", []), "exclude": ref_name.get("exclude", [])},
        },
        "rules": lambda _, first=None, after=None, **__: connection(rules, first, after),
        "bypassActors": lambda _, first=None, after=None, **__: (
            connection(actors, first, after) if shown else None
        ),
    }


def _permission(state: State, caller: Caller, repo: Repo) -> str | None:
    if caller.kind == "installation":
        return "ADMIN"
    role = state.role(repo, caller.login)
    return role.upper() if role else None


def _object(state: State, repo: Repo, expression: str) -> JSON | None:
    ref, _, path = expression.partition(":")
    ref = repo.default_branch if ref == "HEAD" else ref
    text = state.file(repo, path, ref)
    if text is None:
        return None
    return {"__typename": "Blob", "text": text, "byteSize": len(text.encode()), "isBinary": False}


def _rollup(state: State, repo: Repo, sha: str) -> JSON | None:
    """Return a commit's StatusCheckRollup: its latest check runs and statuses (None: none)."""
    reports = state.reports(repo, sha)
    if not reports:
        return None
    nodes = [_rollup_context(state, r) for r in reports]
    failing = any(n.get("conclusion") == "FAILURE" or n.get("state") == "FAILURE" for n in nodes)
    return {
        "__typename": "StatusCheckRollup",
        "id": f"SCR_{repo.id}_{sha}",
        "state": "FAILURE" if failing else "SUCCESS",
        "contexts": lambda _, first=None, after=None, **__: connection(nodes, first, after),
    }


def _rollup_context(state: State, report: JSON) -> JSON:
    if "context" in report:
        return {
            "__typename": "StatusContext",
            "id": f"SC_{report['id']}",
            "context": report["context"],
            "state": report["state"].upper(),
        }
    app_id = int(report["app_id"])
    return {
        "__typename": "CheckRun",
        "id": f"CR_{report['id']}",
        "databaseId": report["id"],
        "name": report["name"],
        "status": str(report["status"]).upper(),
        "conclusion": str(report["conclusion"]).upper() if report["conclusion"] else None,
        "checkSuite": {
            "__typename": "CheckSuite",
            "app": {"__typename": "App", "databaseId": app_id, "slug": state.slug_of_app(app_id)},
        },
    }


def _commit_node(state: State, repo: Repo, sha: str) -> JSON:
    return {
        "__typename": "Commit",
        "oid": sha,
        "statusCheckRollup": lambda _, **__: _rollup(state, repo, sha),
    }


def _pull_node(state: State, repo: Repo, pull: JSON) -> JSON:
    return {
        "__typename": "PullRequest",
        "id": f"PR_{pull['id']}",
        "number": pull["number"],
        "state": _pull_state(pull),
        "headRefOid": pull["head_sha"],
        "headRefName": pull["head_ref"],
        "baseRefName": pull["base"],
        "updatedAt": pull["created_at"],
        "statusCheckRollup": lambda _, **__: _rollup(state, repo, pull["head_sha"]),
    }


def repo_node(state: State, caller: Caller, repo: Repo, reading: Reading | None = None) -> JSON:
    """Return a Repository node whose costly fields are resolved only when asked for."""
    head = repo.branches.get(repo.default_branch)
    reading = reading or Reading()

    def rules(_: Any, first: int | None = None, after: str | None = None, **__: Any) -> JSON:
        assert reading is not None
        reading.protection(repo)
        found = [_rule_node(state, repo, b, p) for b, p in repo.protections.items()]
        return connection(found, first, after)

    def rulesets(
        _: Any,
        first: int | None = None,
        after: str | None = None,
        includeParents: bool = True,
        targets: list[str] | None = None,
        **__: Any,
    ) -> JSON:
        found = [
            ruleset_node(state, caller, r)
            for r in state.rulesets(repo.owner, repo.name)
            if (includeParents or r["source_type"] == "Repository")
            and (targets is None or r["target"].upper() in targets)
        ]
        return connection(found, first, after)

    def refs(
        _: Any, refPrefix: str = "", first: int | None = None, after: str | None = None, **__: Any
    ) -> JSON:
        names = sorted(repo.branches) if refPrefix == "refs/heads/" else []
        found = [
            {
                "__typename": "Ref",
                "name": n,
                "prefix": refPrefix,
                "target": {"__typename": "Commit", "oid": repo.branches[n]},
            }
            for n in names
        ]
        return connection(found, first, after)

    history = repo_fields(state, repo, connection)

    def ref(_: Any, qualifiedName: str = "", **__: Any) -> JSON | None:
        node = ref_node(state, repo, qualifiedName, connection)
        if node is None:
            return None
        stored = repo.protections.get(node["name"])
        node["branchProtectionRule"] = (
            None if stored is None else _rule_node(state, repo, node["name"], stored)
        )
        return node

    def pull_requests(
        _: Any,
        first: int | None = None,
        last: int | None = None,
        states: list[str] | None = None,
        orderBy: JSON | None = None,
        **__: Any,
    ) -> JSON:
        pulls = [p for p in repo.pulls.values() if not states or _pull_state(p) in states]
        if orderBy and orderBy.get("field") in ("UPDATED_AT", "CREATED_AT"):
            pulls.sort(key=lambda p: (p["created_at"], p["number"]))
            if orderBy.get("direction") == "DESC":
                pulls.reverse()
        if last is not None and first is None:
            pulls = pulls[-last:]
        found = [_pull_node(state, repo, p) for p in pulls]
        return connection(found, first, None)

    def languages(_: Any, first: int | None = None, after: str | None = None, **__: Any) -> JSON:
        ordered = sorted(repo.languages.items(), key=lambda item: (-item[1], item[0]))
        found = [
            {"__typename": "Language", "id": f"L_{n}", "name": n, "color": None} for n, _ in ordered
        ]
        page = connection(found, first, after)
        page["totalSize"] = sum(repo.languages.values())
        return page

    return {
        "__typename": "Repository",
        "id": f"R_{repo.id}",
        "databaseId": repo.id,
        "name": repo.name,
        "nameWithOwner": repo.full_name,
        "isArchived": repo.archived,
        "isFork": repo.fork,
        "isPrivate": repo.private,
        "isEmpty": repo.empty,
        "isDisabled": False,
        "visibility": "PRIVATE" if repo.private else "PUBLIC",
        "url": f"https://github.com/{repo.full_name}",
        "viewerPermission": _permission(state, caller, repo),
        "defaultBranchRef": None
        if head is None
        else {
            "__typename": "Ref",
            "name": repo.default_branch,
            "prefix": "refs/heads/",
            "target": _commit_node(state, repo, head),
        },
        "branchProtectionRules": rules,
        "pullRequests": pull_requests,
        "languages": languages,
        "rulesets": rulesets,
        "refs": refs,
        "object": lambda _, expression=None, **__: _object(state, repo, expression or ""),
        **history,
        "ref": ref,
    }


def _pull_state(pull: JSON) -> str:
    return "MERGED" if pull["merged"] else str(pull["state"]).upper()


def _organization(state: State, caller: Caller, login: str, reading: Reading) -> JSON:
    account = state.accounts.get(login.lower())
    if (
        account is None
        or account.type != "Organization"
        or not can_see_account(state, caller, account)
    ):
        raise GraphQLError(f"Could not resolve to an Organization with the login of '{login}'.")

    def repositories(
        _: Any,
        first: int | None = None,
        after: str | None = None,
        isFork: bool | None = None,
        orderBy: JSON | None = None,
        **__: Any,
    ) -> JSON:
        if orderBy and orderBy.get("field") == "NAME":
            descending = orderBy.get("direction") == "DESC"
            repos = state.repos_by_name(account, descending=descending)
        else:
            repos = list(account.repos.values())
        inst, token = caller.installation, caller.token
        if inst is not None and not (
            inst.repository_ids is None and token and token.repository_ids is None
        ):
            repos = [r for r in repos if state.can_reach(inst, r, token)]
        if isFork is not None:
            repos = [r for r in repos if r.fork == isFork]
        page = connection(repos, first, after)
        page["nodes"] = [repo_node(state, caller, r, reading) for r in page["nodes"]]
        for edge, node in zip(page["edges"], page["nodes"], strict=True):
            edge["node"] = node
        return page

    return {
        "__typename": "Organization",
        "login": account.login,
        "databaseId": account.id,
        "id": f"O_{account.id}",
        "name": account.login,
        "repositories": repositories,
    }


@routes.post("/graphql")
async def post_graphql(request: web.Request) -> web.Response:
    """Validate and execute a GraphQL query; errors come back with HTTP 200, like GitHub."""
    limits = context_of(request).rate_limits
    state, caller = state_of(request), caller_of(request)
    body = body_of(request)
    query, variables = str(body.get("query", "")), body.get("variables") or {}
    # Which strings (cursors, logins) a query gets changes nothing validation and
    # cost look at; blanking them lets every page of a scan share one check.
    sizes = {k: "" if isinstance(v, str) else v for k, v in variables.items()}
    problems, cost, document = _checked(query, json.dumps(sizes, sort_keys=True))
    if problems or document is None:
        state_of(request).violations.extend(f"POST /graphql: {p}" for p in problems)
        return respond({"errors": [{"message": p} for p in problems]})
    request[COST] = cost
    used, remaining, reset = limits.status("graphql", caller.rate_key)
    rate = {
        "cost": cost,
        "limit": limits.limit("graphql", caller.rate_key),
        "remaining": max(0, remaining - cost),
        "used": used + cost,
        "resetAt": isoformat(reset),
        "nodeCount": cost * 100,
    }
    reading = Reading(context_of(request).faults.graphql)
    root = {
        "rateLimit": lambda _, **__: rate,
        "organization": lambda _, login: _organization(state, caller, login, reading),
        "repository": lambda _, owner, name, **__: _repository(state, caller, owner, name, reading),
    }
    result = execute(
        load_graphql_schema(),
        document,
        root,
        variable_values=variables,
        field_resolver=_field,
        # Every resolver here answers at once: nothing to await, nothing to test for it.
        is_awaitable=_never_awaitable,
    )
    assert isinstance(result, ExecutionResult)
    failure = reading.faults.failure(reading.protections)
    if failure is not None:
        return _timed_out(failure)
    answer: JSON = {"data": result.data}
    if result.errors:
        answer["errors"] = [_error(e) for e in result.errors]
    return respond(answer)


def _field(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    """Resolve a field from a dict node: a value, or a callable given the field's arguments."""
    name = info.field_name
    value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
    return value(info, **args) if callable(value) else value


def _never_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return False


@functools.lru_cache(maxsize=256)
def _checked(query: str, variables: str) -> tuple[list[str], int, DocumentNode | None]:
    """Validate, cost and parse a query once: a scan sends the same text for every page."""
    values = json.loads(variables)
    problems = validate_query(query, values)
    if problems:
        return problems, 0, None
    return [], node_cost(query, values), parse(query)


def _repository(state: State, caller: Caller, owner: str, name: str, reading: Reading) -> JSON:
    repo = state.find_repo(owner, name)
    if repo is None or not can_see_repo(state, caller, repo):
        raise GraphQLError(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
    return repo_node(state, caller, repo, reading)


def _timed_out(shape: str) -> web.Response:
    """Answer as GitHub does when a query runs out of time: `data: null`, 200 or 502."""
    message = GRAPHQL_TIMEOUT_MESSAGE.format(request_id=secrets.token_hex(8).upper())
    return respond({"data": None, "errors": [{"message": message}]}, 502 if shape == "502" else 200)


def _error(error: GraphQLError) -> JSON:
    out: JSON = dict(error.formatted)
    if "Could not resolve" in error.message:
        out["type"] = "NOT_FOUND"
    if error.message == GRAPHQL_FORBIDDEN_MESSAGE:
        out["type"] = "FORBIDDEN"
        out["extensions"] = {"saml_failure": False}
    return out
