"""Every handler, composed into one router."""

from gidgethub.routing import Router

from bot.handlers import commands, installation, protection, pulls, pushes

router = Router(
    commands.router, installation.router, protection.router, pulls.router, pushes.router
)

__all__ = ["router"]
