"""Run the `bulwark` command line."""

from bot.cli import main

raise SystemExit(main())
