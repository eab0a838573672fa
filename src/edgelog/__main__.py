"""``python -m edgelog`` and the ``edgelog`` console script.

The stop handler is installed before typer, rich or DuckDB are imported (about half a second on a busy
machine), so a Ctrl-C during start-up exits 130 with one line like one at any later moment, instead of a
traceback from whichever import it landed in.
"""

from __future__ import annotations

import sys

from edgelog import interrupts


def main() -> None:
    """Console-script entry point."""
    interrupts.install()
    try:
        from edgelog.cli.main import main as run
    except KeyboardInterrupt as exc:  # the CLI's own reporting is not imported yet
        sys.stderr.write(f"{interrupts.describe(exc)}\n")
        sys.exit(interrupts.exit_code(exc))
    run()


if __name__ == "__main__":
    main()
