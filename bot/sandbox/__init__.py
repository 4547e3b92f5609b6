"""The local GitHub sandbox: a stateful fake of the GitHub API Bulwark calls."""

from bot.sandbox.app import RequestRecord, Sandbox, run_sandbox, seed_sample
from bot.sandbox.cli import main
from bot.sandbox.faults import Faults
from bot.sandbox.state import State

__all__ = ["Faults", "RequestRecord", "Sandbox", "State", "main", "run_sandbox", "seed_sample"]
