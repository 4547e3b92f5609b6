"""One GraphQL request for what judging one repository needs (webhook-driven work)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from bot.core.policy import POLICY_PATH
from bot.core.repository_node import EVENT_REPOSITORY_FIELDS
from bot.github.client import single_attempt
from bot.github.errors import GitHubError, RateLimited
from bot.github.gateway import Gateway

REPOSITORY_QUERY = """
query BulwarkRepository(
  $owner: String!, $name: String!, $withRefs: Boolean!, $policy: String!
) {
  repository(owner: $owner, name: $name) {
    __REPOSITORY__
  }
}
""".replace("__REPOSITORY__", EVENT_REPOSITORY_FIELDS)  # core/repository_node.py

log = logging.getLogger(__name__)


async def read_node(
    gh: Gateway, owner: str, name: str, *, with_refs: bool
) -> Mapping[str, Any] | None:
    """Return the repository's node, or None where GraphQL did not answer it whole.

    Any error (a field refused, a timeout, an outage) hands the repository to the
    REST read, which has its own retries: one attempt here, no waiting twice.
    """
    try:
        with single_attempt():
            answer = await gh.graphql_answer(
                REPOSITORY_QUERY,
                owner=owner,
                name=name,
                withRefs=with_refs,
                policy=f"HEAD:{POLICY_PATH}",
            )
    except RateLimited:
        raise  # the reconcile is delayed as a REST read would be
    except GitHubError as exc:
        log.info("GraphQL did not answer (%s): reading through REST", exc)
        return None
    if answer.errors:
        log.info("GraphQL answered with errors: reading through REST")
        return None
    node = (answer.data or {}).get("repository")
    return cast(Mapping[str, Any], node) if isinstance(node, Mapping) else None
