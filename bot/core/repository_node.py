"""The GraphQL fields Bulwark reads of one repository: what judging it against the policy needs.

The org scan asks them for pages of 100 repositories; a webhook-driven reconcile asks
them for one repository, so both judge from the same node (`core.judge`). The query's
variables: `$withRefs` (list branches) and `$policy` (the policy file's expression).
"""

from __future__ import annotations

from bot.core.graphql_protection import BEYOND_REST_FIELDS
from bot.core.reporting import REPORTED_FIELDS

_FIELDS = """
name
nameWithOwner
isArchived
isFork
isPrivate
isEmpty
defaultBranchRef { name }
refs(refPrefix: "refs/heads/", first: 100) @include(if: $withRefs) {
  totalCount
  nodes { name }
}
rulesets(first: 5, includeParents: true, targets: [BRANCH]) {
  totalCount
  nodes {
    databaseId
    name
    enforcement
    source {
      __typename
      ... on Organization { login }
      ... on Repository { nameWithOwner }
    }
    conditions { refName { include exclude } }
    rules(first: 20) {
      totalCount
      nodes {
        type
        parameters {
          __typename
          ... on PullRequestParameters {
            requiredApprovingReviewCount
            dismissStaleReviewsOnPush
            requireCodeOwnerReview
            requireLastPushApproval
            requiredReviewThreadResolution
            allowedMergeMethods
          }
          ... on RequiredStatusChecksParameters {
            strictRequiredStatusChecksPolicy
            doNotEnforceOnCreate
            requiredStatusChecks { context integrationId }
          }
        }
      }
    }
    bypassActors(first: 10) {
      totalCount
      nodes {
        bypassMode
        organizationAdmin
        enterpriseOwner
        deployKey
        repositoryRoleDatabaseId
        actor { __typename ... on App { databaseId } ... on Team { databaseId } }
      }
    }
  }
}
__REPORTED__
policyFile: object(expression: $policy) { ... on Blob { text } }
branchProtectionRules(first: 10) {
  totalCount
  nodes {
    pattern
    requiresApprovingReviews
    requiredApprovingReviewCount
    dismissesStaleReviews
    requiresCodeOwnerReviews
    requireLastPushApproval
    requiresStatusChecks
    requiresStrictStatusChecks
    requiredStatusChecks { context app { databaseId } }
    isAdminEnforced
    allowsForcePushes
    allowsDeletions
    requiresLinearHistory
    requiresConversationResolution
    lockBranch
    requiresCommitSignatures
    restrictsPushes
    blocksCreations
    restrictsReviewDismissals
    __RULE_EXTRA__
  }
}
""".replace("__REPORTED__", REPORTED_FIELDS)  # which checks report: core/reporting.py

# What the scan reads of each repository on a page.
REPOSITORY_FIELDS = _FIELDS.replace("__RULE_EXTRA__", "")
# A webhook-driven reconcile may write: it also reads what a REST PUT would drop.
EVENT_REPOSITORY_FIELDS = _FIELDS.replace("__RULE_EXTRA__", BEYOND_REST_FIELDS)
