"""Run the `bulwark` command line: `python -m bot` is `bulwark`."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
