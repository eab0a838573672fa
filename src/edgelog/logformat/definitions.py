"""Where a log format comes from: a preset name, a definition string, or a server's config file.

This is the one entry point the CLI, the job specs, the analyzer and the generator use, so that
``--log-format``, ``--log-format-from`` and ``--log-format-name`` mean the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from edgelog.logformat import apache, nginx
from edgelog.logformat.model import TIME_FIELDS, Field, FormatError, Literal, LogFormat

NGINX_MAIN = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" "$http_x_forwarded_for"'
)
COMBINED_TIMING = nginx.COMBINED + " $request_time $upstream_response_time"
COMMON = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'

# name -> (syntax, definition, what it is)
PRESETS: dict[str, tuple[str, str, str]] = {
    "combined": ("nginx", nginx.COMBINED, "nginx's built-in combined = Apache's combined"),
    "common": ("nginx", COMMON, "the Common Log Format (Apache's common / CLF)"),
    "nginx-main": ("nginx", NGINX_MAIN, "the official nginx image's main: combined + X-Forwarded-For"),
    "vhost_combined": ("apache", apache.VHOST_COMBINED, "Debian's Apache default for virtual hosts"),
    "combined_timing": ("nginx", COMBINED_TIMING, "combined + $request_time $upstream_response_time"),
}


def preset(name: str) -> LogFormat:
    """A named preset. ``combined``/``common`` read both servers' lines (Apache writes ``-`` for 0 bytes)."""
    try:
        syntax, definition, _ = PRESETS[name]
    except KeyError:
        raise FormatError(
            f"unknown log format preset {name!r}", hint=f"use one of: {', '.join(PRESETS)}"
        ) from None
    if syntax == "apache":
        return apache.parse_format(definition, name=name, config_escaped=False)
    fmt = nginx.parse_format(definition, name=name)
    if name in ("combined", "common"):
        items = tuple(
            replace(i, null="-") if isinstance(i, Field) and i.name == "body_bytes_sent" else i
            for i in fmt.items
        )
        fmt = LogFormat(fmt.syntax, fmt.escape, fmt.definition, items, fmt.name)
    return fmt


_NGINX_VAR = re.compile(r"\$\{?[A-Za-z0-9_]")
_APACHE_DIRECTIVE = re.compile(r"%[<>!,0-9]*(?:\{[^}]*\})?(?:\^t[io]|[A-Za-z])")


def syntax_of(text: str) -> str:
    """``nginx`` or ``apache``, from what the definition uses; a clear error when it is neither or both."""
    stripped = text.strip()
    if stripped.startswith("log_format") or stripped.startswith("escape="):
        return "nginx"
    if stripped.lower().startswith("logformat"):
        return "apache"
    has_nginx = bool(_NGINX_VAR.search(text))
    has_apache = bool(_APACHE_DIRECTIVE.search(text.replace("%%", "")))
    if has_nginx and has_apache:
        raise FormatError(
            f"log format {text!r} has both nginx $variables and Apache % directives",
            hint="pass the definition of one server; or name the file with --log-format-from",
        )
    if has_nginx:
        return "nginx"
    if has_apache:
        return "apache"
    raise FormatError(
        f"log format {text!r} is not a preset and has no nginx $variables or Apache % directives",
        hint=f"use a preset ({', '.join(PRESETS)}), an nginx log_format string or an Apache LogFormat string",
    )


def parse_definition(text: str, *, name: str | None = None) -> LogFormat:
    """A preset name, or a definition as written in an nginx or Apache config, verbatim.

    nginx: the format string itself (``$remote_addr - ...``), or the directive's arguments as in the config
    (``escape=json '{"ip":"$remote_addr"...' '...'``, quoted strings concatenated), or the whole
    ``log_format name ...;`` directive. Apache: the string between the quotes of ``LogFormat "..."`` (with
    ``\\"``), the same in quotes, or the whole ``LogFormat "..." name`` line.
    """
    stripped = text.strip()
    if stripped in PRESETS:
        return preset(stripped)
    if not stripped:
        raise FormatError("empty log format definition", hint=f"use a preset: {', '.join(PRESETS)}")
    syntax = syntax_of(text)
    if syntax == "nginx":
        if stripped.startswith("log_format"):
            words = _nginx_words(stripped if stripped.endswith(";") else stripped + ";")
            if len(words) < 3:
                raise FormatError(f"{text!r}: log_format needs a name and a format string")
            return nginx.parse_args(words[2:], name=name or words[1], definition=text)
        if stripped[0] in "'\"" or stripped.startswith("escape="):
            words = _nginx_words("log_format x " + stripped + ";")
            return nginx.parse_args(words[2:], name=name, definition=text)
        return nginx.parse_format(text, name=name)
    if stripped.lower().startswith("logformat"):
        words = apache.split_args(stripped)
        if len(words) not in (2, 3):
            raise FormatError(f"{text!r}: LogFormat takes a format string and an optional nickname")
        return apache.parse_format(words[1], name=name or (words[2] if len(words) == 3 else None))
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        return apache.parse_format(stripped[1:-1], name=name)
    return apache.parse_format(text, name=name)


def _nginx_words(text: str) -> list[str]:
    tokens = [t for t in nginx.tokenize(text, "log format") if isinstance(t, list)]
    if len(tokens) != 1:
        raise FormatError(f"{text!r} is not one log_format directive")
    return tokens[0]


def config_syntax(path: Path, text: str) -> str:
    """Whether a config file is nginx's or Apache's, by the directives it uses."""
    has_nginx = re.search(r"(?m)^\s*(log_format\s|(http|events|server)\s*\{|include\s+[^;]+;)", text)
    has_apache = re.search(
        r"(?im)^\s*(logformat\s|customlog\s|<virtualhost|serverroot\s|include(optional)?\s+[^;]+$)", text
    )
    if has_nginx and not has_apache:
        return "nginx"
    if has_apache and not has_nginx:
        return "apache"
    raise FormatError(
        f"{path}: cannot tell whether this is an nginx or an Apache config",
        hint="pass the file that holds the log_format (nginx) or LogFormat (Apache) directive",
    )


def from_config(path: Path | str, name: str | None = None) -> LogFormat:
    """The definition named ``name`` in an nginx or Apache config file (includes followed).

    Without a name, the config must define exactly one format. nginx's ``combined`` and Apache's ``CLF``
    exist in every config, as in the servers. A file that is not a config but holds a definition is read
    as that definition (how the job specs hand one to the job: ``log_format_b64``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise FormatError(f"--log-format-from {path}: cannot read: {exc.strerror or exc}") from None
    try:
        syntax = config_syntax(path, text)
    except FormatError as not_config:
        try:  # a file holding just a definition (how job specs hand one to the job: log_format_b64)
            return parse_definition(text.strip(), name=name)
        except FormatError as not_definition:
            if _NGINX_VAR.search(text) or _APACHE_DIRECTIVE.search(text):
                raise not_definition from None
            raise not_config from None
    if syntax == "nginx":
        nginx_found = nginx.read_formats(path)
        if name is None:
            name = _only(path, list(nginx_found), "log_format")
        if name not in nginx_found:
            if name == "combined":
                return nginx.parse_format(nginx.COMBINED, name="combined")
            raise _missing(path, name, list(nginx_found), "log_format")
        return nginx.parse_args(nginx_found[name], name=name)
    apache_found = apache.read_formats(path)
    if name is None:
        name = _only(path, list(apache_found), "LogFormat")
    if name not in apache_found:
        if name == "CLF":
            return apache.parse_format(apache.COMMON, name="CLF", config_escaped=False)
        raise _missing(path, name, list(apache_found), "LogFormat")
    return apache.parse_format(apache_found[name], name=name)


def _only(path: Path, names: list[str], directive: str) -> str:
    if len(names) == 1:
        return names[0]
    if not names:
        raise FormatError(f"{path}: no {directive} directive found (includes followed)")
    raise FormatError(
        f"{path} defines several log formats: {', '.join(names)}",
        hint="choose one with --log-format-name",
    )


def _missing(path: Path, name: str, names: list[str], directive: str) -> FormatError:
    return FormatError(
        f"{path}: no {directive} named {name!r}",
        hint=f"defined: {', '.join(names) or '(none)'}",
    )


def portable_definition(fmt: LogFormat) -> str:
    """Definition text that :func:`parse_definition` turns back into ``fmt`` (to hand it to a job).

    An nginx format read from a config keeps ``escape=`` apart from its text; this puts it back, quoting the
    text as the config did. A preset stays its name.
    """
    if fmt.name in PRESETS and preset(fmt.name).items == fmt.items:
        return fmt.name
    if fmt.syntax == "apache":
        return fmt.definition  # the LogFormat string as given (config-escaped)
    text = "".join(i.text if isinstance(i, Literal) else i.source for i in fmt.items)
    if fmt.escape != "default" or text.lstrip().startswith(("'", '"', "escape=", "log_format")):
        quoted = text.replace("\\", "\\\\").replace("'", "\\'")
        return f"escape={fmt.escape} '{quoted}'"
    return text


def check_analysable(fmt: LogFormat) -> None:
    """A format whose logs can be analysed has a time and a status field."""
    if not fmt.has(*TIME_FIELDS):
        raise FormatError(
            f"log format {fmt.label!r} has no time field, so requests cannot be placed in time",
            hint="log $time_local, $time_iso8601 or $msec (nginx), %t (Apache)",
        )
    if not fmt.has("status", "status_orig"):
        raise FormatError(
            f"log format {fmt.label!r} has no status field", hint="log $status (nginx) or %>s (Apache)"
        )


def resolve(
    definition: str | None = None, from_path: Path | str | None = None, name: str | None = None
) -> LogFormat | None:
    """The format the options ``--log-format``, ``--log-format-from``, ``--log-format-name`` ask for.

    Empty strings count as not given (job templates always pass the options). ``None``: no format given.
    """
    definition = definition or None
    from_path = from_path or None
    name = name or None
    if definition is not None and from_path is not None:
        raise FormatError(
            "--log-format and --log-format-from are exclusive", hint="pass the definition or the config file"
        )
    if from_path is not None:
        return from_config(from_path, name)
    if name is not None:
        raise FormatError(
            "--log-format-name needs --log-format-from", hint="name a config file to read it from"
        )
    if definition is not None:
        return parse_definition(definition)
    return None
