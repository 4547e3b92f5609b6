"""`bulwark sandbox [--port N]`: the local GitHub sandbox alone, for trying the app by hand."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bot.sandbox.app import run_sandbox

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulwark sandbox",
        description="Run the local GitHub sandbox with a sample org until interrupted.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    return parser


def _say(line: str) -> None:
    print(line, flush=True)


async def serve(port: int, host: str) -> None:
    """Run the sandbox until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_sandbox(port, host=host, stop=stop, write=_say)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    """Run `bulwark sandbox` and return its exit status."""
    args = _parser().parse_args(argv)
    try:
        asyncio.run(serve(args.port, args.host))
    except OSError as exc:
        print(f"bulwark sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print("Sandbox stopped.", flush=True)
    return 0


__all__ = ["main", "serve"]
