"""Every handler, composed into one router."""

from gidgethub.routing import Router

from bot.handlers import checks, commands, installation, protection, pulls, pushes

router = Router(
    checks.router,
    commands.router,
    installation.router,
    protection.router,
    pulls.router,
    pushes.router,
)

__all__ = ["router"]
