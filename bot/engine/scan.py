"""The org-wide scan: GraphQL pages of 100 repositories, REST only where GraphQL cannot answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, cast

from bot.core.findings import unreadable
from bot.core.judge import goes_to_rest, has_branch_patterns, judge
from bot.core.models import Finding, FindingKind, Outcome, RepoStatus
from bot.core.policy import POLICY_PATH, Mode, WriteMode
from bot.core.reporting import (
    CODEQL_CHECK,
    Reported,
    has_reported_fields,
    reported_from,
)
from bot.core.repository_node import REPOSITORY_FIELDS
from bot.core.scan_page import is_not_found, page_reason, unanswered
from bot.engine.codeql import ensure_codeql
from bot.engine.policies import PolicyStore
from bot.engine.reconcile import REPO_GONE, Reconciler, with_codeql
from bot.github.client import single_attempt
from bot.github.errors import NotFound, Unavailable
from bot.github.gateway import Gateway, GraphQLAnswer

REST_CONCURRENCY = 8
# Nodes judged between two yields to the event loop: webhooks are acknowledged on the
# same loop in `serve`, and GitHub gives a delivery 10 seconds.
JUDGE_SLICE = 10

REPOS_QUERY = """
query BulwarkOrgRepositories(
  $org: String!, $first: Int = 100, $after: String, $withRefs: Boolean!, $policy: String!,
  $direction: OrderDirection = ASC
) {
  rateLimit { cost remaining resetAt }
  organization(login: $org) {
    repositories(first: $first, after: $after, orderBy: {field: NAME, direction: $direction}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        __REPOSITORY__
      }
    }
  }
}
""".replace("__REPOSITORY__", REPOSITORY_FIELDS)  # core/repository_node.py

# Only the names of a page's repositories: light enough to answer where the full page timed out.
NAMES_QUERY = """
query BulwarkOrgRepositoryNames(
  $org: String!, $first: Int!, $after: String, $direction: OrderDirection = ASC
) {
  organization(login: $org) {
    repositories(first: $first, after: $after, orderBy: {field: NAME, direction: $direction}) {
      pageInfo { hasNextPage endCursor }
      nodes { nameWithOwner }
    }
  }
}
"""

# A page GitHub cannot answer in time is asked again in smaller pieces, down to one
# repository: https://github.com/cartography-cncf/cartography/pull/1827 and
# https://github.com/backstage/backstage/issues/15982 (first: 100 timing out).
PAGE_SIZES = (100, 25, 5, 1)
PAGE_ATTEMPTS = 2

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class OrgNotFound(NotFound):
    """GraphQL knows no organization by that login (it may be a user account)."""


@dataclass
class ScanResult:
    """Every repository's status after one scan, and how the scan went."""

    org: str
    # Every status, unless the caller asked only for the figures: a resync of a big org
    # leaves its statuses in the store, packed where the garbage collector skips them.
    statuses: list[RepoStatus] = field(default_factory=list)
    keep_statuses: bool = True
    # "owner/name" in lower case of every status, kept or not: what a full scan has no
    # status for is gone (a repository renamed meanwhile has its status under its new name).
    repos: set[str] = field(default_factory=set)
    outcomes: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})
    delayed: bool = False
    graphql_pages: int = 0
    graphql_points: int = 0
    rest_repositories: int = 0
    # Why repositories went to REST (RestReason value → how many).
    rest_reasons: dict[str, int] = field(default_factory=dict)
    longest_slice: float = 0.0  # seconds the judging held the event loop at most

    def add(self, status: RepoStatus) -> None:
        """Count a repository's status, and keep it if the caller wants the statuses."""
        self.outcomes[str(status.outcome)] += 1
        self.repos.add(status.repo.lower())
        if self.keep_statuses:
            self.statuses.append(status)

    def counts(self) -> dict[str, int]:
        """Count repositories by outcome."""
        return dict(self.outcomes)

    @property
    def drifted(self) -> list[RepoStatus]:
        """Repositories that still fall short of the policy (none unless statuses are kept)."""
        return [s for s in self.statuses if s.outcome is Outcome.DRIFTED]


class RestReason(StrEnum):
    """Why a repository was read through REST instead of from the GraphQL page."""

    WRITE = "write"  # drifted, and this scan writes
    NODE_ERROR = "graphql_node_error"  # GitHub refused a field of this repository
    PAGE_FAILED = "graphql_page_failed"  # even a page of one timed out or failed
    UNLISTED = "graphql_unavailable"  # GraphQL could not even list the repositories


@dataclass(frozen=True)
class Page:
    """One GraphQL page of an org's repositories, and the ones it could not answer for."""

    total: int
    nodes: list[Mapping[str, Any]]
    cost: int
    failed: tuple[tuple[str, str, str], ...] = ()  # (owner/name, why, GitHub's words)
    has_next: bool = False
    end_cursor: str | None = None


class PagesFailed(Exception):
    """GraphQL could not list the org's repositories from here on, even one at a time."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Ask:
    """One page request: where it starts, how many, and the query's fixed variables."""

    org: str
    after: str | None
    first: int
    with_refs: bool
    direction: str = "ASC"  # the name order: "ASC", or "DESC" for the stream from the end


async def fetching_ahead(pages: AsyncIterator[Page]) -> AsyncIterator[Page]:
    """Yield each page while the next one is already being asked for.

    GitHub answers the next page while Bulwark judges this one: a resync's wall time is
    then the pages' round trips, not round trips plus judging.
    """
    ahead = asyncio.ensure_future(anext(pages))
    try:
        while True:
            try:
                page = await ahead
            except StopAsyncIteration:
                return
            ahead = asyncio.ensure_future(anext(pages))
            yield page
            del page  # judged: not held while the next page arrives
    finally:
        ahead.cancel()  # the scan stopped early: the page asked for ahead is not wanted
        await asyncio.gather(ahead, return_exceptions=True)


async def repository_pages(
    gh: Gateway, org: str, *, with_refs: bool, direction: str = "ASC"
) -> AsyncIterator[Page]:
    """Yield pages of repository nodes of an org, in name order; OrgNotFound for a non-org.

    A page that fails twice (a 502, or GitHub's timeout answer) is asked again
    smaller; a page of one that still fails is named through a lighter query and
    handed to REST. PagesFailed when even that cannot list the repositories.
    """
    after: str | None = None
    level = 0
    while True:
        ask = _Ask(org, after, PAGE_SIZES[level], with_refs, direction)
        page, reason = await _page(gh, ask)
        if page is None and level + 1 < len(PAGE_SIZES):
            level += 1
            log.warning(
                "a GraphQL page failed (%s): asking %d repositories", reason, PAGE_SIZES[level]
            )
            continue
        if page is None:
            page = await _named_page(gh, ask, reason)
        level = max(0, level - 1)  # grow back one step after a good page
        yield page
        if not page.has_next:
            return
        after = page.end_cursor
        del page  # not held while the next page is read: see `org_pages`


def page_names(page: Page) -> set[str]:
    """Return every repository a page named, answered or handed to REST (lower case)."""
    named = [str(n["nameWithOwner"]) for n in page.nodes]
    return {n.lower() for n in named} | {full.lower() for full, _, _ in page.failed}


async def org_pages(gh: Gateway, org: str, *, with_refs: bool) -> AsyncIterator[Page]:
    """Yield every page of an org, read from both ends of the name order at once.

    GraphQL pages follow one another by cursor, so one stream of pages costs the sum
    of their round trips; GitHub spends most of a page's round trip resolving 100
    repositories' fields. After the first page (ascending), a second stream reads
    from the last name down (`direction: DESC`) while the first reads on; they stop
    where they meet, which costs at most a page or two more than one stream. Each
    repository is yielded once. Should the two not account for the org's
    `totalCount` (a repository created meanwhile, an order GitHub did not keep),
    the ascending stream reads on to its end, so nothing is skipped. Two requests at
    a time stay far inside GitHub's secondary limits (100 concurrent, 2,000 points
    a minute: https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#secondary-rate-limits).
    """
    ascending = aiter(repository_pages(gh, org, with_refs=with_refs))
    first = await anext(ascending)
    if first.total <= 2 * PAGE_SIZES[0]:
        # Two pages at most: the second stream would only ask for what the first reads.
        yield first
        del first
        async for page in fetching_ahead(ascending):
            yield page
            del page  # judged: not held while the next page arrives
        return
    yielded = page_names(first)
    total = first.total
    streams = {
        "ASC": ascending,
        "DESC": aiter(repository_pages(gh, org, with_refs=with_refs, direction="DESC")),
    }
    seen: dict[str, set[str]] = {"ASC": set(yielded), "DESC": set()}
    ended: set[str] = set()  # streams that read to the far end of the org
    met = asyncio.Event()
    pages: asyncio.Queue[Page | Exception | str] = asyncio.Queue(maxsize=4)

    async def read(direction: str) -> None:
        other = "DESC" if direction == "ASC" else "ASC"
        try:
            while not met.is_set():
                page = await anext(streams[direction])
                names = page_names(page)
                if not page.has_next:
                    ended.add(direction)
                if names & seen[other] or not page.has_next:
                    met.set()  # the streams crossed, or this one read to the end
                seen[direction] |= names
                await pages.put(page)
                # A decoded page is some 4,000 containers for the garbage collector to walk:
                # none is kept a round trip longer than the scan needs it.
                del page
        except StopAsyncIteration:
            ended.add(direction)
            met.set()
        except Exception as exc:  # the scan handles it as it would with one stream
            met.set()
            await pages.put(exc)
        await pages.put(direction)  # this stream is done

    # Both streams start before the first page is judged: GitHub answers meanwhile.
    readers = [asyncio.create_task(read(d)) for d in streams]
    try:
        yield first
        del first
        running = len(readers)
        while running:
            item = await pages.get()
            if isinstance(item, str):
                running -= 1
                continue
            if isinstance(item, Exception):
                raise item
            total = max(total, item.total)
            yield _unseen(item, yielded)
            del item  # judged: not held while the next page arrives
        if len(yielded) < total and "ASC" not in ended:
            log.warning(
                "%s: both ends of the name order met after %d of %d repositories; "
                "reading on from the first end",
                org,
                len(yielded),
                total,
            )
            async for page in fetching_ahead(streams["ASC"]):
                yield _unseen(page, yielded)
                del page
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


def _unseen(page: Page, yielded: set[str]) -> Page:
    """Return the page without the repositories already yielded; count its own as yielded."""
    fresh = replace(
        page,
        nodes=[n for n in page.nodes if str(n["nameWithOwner"]).lower() not in yielded],
        failed=tuple(f for f in page.failed if f[0].lower() not in yielded),
    )
    yielded |= page_names(page)
    return fresh


async def _asked(gh: Gateway, query: str, ask: _Ask, **variables: Any) -> GraphQLAnswer:
    """Send one page's query once: a failed page is asked again smaller, not the same."""
    with single_attempt():
        return await gh.graphql_answer(
            query,
            org=ask.org,
            first=ask.first,
            after=ask.after,
            direction=ask.direction,
            **variables,
        )


async def _page(gh: Gateway, ask: _Ask) -> tuple[Page | None, str]:
    """Ask one page up to twice; return it, or None with why it failed."""
    reason = "no answer"
    for _ in range(PAGE_ATTEMPTS):
        try:
            answer = await _asked(
                gh, REPOS_QUERY, ask, withRefs=ask.with_refs, policy=f"HEAD:{POLICY_PATH}"
            )
        except Unavailable as exc:
            reason = str(exc)
            continue
        organization = (answer.data or {}).get("organization")
        if organization is None:
            if is_not_found(answer.errors):
                raise OrgNotFound(404, f"no organization {ask.org!r}")
            reason = page_reason(answer.errors)
            continue
        cost = int(((answer.data or {}).get("rateLimit") or {}).get("cost") or 0)
        page = await _split(gh, ask, organization["repositories"], answer.errors, cost)
        if page is not None:
            return page, reason
        reason = "the repositories a page could not answer for could not be named"
    return None, reason


async def _split(
    gh: Gateway, ask: _Ask, repos: Mapping[str, Any], errors: tuple[Any, ...], cost: int
) -> Page | None:
    """Keep the nodes GraphQL answered for; name the others for REST (None: cannot name them)."""
    nodes: list[Mapping[str, Any] | None] = list(repos.get("nodes") or [])
    bad = unanswered(nodes, errors)
    names: list[str | None] = [None if n is None else str(n["nameWithOwner"]) for n in nodes]
    if any(names[i] is None for i in bad):
        named = await _names(gh, ask)
        if named is None or len(named["nodes"]) != len(names):
            return None
        names = [str(n["nameWithOwner"]) for n in named["nodes"]]
    failed = []
    for index, why in sorted(bad.items()):
        full = names[index]
        if full is None:
            return None
        failed.append((full, RestReason.NODE_ERROR.value, why))
    info = repos.get("pageInfo") or {}
    return Page(
        total=int(repos.get("totalCount") or 0),
        nodes=[n for i, n in enumerate(nodes) if n is not None and i not in bad],
        cost=cost,
        failed=tuple(failed),
        has_next=bool(info.get("hasNextPage")),
        end_cursor=info.get("endCursor"),
    )


async def _names(gh: Gateway, ask: _Ask) -> Mapping[str, Any] | None:
    """Return a page's repositories through the light query (names only), or None."""
    for _ in range(PAGE_ATTEMPTS):
        try:
            answer = await _asked(gh, NAMES_QUERY, ask)
        except Unavailable:
            continue
        repos = ((answer.data or {}).get("organization") or {}).get("repositories")
        nodes = (repos or {}).get("nodes")
        if repos is not None and nodes is not None and all(n is not None for n in nodes):
            return cast(Mapping[str, Any], repos)
    return None


async def _named_page(gh: Gateway, ask: _Ask, reason: str) -> Page:
    """Hand a page of one that keeps failing to REST, named through the light query."""
    repos = await _names(gh, ask)
    if repos is None:
        raise PagesFailed(reason)
    info = repos.get("pageInfo") or {}
    return Page(
        total=0,
        nodes=[],
        cost=0,
        failed=tuple(
            (str(n["nameWithOwner"]), RestReason.PAGE_FAILED.value, reason) for n in repos["nodes"]
        ),
        has_next=bool(info.get("hasNextPage")),
        end_cursor=info.get("endCursor"),
    )


@dataclass(frozen=True)
class _RestWork:
    """A repository the scan reads through REST, and why."""

    full: str
    why: str  # a RestReason, or what judge.rest_reason says
    graphql_said: str | None = None
    reported: Reported | None = None  # which checks report there, when the page said


async def scan_org(
    gh: Gateway,
    org: str,
    *,
    policies: PolicyStore,
    reconciler: Reconciler,
    write: WriteMode = WriteMode.NEVER,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
    keep_statuses: bool = True,
) -> ScanResult:
    """Scan an org, writing as `write` says (by default it only reads).

    `only` names repositories (`name` or `owner/name`) to limit the scan to. Without
    `keep_statuses` the result counts outcomes and names repositories, and the statuses
    are only in the reconciler's store.
    """
    result = ScanResult(org, keep_statuses=keep_statuses)
    waits = gh.client.rate_limit_waits
    wanted = None if only is None else {n.lower().rsplit("/", 1)[-1] for n in only}
    org_policy = await policies.org(gh, org)
    rest: list[_RestWork] = []
    seen: set[str] = set()
    # Repositories that fall short the same way share one findings tuple: a scan that
    # keeps its statuses holds one per repository.
    shared: dict[tuple[Finding, ...], tuple[Finding, ...]] = {}
    done = total = 0

    def keep(full: str) -> bool:
        seen.add(full.lower())
        return wanted is None or full.rsplit("/", 1)[-1].lower() in wanted

    # A RateLimited longer than the client waits propagates: the caller reports the delay.
    try:
        pages = org_pages(gh, org, with_refs=has_branch_patterns(org_policy.policy))
        async for page in pages:
            result.graphql_pages += 1
            result.graphql_points += page.cost
            total = len(wanted) if wanted is not None else max(total, page.total)
            rest.extend(_RestWork(f, why, said) for f, why, said in page.failed if keep(f))
            clock = reconciler.clock
            for start in range(0, len(page.nodes), JUDGE_SLICE):
                began = clock.monotonic()
                for node in page.nodes[start : start + JUDGE_SLICE]:
                    if not keep(str(node["nameWithOwner"])):
                        continue
                    verdict = judge(node, org_policy.policy, org_policy.errors)
                    if goes_to_rest(verdict, write):
                        why = verdict.why or RestReason.WRITE.value
                        reported = reported_from(node) if has_reported_fields(node) else None
                        rest.append(_RestWork(str(node["nameWithOwner"]), why, None, reported))
                    elif verdict.status is not None:
                        findings = shared.setdefault(
                            verdict.status.findings, verdict.status.findings
                        )
                        status = replace(verdict.status, findings=findings)
                        status = await _codeql_read(gh, status, node)
                        result.add(status)
                        reconciler.statuses.record(status)
                        done += 1
                result.longest_slice = max(result.longest_slice, clock.monotonic() - began)
                await asyncio.sleep(0)  # let the webhook endpoint answer between slices
            if progress is not None:
                progress(done, max(total, done + len(rest)))
            del page  # judged: not held while the next page arrives
    except PagesFailed as exc:
        log.warning(
            "GraphQL cannot list %s's repositories (%s): listing them through REST", org, exc
        )
        listed = await gh.installation_repositories()
        rest.extend(
            _RestWork(str(r["full_name"]), RestReason.UNLISTED.value, exc.reason)
            for r in listed
            if str(r["full_name"]).split("/")[0].lower() == org.lower()
            and str(r["full_name"]).lower() not in seen
            and keep(str(r["full_name"]))
        )
    result.rest_repositories = len(rest)
    for work in rest:
        result.rest_reasons[str(work.why)] = result.rest_reasons.get(str(work.why), 0) + 1
    mode = org_policy.policy.mode
    await _reconcile_rest(gh, reconciler, rest, write, result, progress, done, mode)
    result.delayed = gh.client.rate_limit_waits > waits  # waited for a reset, then went on
    await asyncio.sleep(0)  # the sort below gets a loop iteration of its own
    result.statuses.sort(key=lambda s: s.repo.lower())
    return result


async def _codeql_read(gh: Gateway, status: RepoStatus, node: Mapping[str, Any]) -> RepoStatus:
    """Read whether CodeQL's default setup could run where the page could not tell (one GET)."""
    waiting = any(
        f.kind is FindingKind.CHECK_NOT_REPORTING and f.detail == CODEQL_CHECK
        for f in status.findings
    )
    if not waiting or status.codeql is not None:
        return status
    owner, name = status.repo.split("/", 1)
    languages = reported_from(node).codeql_languages
    return with_codeql(status, await ensure_codeql(gh, owner, name, languages, writes=False))


async def _reconcile_rest(
    gh: Gateway,
    reconciler: Reconciler,
    repos: list[_RestWork],
    write: WriteMode,
    result: ScanResult,
    progress: Progress | None,
    done: int,
    mode: Mode,
) -> None:
    """Reconcile through REST what GraphQL could not judge, or what must be written."""
    gate = asyncio.Semaphore(REST_CONCURRENCY)
    total = done + len(repos)

    async def one(work: _RestWork) -> None:
        nonlocal done
        owner, name = work.full.split("/", 1)
        async with gate:
            status = await reconciler.reconcile(
                gh, owner, name, write=write, reported=work.reported
            )
        if status.outcome is Outcome.ERROR and status.reason != REPO_GONE:
            status = _unreadable(work, status, mode)
            reconciler.statuses.record(status)
        if status.reason != REPO_GONE:  # deleted or moved since the page listed it
            result.add(status)
        done += 1
        if progress is not None:
            progress(done, total)

    await asyncio.gather(*(one(work) for work in repos))


def _unreadable(work: _RestWork, status: RepoStatus, mode: Mode) -> RepoStatus:
    """Report a repository neither GraphQL nor REST would answer for, with both reasons."""
    rest_said = status.reason or "no answer"
    reason = (
        rest_said
        if work.graphql_said is None
        else f"GraphQL: {work.graphql_said}; REST: {rest_said}"
    )
    log.warning("unreadable: %s", reason, extra={"repo": work.full})
    return unreadable(status.repo, status.mode or mode, reason)
