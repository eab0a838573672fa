"""Find, render and load edgelog's job specs (``jobs/*.yaml``) exactly as Bacalhau would see them."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from edgelog.analysis.sandbox import QueryRejected, check_query
from edgelog.errors import ConfigError, UsageError
from edgelog.jobs.model import JobSpec
from edgelog.jobs.template import render, variables_used
from edgelog.jobs.validate import DEFAULT_ALLOW_LIST, load_spec_yaml, validate_job
from edgelog.logformat import LogFormat, resolve
from edgelog.logformat.definitions import check_analysable, portable_definition
from edgelog.logformat.realip import parse_networks
from edgelog.settings import package_data_dir

JOBS_DIR_ENV = "EDGELOG_JOBS_DIR"


MAX_TEMPLATE_BYTES = 1 << 20  # a job spec template, before its variables are filled in


def jobs_dir() -> Path:
    """Where named specs live: ``$EDGELOG_JOBS_DIR``, else the specs installed with the package."""
    if env := os.environ.get(JOBS_DIR_ENV):
        return Path(env)
    return package_data_dir("jobs", marker="access-log-report.yaml", env=JOBS_DIR_ENV)


def available_specs() -> list[str]:
    """Names of the specs ``edgelog job ... NAME`` accepts."""
    folder = jobs_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_spec(name_or_file: str | Path) -> Path:
    """A spec name (``access-log-report``) or a path to a YAML file -> the file."""
    candidate = Path(name_or_file)
    if candidate.is_file():
        return candidate
    text = str(name_or_file)
    if "/" not in text and not text.endswith((".yaml", ".yml")):
        named = jobs_dir() / f"{text}.yaml"
        if named.is_file():
            return named
    names = ", ".join(available_specs()) or f"(none found in {jobs_dir()})"
    raise UsageError(f"no job spec {text!r}", hint=f"use one of: {names}, or a path to a YAML file")


def parse_vars(items: Iterable[str]) -> dict[str, str]:
    """``["k=v", ...]`` -> dict, as Bacalhau's ``-V k=v`` takes them."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--var {item!r} is not NAME=VALUE", hint="e.g. --var bucket=my-results")
        out[key.strip()] = value
    return out


def log_format_vars(fmt: LogFormat) -> dict[str, str]:
    """The variables that hand a log format to every node's analyze: ``log_format``, or ``log_format_b64``.

    The definition travels self-contained (a config's includes were followed here); one that the spec's
    single-quoted ``log_format`` cannot hold goes as base64 of a file the job reads with --log-format-from.
    """
    text = portable_definition(fmt)
    if "'" in text or "\n" in text:
        return {"log_format_b64": base64.b64encode(text.encode()).decode("ascii")}
    return {"log_format": text}


def format_options_vars(
    log_format: str | None,
    log_format_from: Path | str | None,
    log_format_name: str | None,
    trusted: str | None,
) -> dict[str, str]:
    """The ``--log-format*`` and ``--trusted-proxies`` options of ``edgelog job`` as template variables.

    Checked here, before anything is submitted: the definition must be analysable and the proxies CIDRs.
    """
    values: dict[str, str] = {}
    fmt = resolve(log_format, log_format_from, log_format_name)
    if fmt is not None:
        check_analysable(fmt)
        values.update(log_format_vars(fmt))
    if trusted:
        parse_networks(trusted)
        values["trusted_proxies"] = trusted
    return values


def sql_var(sql_file: Path) -> dict[str, str]:
    """The ``sql_b64`` variable adhoc-query.yaml needs, from a SQL file."""
    try:
        data = sql_file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read SQL file {sql_file}: {exc.strerror}") from None
    if not data.strip():
        raise UsageError(f"SQL file {sql_file} is empty")
    try:
        check_query(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"SQL file {sql_file} is not UTF-8 text") from None
    except QueryRejected as exc:
        raise UsageError(
            f"SQL file {sql_file} is rejected: {exc}",
            hint="write exactly one SELECT over the requests table (docs/analysis.md)",
        ) from None
    return {"sql_b64": base64.b64encode(data).decode("ascii")}


@dataclass
class RenderedSpec:
    """A spec after templating: the text Bacalhau would parse and the parsed job."""

    path: Path
    text: str
    job: dict[str, Any]

    @cached_property
    def spec(self) -> JobSpec:
        """The job as typed values (meaningful once validated: :func:`load_spec` does both)."""
        return JobSpec.from_job(self.job)

    def with_name(self, name: str) -> RenderedSpec:
        """The same spec under another job Name (submitting an existing Name updates that job)."""
        job = dict(self.job)
        key = next((k for k in job if str(k).lower() == "name"), "Name")
        job.pop(key, None)
        job = {"Name": name, **job}
        return RenderedSpec(self.path, dump_job(job), job)


def dump_job(job: Mapping[str, Any]) -> str:
    """YAML for a job mapping, keys in their original order."""
    return yaml.safe_dump(dict(job), sort_keys=False, allow_unicode=True, width=1000)


def render_spec(name_or_file: str | Path, variables: Mapping[str, str]) -> RenderedSpec:
    """Render a spec's template with ``variables`` and parse the YAML (no model validation)."""
    path = resolve_spec(name_or_file)
    try:
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise ConfigError(
                path,
                None,
                f"is larger than {MAX_TEMPLATE_BYTES >> 20} MiB ({size} bytes)",
                hint="a job spec is a few kilobytes",
            )
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read job spec {path}: {exc}") from None
    text = render(source, variables, path=path)
    return RenderedSpec(path, text, load_spec_yaml(text, path))


def spec_variables(name_or_file: str | Path) -> tuple[set[str], set[str]]:
    """(required, optional) template variables of a spec."""
    path = resolve_spec(name_or_file)
    return variables_used(path.read_text(encoding="utf-8"), path=path)


def load_spec(
    name_or_file: str | Path,
    variables: Mapping[str, str],
    *,
    allow_list: Sequence[str] = DEFAULT_ALLOW_LIST,
) -> RenderedSpec:
    """Render and validate: what every command that runs a spec starts with."""
    spec = render_spec(name_or_file, variables)
    validate_job(spec.job, path=spec.path, allow_list=allow_list)
    return spec


@dataclass
class SpecInfo:
    """What ``edgelog job list`` shows about one spec."""

    name: str
    job_type: str
    required: set[str]
    optional: set[str]
    summary: str


def describe_specs() -> list[SpecInfo]:
    """Every spec in :func:`jobs_dir` with its type (read without rendering) and variables."""
    infos = []
    for name in available_specs():
        path = jobs_dir() / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        required, optional = variables_used(text, path=path)
        job_type = next(
            (ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Type:")), "?"
        )
        paragraph = []
        for line in text.splitlines():
            if not line.startswith("#") or not line.lstrip("# ").strip():
                break
            paragraph.append(line.lstrip("# ").strip())
        summary = " ".join(paragraph).split(". ")[0].rstrip(".")
        infos.append(SpecInfo(name, job_type, required, optional, summary))
    return infos
