"""Allow ``python -m edgelog``."""

from edgelog.cli.main import main

main()
