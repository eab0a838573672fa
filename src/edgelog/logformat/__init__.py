"""Log format definitions: nginx ``log_format`` and Apache ``LogFormat`` strings, presets, config files.

``resolve()`` turns the CLI options into a :class:`LogFormat`; ``codec`` writes and reads single lines the
way the servers do; the analyzer compiles a format to DuckDB SQL.
"""

from edgelog.logformat.definitions import PRESETS, from_config, parse_definition, preset, resolve
from edgelog.logformat.model import Field, FormatError, Literal, LogFormat

__all__ = [
    "PRESETS",
    "Field",
    "FormatError",
    "Literal",
    "LogFormat",
    "from_config",
    "parse_definition",
    "preset",
    "resolve",
]
