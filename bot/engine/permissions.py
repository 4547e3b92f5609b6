"""Who may ask Bulwark to write: asked of GitHub every time, never read from a payload."""

from __future__ import annotations

from dataclasses import dataclass

from bot.github.gateway import Gateway

PRIVILEGED_ROLES = frozenset({"admin", "maintain"})


@dataclass(frozen=True)
class Permission:
    """A user's role on a repository and whether it lets them change protection."""

    login: str
    role: str  # admin, maintain, write, triage, read, a custom role, or "none"
    org_owner: bool = False

    @property
    def allowed(self) -> bool:
        """Admins, maintainers and org owners may fix protection and refresh the report."""
        return self.org_owner or self.role in PRIVILEGED_ROLES


async def permission(gh: Gateway, owner: str, repo: str, login: str) -> Permission:
    """Ask GitHub for `login`'s role on `owner/repo`, and whether they own the org."""
    role = await gh.permission(owner, repo, login) or "none"
    if role in PRIVILEGED_ROLES:
        return Permission(login, role)
    membership = await gh.org_membership(owner, login)
    owner_of_org = bool(
        membership and membership.get("role") == "admin" and membership.get("state") == "active"
    )
    return Permission(login, role, org_owner=owner_of_org)
