"""Check a rendered job spec against Bacalhau's v1 job model before it reaches a network.

Bacalhau itself checks some fields at submission, some only on the orchestrator, some only on compute nodes
after the job has run (S3 publisher params), and silently ignores unknown nested keys. A spec that submits
fine can therefore still lose every node's results. This validator checks all of it up front, plus what
edgelog's result layout needs, and reports every problem at once with the field path and the fix. Rules follow
bacalhau-project/bacalhau v1.9 (``pkg/models``, ``pkg/lib/marshaller``, ``pkg/storage/local``, ``pkg/s3``);
see docs/jobs.md.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import yaml

from edgelog.analysis.sandbox import QueryRejected, check_query
from edgelog.errors import ConfigError, UsageError, shown
from edgelog.jobs.model import DEFAULT_ALLOW_LIST, canonical_fields, field_value
from edgelog.logformat import resolve
from edgelog.logformat.definitions import check_analysable
from edgelog.logformat.realip import parse_networks

MAX_SPEC_BYTES = 4 << 20  # the adhoc-query spec carries its SQL (up to 1 MiB) as base64 inside

# The images the compute nodes pull at boot (terraform output pre_pulled_images), as the CLI learns them.
PRE_PULLED_ENV = "EDGELOG_PRE_PULLED_IMAGES"
JOB_IMAGE_NAME = "edgelog-job"  # the repository name jobs/Dockerfile is built and pushed as

JOB_TYPES = ("batch", "ops", "daemon", "service")
ENGINES = ("docker", "wasm")
PUBLISHERS = ("noop", "ipfs", "s3", "s3managed", "local")
SOURCES = ("local", "localDirectory", "inline", "urlDownload", "s3", "s3PreSigned", "ipfs")
NETWORKS = ("Default", "None", "Host", "Full", "HTTP", "Bridge")
OPERATORS = ("in", "notin", "exists", "!", "=", "==", "!=", "gt", "lt")
S3_ENCODINGS = ("gzip", "plain")
SERVER_KEYS = ("ID", "State", "Version", "Revision", "CreateTime", "ModifyTime")
JOB_KEYS = ("Name", "Namespace", "Type", "Priority", "Count", "Constraints", "Meta", "Labels", "Tasks")
TASK_KEYS = (
    "Name",
    "Engine",
    "Publisher",
    "Env",
    "Meta",
    "InputSources",
    "ResultPaths",
    "Resources",
    "Network",
    "Timeouts",
)
DOCKER_KEYS = ("Image", "Entrypoint", "Parameters", "EnvironmentVariables", "WorkingDirectory")
S3_KEYS = ("Bucket", "Key", "Endpoint", "Region", "Encoding")
LOCAL_KEYS = ("SourcePath", "ReadWrite", "CreateAs")
KEY_PLACEHOLDERS = ("{jobID}", "{executionID}", "{nodeID}", "{date}", "{time}")

_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_CPU = re.compile(r"^(\d+(\.\d+)?|\.\d+)(m|[kMGTPE]|[KMGTPE]i)?$")
_BYTES = re.compile(r"^\s*(\d+(\.\d*)?|\.\d+)\s*([kmgtpez]i?b?|b)?\s*$", re.IGNORECASE)


class SpecInvalid(UsageError):
    """A job spec has one or more problems; ``problems`` lists each with its field and fix."""

    def __init__(self, path: str | Path | None, problems: Sequence[ConfigError]):
        self.problems = list(problems)
        count = len(self.problems)
        lines = [f"{path or '<spec>'}: {count} problem{'s' if count != 1 else ''} in the job spec"]
        lines += [f"  - {p}".replace("\n  fix:", "\n      fix:") for p in self.problems]
        super().__init__(
            "\n".join(lines), hint="edit the spec (or the --var values) and run edgelog job validate"
        )


def load_spec_yaml(text: str, path: str | Path | None = None) -> dict[str, Any]:
    """Parse rendered YAML into the job mapping (Bacalhau converts YAML to JSON the same way).

    The text is bounded in size; values are shown in messages only through :func:`shown`, since a few
    hundred bytes of YAML aliases expand to billions of items when formatted whole."""
    if len(text) > MAX_SPEC_BYTES:
        raise ConfigError(
            path,
            None,
            f"the rendered job spec is larger than {MAX_SPEC_BYTES >> 20} MiB ({len(text)} characters)",
            hint="a job spec is a few kilobytes; is a --var value or the --sql file that large?",
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise ConfigError(
            path,
            where,
            f"not valid YAML after rendering: {getattr(exc, 'problem', None) or exc}",
            hint="quote values that contain ':', '#', '{' or quotes; check --var values",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(path, None, "a job spec must be a YAML mapping (Name, Type, Tasks, ...)")
    return data


def doublestar_match(pattern: str, path: str) -> bool:
    """Match like Go's doublestar.PathMatch: only ``**`` crosses directories (``*``, ``?``, ``[]`` do not)."""
    segments = pattern.split("/")
    regex = ""
    for i, seg in enumerate(segments):
        if seg == "**":
            regex += "(?:/.*)?" if i == len(segments) - 1 else "(?:/[^/]+)*"
            continue
        regex += ("/" if i > 0 else "") + _glob_segment(seg)
    return re.fullmatch(regex, path) is not None


def _glob_segment(seg: str) -> str:
    out = ""
    i = 0
    while i < len(seg):
        ch = seg[i]
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = seg.find("]", i + 1)
            if end < 0:
                out += re.escape(ch)
            else:
                body = seg[i + 1 : end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out += f"[{body}]"
                i = end
        elif ch == "{":
            end = seg.find("}", i + 1)
            if end < 0:
                out += re.escape(ch)
            else:
                out += "(?:" + "|".join(_glob_segment(a) for a in seg[i + 1 : end].split(",")) + ")"
                i = end
        elif ch == "\\" and i + 1 < len(seg):
            i += 1
            out += re.escape(seg[i])
        else:
            out += re.escape(ch)
        i += 1
    return out


def parse_allow_entry(entry: str) -> tuple[str, bool]:
    """``path[:rw|:ro]`` -> (glob, read_write). Only that suffix is stripped, exactly as Bacalhau does."""
    if entry.endswith(":rw"):
        return entry[:-3], True
    if entry.endswith(":ro"):
        return entry[:-3], False
    return entry, False


class _Checker:
    def __init__(self, path: str | Path | None, allow_list: Sequence[str]):
        self.path = path
        self.allow_list = list(allow_list)
        self.problems: list[ConfigError] = []

    def err(self, field: str, problem: str, hint: str | None = None) -> None:
        self.problems.append(ConfigError(self.path, field, problem, hint=hint))

    def job(self, job: dict[str, Any]) -> None:
        for key in job:
            name = str(key)
            if name.lower() in {k.lower() for k in SERVER_KEYS}:
                self.err(
                    name, "is set by the Bacalhau server; submitting it is an error", hint=f"remove {name}"
                )
            elif name.lower() not in {k.lower() for k in JOB_KEYS}:
                self.err(
                    name,
                    "unknown top-level field (Bacalhau rejects the job)",
                    hint=f"top-level fields are {', '.join(JOB_KEYS)}",
                )
        spec = canonical_fields(job, JOB_KEYS)
        job_name = spec.get("Name")
        if job_name is not None and (
            not isinstance(job_name, str) or not job_name.strip() or "\0" in job_name
        ):
            self.err(
                "Name",
                f"must be a non-blank string, got {shown(job_name)}",
                hint="omit Name or give a real name",
            )
        jtype = spec.get("Type")
        if jtype is None or jtype == "":
            self.err("Type", "missing job type", hint=f"set Type to one of {', '.join(JOB_TYPES)}")
        elif jtype not in JOB_TYPES:
            self.err("Type", f"invalid job type {shown(jtype)}", hint=f"use one of {', '.join(JOB_TYPES)}")
        for key in ("Namespace",):
            if key in spec and not isinstance(spec[key], str):
                self.err(
                    key, f"must be a string, got {shown(spec[key])}", hint="quote it, e.g. Namespace: default"
                )
        if "Priority" in spec and not _is_int(spec["Priority"]):
            self.err(
                "Priority",
                f"must be an integer, got {shown(spec['Priority'])}",
                hint="write a whole number, e.g. Priority: 0",
            )
        count = spec.get("Count")
        if count is not None:
            if not _is_int(count) or count < 0:
                self.err(
                    "Count",
                    f"must be an integer >= 0, got {shown(count)}",
                    hint="write a whole number, or remove Count",
                )
            elif jtype in ("ops", "daemon") and count > 1:
                self.err(
                    "Count",
                    f"{jtype} jobs run once on every matching node;"
                    f" Count {count} is invalid (must be 0 or 1)",
                    hint="remove Count, or use Type: batch to run on a number of nodes",
                )
        for key in ("Meta", "Labels"):
            self.string_map(spec.get(key), key)
        meta = spec.get("Meta")
        if isinstance(meta, dict):
            for key in meta:
                if str(key).startswith("bacalhau.org/"):
                    self.err(
                        f"Meta.{key}",
                        "keys starting with bacalhau.org/ are reserved and are dropped",
                        hint="rename the key without the bacalhau.org/ prefix",
                    )
        self.constraints(spec.get("Constraints"))
        tasks = spec.get("Tasks")
        if not isinstance(tasks, list) or not tasks:
            self.err("Tasks", "a job needs exactly one task", hint="add Tasks: [{Name: main, Engine: ...}]")
            return
        if len(tasks) > 1:
            self.err(
                "Tasks",
                f"has {len(tasks)} tasks; Bacalhau runs only the first and drops the rest",
                hint="keep one task; split other work into its own job",
            )
        count_for_key = (
            count
            if isinstance(count, int) and not isinstance(count, bool)
            else (1 if jtype in ("batch", "service") else 0)
        )
        self.task(tasks[0], "Tasks[0]", jtype, count_for_key)

    def string_map(self, value: Any, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.err(
                field,
                f"must be a mapping of strings, got {type(value).__name__}",
                hint="write it as a YAML mapping, e.g. {app: edgelog}",
            )
            return
        for key, val in value.items():
            if not isinstance(val, str):
                self.err(
                    f"{field}.{key}",
                    f"must be a string, got {shown(val)}",
                    hint=f'quote it: {key}: "{shown(val)}"',
                )

    def constraints(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            self.err(
                "Constraints",
                "must be a list of {Key, Operator, Values}",
                hint='write Constraints: [{Key: role, Operator: "=", Values: [log-node]}]',
            )
            return
        for i, item in enumerate(value):
            field = f"Constraints[{i}]"
            if not isinstance(item, dict):
                self.err(
                    field,
                    "must be a mapping {Key, Operator, Values}",
                    hint='write {Key: role, Operator: "=", Values: [log-node]}',
                )
                continue
            c = canonical_fields(item, ("Key", "Operator", "Values"))
            for key in item:
                if str(key).lower() not in ("key", "operator", "values"):
                    self.err(
                        f"{field}.{key}",
                        "unknown field (Bacalhau ignores it)",
                        hint="use Key, Operator, Values",
                    )
            key = c.get("Key")
            if not isinstance(key, str) or not key.strip():
                self.err(
                    f"{field}.Key",
                    "a constraint needs a non-blank label Key",
                    hint="set Key to a node label name, e.g. Key: role",
                )
            op = c.get("Operator")
            values = c.get("Values") or []
            if not isinstance(values, list):
                self.err(
                    f"{field}.Values",
                    f"must be a list of strings, got {shown(values)}",
                    hint="write Values: [a, b]",
                )
                values = []
            for j, val in enumerate(values):
                if not isinstance(val, str):
                    self.err(
                        f"{field}.Values[{j}]",
                        f"must be a string, got {shown(val)}",
                        hint=f'quote it: "{shown(val)}"',
                    )
            if not isinstance(op, str) or op not in OPERATORS:
                hint = f"use one of {', '.join(OPERATORS)} (lower case)"
                if isinstance(op, str) and op.lower() in OPERATORS:
                    hint = (
                        f"write {shown(op.lower())}: operators are Kubernetes selection operators, lower case"
                    )
                self.err(f"{field}.Operator", f"unknown operator {shown(op)}", hint=hint)
                continue
            if op in ("in", "notin") and not values:
                self.err(
                    f"{field}.Values",
                    f"operator {shown(op)} needs at least one value",
                    hint="add Values: [VALUE, ...], or use Operator: exists",
                )
            elif op in ("exists", "!") and values:
                self.err(f"{field}.Values", f"operator {shown(op)} takes no values", hint="remove Values")
            elif op not in ("in", "notin", "exists", "!") and len(values) != 1:
                self.err(
                    f"{field}.Values",
                    f"operator {shown(op)} needs exactly one value, got {len(values)}",
                    hint="give exactly one value, or use Operator: in for several",
                )
            if (
                op in ("gt", "lt")
                and values
                and not all(isinstance(v, str) and _is_int_str(v) for v in values)
            ):
                self.err(
                    f"{field}.Values",
                    f"operator {shown(op)} compares integers, got {shown(values)}",
                    hint='use whole numbers, quoted: Values: ["4"]',
                )

    def task(self, task: Any, field: str, jtype: Any, count: int) -> None:
        if not isinstance(task, dict):
            self.err(field, "a task must be a mapping", hint="write Tasks: [{Name: main, Engine: ..., ...}]")
            return
        self.unknown(task, TASK_KEYS, field, "Task")
        t = canonical_fields(task, TASK_KEYS)
        name = t.get("Name")
        if not isinstance(name, str) or not name.strip():
            self.err(f"{field}.Name", "a task needs a non-blank Name", hint="e.g. Name: main")
        self.engine(t.get("Engine"), f"{field}.Engine")
        result_paths = self.result_paths(t.get("ResultPaths"), f"{field}.ResultPaths")
        self.publisher(t.get("Publisher"), f"{field}.Publisher", jtype, count, bool(result_paths))
        self.env(t.get("Env"), f"{field}.Env")
        self.string_map(t.get("Meta"), f"{field}.Meta")
        self.inputs(t.get("InputSources"), f"{field}.InputSources")
        self.analyze_arguments(t, field)
        self.resources(t.get("Resources"), f"{field}.Resources")
        self.network(t.get("Network"), f"{field}.Network")
        self.timeouts(t.get("Timeouts"), f"{field}.Timeouts")

    def analyze_arguments(self, task: dict[str, Any], field: str) -> None:
        """An ``edgelog analyze`` task's log format and trusted proxies must work, or every node fails alike.

        The definition of ``--log-format-from`` is checked from the inline source mounted at that path.
        """
        engine = task.get("Engine")
        params = field_value(engine, "Params") if isinstance(engine, dict) else None
        args = field_value(params, "Parameters") if isinstance(params, dict) else None
        if not isinstance(args, list) or "analyze" not in args:
            return
        where = f"{field}.Engine.Params.Parameters"
        opts = {a: args[i + 1] for i, a in enumerate(args[:-1]) if isinstance(a, str) and a.startswith("--")}
        definition = opts.get("--log-format")
        name = opts.get("--log-format-name")
        source = opts.get("--log-format-from")
        try:
            if isinstance(source, str):
                text = self._inline_text(task.get("InputSources"), source)
                if text is None:
                    return  # not inline: only the node can read it
                with tempfile.TemporaryDirectory() as tmp:
                    (Path(tmp) / "log-format").write_bytes(text)
                    fmt = resolve(None, Path(tmp) / "log-format", name)
            else:
                fmt = resolve(definition if isinstance(definition, str) else None, None, name)
            if fmt is not None:
                check_analysable(fmt)
        except UsageError as exc:
            self.err(where, f"the log format does not work: {exc.message}", hint=exc.hint or "fix log_format")
        proxies = opts.get("--trusted-proxies")
        if isinstance(proxies, str):
            try:
                parse_networks(proxies)
            except UsageError as exc:
                self.err(where, exc.message, hint=exc.hint)

    @staticmethod
    def _inline_text(sources: Any, target: str) -> bytes | None:
        for item in sources if isinstance(sources, list) else []:
            if not isinstance(item, dict) or field_value(item, "Target") != target:
                continue
            src = field_value(item, "Source")
            params = field_value(src, "Params") if isinstance(src, dict) else None
            url = field_value(params, "URL") if isinstance(params, dict) else None
            if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
                try:
                    return base64.b64decode(url.split(",", 1)[1], validate=True)
                except (binascii.Error, ValueError):
                    return None
        return None

    def unknown(self, mapping: dict[str, Any], known: Sequence[str], field: str, what: str) -> None:
        lowered = {k.lower() for k in known}
        for key in mapping:
            if str(key).lower() not in lowered:
                self.err(
                    f"{field}.{key}",
                    f"unknown {what} field: Bacalhau silently ignores it",
                    hint=f"{what} fields are {', '.join(known)}",
                )

    def engine(self, engine: Any, field: str) -> None:
        if not isinstance(engine, dict):
            self.err(
                field,
                "a task needs an Engine {Type, Params}",
                hint="Engine: {Type: docker, Params: {Image: ...}}",
            )
            return
        self.unknown(engine, ("Type", "Params"), field, "Engine")
        etype = field_value(engine, "Type")
        params = field_value(engine, "Params") or {}
        if not isinstance(etype, str) or not etype.strip():
            self.err(f"{field}.Type", "engine type is required", hint=f"use one of {', '.join(ENGINES)}")
            return
        if etype.lower() not in ENGINES:
            self.err(
                f"{field}.Type", f"unknown engine {shown(etype)}", hint=f"use one of {', '.join(ENGINES)}"
            )
            return
        if not isinstance(params, dict):
            self.err(
                f"{field}.Params",
                "must be a mapping",
                hint="write Params as a mapping, e.g. Params: {Image: ...}",
            )
            return
        if etype.lower() != "docker":
            return
        self.unknown(params, DOCKER_KEYS, f"{field}.Params", "docker engine")
        p = canonical_fields(params, DOCKER_KEYS)
        image = p.get("Image")
        if not isinstance(image, str) or not image.strip():
            self.err(
                f"{field}.Params.Image",
                "the docker engine needs an Image",
                hint="set --var image=REGISTRY/IMAGE:TAG",
            )
        elif image != image.strip() or " " in image:
            self.err(
                f"{field}.Params.Image",
                f"image reference {shown(image)} contains spaces",
                hint="remove the spaces (check the --var image value)",
            )
        for key in ("Entrypoint", "Parameters", "EnvironmentVariables"):
            value = p.get(key)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                self.err(
                    f"{field}.Params.{key}",
                    f"must be a list of strings, got {shown(value)}",
                    hint="quote each item",
                )
        for i, item in enumerate(p.get("EnvironmentVariables") or []):
            if isinstance(item, str) and (
                "=" not in item or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", item.split("=", 1)[0])
            ):
                self.err(
                    f"{field}.Params.EnvironmentVariables[{i}]",
                    f"{shown(item)} is not NAME=value",
                    hint="write NAME=value, e.g. TZ=UTC",
                )
        self.analyze_args(p, f"{field}.Params")
        workdir = p.get("WorkingDirectory")
        if workdir not in (None, "") and (not isinstance(workdir, str) or not workdir.startswith("/")):
            self.err(
                f"{field}.Params.WorkingDirectory",
                f"must be an absolute path, got {shown(workdir)}",
                hint="use an absolute path such as /tmp, or remove WorkingDirectory",
            )

    def analyze_args(self, params: dict[str, Any], field: str) -> None:
        """``edgelog analyze`` options every node would refuse at run time (``--since yesterday``)."""
        entrypoint, parameters = params.get("Entrypoint") or [], params.get("Parameters") or []
        if not all(isinstance(a, str) for a in (*entrypoint, *parameters)):
            return  # reported above
        argv = [*entrypoint, *parameters]
        if len(argv) < 2 or Path(argv[0]).name != "edgelog" or argv[1] != "analyze":
            return
        from edgelog.analysis.inputs import parse_time

        offset = len(entrypoint)
        times: dict[str, Any] = {}
        for i, arg in enumerate(argv):
            option, eq, inline = arg.partition("=")
            if option not in ("--since", "--until"):
                continue
            if eq:
                where, value = i, inline
            elif i + 1 < len(argv):
                where, value = i + 1, argv[i + 1]
            else:
                continue
            try:
                times[option] = parse_time(value, option)
            except UsageError as exc:
                self.err(
                    f"{field}.Parameters[{where - offset}]" if where >= offset else f"{field}.Entrypoint",
                    f"{exc.message}: edgelog analyze would refuse it on every node",
                    hint=f"an ISO-8601 time, e.g. --var {option.removeprefix('--')}=2026-11-23T08:00:00Z",
                )
        since, until = times.get("--since"), times.get("--until")
        if since is not None and until is not None and since >= until:
            self.err(
                f"{field}.Parameters",
                "--since is not before --until: edgelog analyze would refuse it on every node",
                hint="swap the two times",
            )

    def result_paths(self, value: Any, field: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.err(
                field,
                "must be a list of {Name, Path}",
                hint="write ResultPaths: [{Name: outputs, Path: /outputs}]",
            )
            return []
        names: set[str] = set()
        paths: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.err(
                    f"{field}[{i}]",
                    "must be a mapping {Name, Path}",
                    hint="write {Name: outputs, Path: /outputs}",
                )
                continue
            self.unknown(item, ("Name", "Path"), f"{field}[{i}]", "ResultPath")
            name, path = field_value(item, "Name"), field_value(item, "Path")
            if not isinstance(name, str) or not name.strip():
                self.err(f"{field}[{i}].Name", "a result path needs a Name", hint="e.g. Name: outputs")
            elif name in names:
                self.err(
                    f"{field}[{i}].Name",
                    f"duplicate result path name {shown(name)}",
                    hint="give each result path its own Name",
                )
            else:
                names.add(name)
            if not isinstance(path, str) or not path.startswith("/"):
                self.err(
                    f"{field}[{i}].Path", f"must be an absolute path, got {shown(path)}", hint="e.g. /outputs"
                )
            elif path in paths:
                self.err(
                    f"{field}[{i}].Path",
                    f"duplicate result path {shown(path)}",
                    hint="give each result path its own Path",
                )
            else:
                paths.add(path)
        return value

    def publisher(self, value: Any, field: str, jtype: Any, count: int, has_results: bool) -> None:
        ptype = field_value(value, "Type") if isinstance(value, dict) else None
        if not isinstance(value, dict) or not isinstance(ptype, str) or not ptype.strip():
            if has_results:
                self.err(
                    field,
                    "a Publisher is required when ResultPaths are set (the results would go nowhere)",
                    hint="Publisher: {Type: s3, Params: {Bucket, Key, Endpoint, Region, Encoding}}",
                )
            elif value is not None and not isinstance(value, dict):
                self.err(
                    field,
                    "must be a mapping {Type, Params}",
                    hint="write Publisher: {Type: s3, Params: {...}}",
                )
            return
        self.unknown(value, ("Type", "Params"), field, "Publisher")
        if ptype.lower() not in PUBLISHERS:
            self.err(
                f"{field}.Type",
                f"unknown publisher {shown(ptype)}",
                hint=f"use one of {', '.join(PUBLISHERS)}",
            )
            return
        params = field_value(value, "Params") or {}
        if not isinstance(params, dict):
            self.err(
                f"{field}.Params",
                "must be a mapping",
                hint="write Params as a mapping, e.g. Params: {Bucket: ..., Key: ...}",
            )
            return
        if ptype.lower() != "s3":
            return
        for key in params:
            if str(key).lower() == "compress":
                self.err(
                    f"{field}.Params.{key}",
                    "Compress no longer exists (Bacalhau ignores it)",
                    hint="use Encoding: plain",
                )
            elif str(key).lower() not in {k.lower() for k in S3_KEYS}:
                self.err(
                    f"{field}.Params.{key}",
                    "unknown s3 publisher parameter: Bacalhau silently ignores it",
                    hint=f"s3 parameters are {', '.join(S3_KEYS)}",
                )
        p = canonical_fields(params, S3_KEYS)
        # The S3 publisher validates these only after the job has run: catch them now.
        bucket = p.get("Bucket")
        if not isinstance(bucket, str) or not bucket.strip():
            self.err(
                f"{field}.Params.Bucket", "the s3 publisher needs a Bucket", hint="set --var bucket=NAME"
            )
        encoding = p.get("Encoding")
        if encoding not in (None, "") and encoding not in S3_ENCODINGS:
            self.err(
                f"{field}.Params.Encoding", f"invalid encoding {shown(encoding)}", hint="use Encoding: plain"
            )
        elif encoding != "plain":
            # pkg/publisher/s3: anything but plain is one .tar.gz of the whole result, uploaded by
            # aws-sdk-go-v2's manager.Uploader: from 5 MiB on in parts with CRC32 checksum trailers, which GCS
            # rejects. Plain uploads each file as its own object, and edgelog keeps every file below 5 MiB.
            what = "is not set, so the s3 publisher uses gzip:" if encoding in (None, "") else "gzip:"
            self.err(
                f"{field}.Params.Encoding",
                f"{what} the whole result becomes one .tar.gz that grows with the result, and from 5 MiB on "
                "Bacalhau's S3 publisher uploads it in parts with CRC32 checksum trailers, which GCS (and "
                "other S3-compatible stores) reject: the execution fails after the work is done",
                hint="use Encoding: plain (one object per file; edgelog keeps every file below 5 MiB)",
            )
        key = p.get("Key")
        if not isinstance(key, str) or not key.strip():
            self.err(
                f"{field}.Params.Key",
                "the s3 publisher needs a Key",
                hint="e.g. Key: edgelog/{jobID}/{nodeID}/{executionID}",
            )
        else:
            multi = jtype in ("ops", "daemon") or count > 1
            if "{nodeID}" not in key:
                clash = (
                    "; nodes would overwrite each other's results"
                    if multi and "{executionID}" not in key
                    else ""
                )
                self.err(
                    f"{field}.Params.Key",
                    f"{shown(key)} has no {{nodeID}} placeholder: edgelog fetch finds each node's results at "
                    f"<prefix>/{{jobID}}/{{nodeID}}/...{clash}",
                    hint="use Key: <prefix>/{jobID}/{nodeID}/{executionID}",
                )
            if "{jobID}" not in key and "{executionID}" not in key:
                self.err(
                    f"{field}.Params.Key",
                    f"{shown(key)} has no {{jobID}} placeholder: each run would overwrite the last, and "
                    "edgelog fetch finds results by job ID",
                    hint="use Key: <prefix>/{jobID}/{nodeID}/{executionID}",
                )
            if encoding in (None, "", "gzip") and key.endswith("/"):
                self.err(
                    f"{field}.Params.Key",
                    f"with gzip encoding the publisher appends .tar.gz, so {shown(key)} uploads "
                    f"{shown(key + '.tar.gz')}",
                    hint="drop the trailing '/' (plain encoding adds it itself)",
                )
            if key.startswith("/"):
                self.err(
                    f"{field}.Params.Key", "object keys must not start with '/'", hint="remove the leading /"
                )
            for placeholder in re.findall(r"\{[^{}]*\}", key):
                if placeholder not in KEY_PLACEHOLDERS:
                    self.err(
                        f"{field}.Params.Key",
                        f"unknown placeholder {placeholder} (it would stay literally in the key)",
                        hint=f"placeholders are {', '.join(KEY_PLACEHOLDERS)}",
                    )
        endpoint = p.get("Endpoint")
        if endpoint not in (None, "") and (
            not isinstance(endpoint, str) or not re.match(r"^https?://[^/\s]+", endpoint)
        ):
            self.err(
                f"{field}.Params.Endpoint",
                f"must be an http(s) URL, got {shown(endpoint)}",
                hint="e.g. Endpoint: https://storage.googleapis.com",
            )

    def env(self, value: Any, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.err(
                field,
                "must be a mapping NAME: value",
                hint='write Env as a mapping, e.g. Env: {WINDOW: "1h"}',
            )
            return
        for name, val in value.items():
            if not isinstance(name, str) or not _ENV_NAME.match(name):
                self.err(
                    f"{field}.{name}",
                    "env names must be upper case, start with a letter and contain only A-Z, 0-9 and _",
                    hint="rename it, e.g. MY_SETTING",
                )
            elif name.startswith("BACALHAU_"):
                self.err(
                    f"{field}.{name}",
                    "the BACALHAU_ prefix is reserved for variables Bacalhau sets",
                    hint="rename it without the BACALHAU_ prefix",
                )
            if not isinstance(val, str) or not val:
                self.err(
                    f"{field}.{name}",
                    f"env values must be non-empty strings, got {shown(val)}",
                    hint="give it a value, or remove it",
                )

    def inputs(self, value: Any, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            self.err(
                field,
                "must be a list of {Alias, Target, Source}",
                hint="write InputSources: [{Alias: logs, Target: /inputs, Source: {Type: local, ...}}]",
            )
            return
        aliases: set[str] = set()
        targets: set[str] = set()
        for i, item in enumerate(value):
            f = f"{field}[{i}]"
            if not isinstance(item, dict):
                self.err(
                    f,
                    "must be a mapping {Alias, Target, Source}",
                    hint="write {Alias: logs, Target: /inputs, Source: {...}}",
                )
                continue
            self.unknown(item, ("Alias", "Target", "Source"), f, "InputSource")
            alias = field_value(item, "Alias")
            target, source = field_value(item, "Target"), field_value(item, "Source")
            if alias:
                if alias in aliases:
                    self.err(
                        f"{f}.Alias",
                        f"duplicate alias {shown(alias)}",
                        hint="give each input source its own Alias",
                    )
                aliases.add(alias)
            if not isinstance(target, str) or not target.strip():
                self.err(
                    f"{f}.Target",
                    "every input source needs a Target (the path inside the task)",
                    hint="e.g. Target: /inputs",
                )
            else:
                if not target.startswith("/"):
                    self.err(
                        f"{f}.Target",
                        f"must be an absolute path, got {shown(target)}",
                        hint="e.g. Target: /inputs",
                    )
                if target in targets:
                    self.err(
                        f"{f}.Target",
                        f"duplicate target {shown(target)}",
                        hint="mount each input at its own Target",
                    )
                targets.add(target)
            stype = field_value(source, "Type") if isinstance(source, dict) else None
            if not isinstance(stype, str) or not stype.strip():
                self.err(
                    f"{f}.Source.Type", "every input source needs a Source.Type", hint="e.g. Type: local"
                )
                continue
            if stype not in SOURCES:
                self.err(
                    f"{f}.Source.Type",
                    f"unknown source type {shown(stype)}",
                    hint=f"use one of {', '.join(SOURCES)}",
                )
                continue
            params = field_value(source, "Params") or {}
            if stype in ("local", "localDirectory"):
                self.local_source(params, f"{f}.Source.Params")
            elif stype == "inline":
                url = field_value(params, "URL")
                if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
                    self.err(
                        f"{f}.Source.Params.URL",
                        "inline sources need a data: URL",
                        hint='e.g. URL: "data:text/plain;base64,<base64 of the file>"',
                    )
                elif ";base64," in url:
                    try:
                        data = base64.b64decode(url.split(",", 1)[1], validate=True)
                    except (binascii.Error, ValueError):
                        self.err(
                            f"{f}.Source.Params.URL",
                            "the data: URL is not valid base64",
                            hint="encode the file with base64 -w0",
                        )
                    else:
                        if isinstance(target, str) and target.endswith(".sql"):
                            self.user_sql(data, f"{f}.Source.Params.URL")
                elif isinstance(target, str) and target.endswith(".sql"):
                    self.user_sql(unquote_to_bytes(url.split(",", 1)[1]), f"{f}.Source.Params.URL")

    def user_sql(self, data: bytes, field: str) -> None:
        """SQL mounted for ``analyze --query`` must be the one query the node's sandbox will accept."""
        try:
            check_query(data.decode("utf-8"))
        except UnicodeDecodeError:
            self.err(field, "the SQL is not UTF-8 text", hint="save the SQL file as UTF-8")
        except QueryRejected as exc:
            self.err(
                field,
                f"the inline SQL is rejected: {exc}",
                hint="write exactly one SELECT over the requests table (docs/analysis.md)",
            )

    def local_source(self, params: Any, field: str) -> None:
        if not isinstance(params, dict):
            self.err(
                field,
                "local sources need Params {SourcePath, ReadWrite}",
                hint="write Params: {SourcePath: /var/log/logs_to_process, ReadWrite: false}",
            )
            return
        self.unknown(params, LOCAL_KEYS, field, "local source")
        p = canonical_fields(params, LOCAL_KEYS)
        source = p.get("SourcePath")
        read_write = p.get("ReadWrite", False)
        if isinstance(read_write, str):
            read_write = read_write == "true"  # what Bacalhau's DecodeSpec does with a string
        elif not isinstance(read_write, bool):
            self.err(
                f"{field}.ReadWrite",
                f"must be true or false, got {shown(read_write)}",
                hint="write ReadWrite: false",
            )
            read_write = False
        create_as = p.get("CreateAs")
        if create_as not in (None, "") and create_as not in ("dir", "file", "noCreate"):
            self.err(f"{field}.CreateAs", f"invalid {shown(create_as)}", hint="use dir, file or noCreate")
        if not isinstance(source, str) or not source.startswith("/"):
            self.err(
                f"{field}.SourcePath",
                f"must be an absolute host path, got {shown(source)}",
                hint="e.g. SourcePath: /var/log/logs_to_process",
            )
            return
        granted = None
        for entry in self.allow_list:
            glob, rw = parse_allow_entry(entry)
            if doublestar_match(glob, source):
                if read_write and not rw:
                    granted = granted or "ro"
                    continue
                granted = "ok"
                break
        if granted == "ok":
            return
        allowed = ", ".join(self.allow_list) or "(none)"
        if granted == "ro":
            self.err(
                f"{field}.ReadWrite",
                f"{source} is allow-listed read-only on the nodes; a read-write mount fails",
                hint="use ReadWrite: false (jobs only read logs)",
            )
        else:
            self.err(
                f"{field}.SourcePath",
                f"{source} is not allow-listed on the nodes (Compute.AllowListedLocalPaths: {allowed}); "
                "every execution would fail with 'not allowlisted'",
                hint="use SourcePath: /var/log/logs_to_process, or pass --allow-listed-path as on the nodes",
            )

    def resources(self, value: Any, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.err(
                field,
                "must be a mapping {CPU, Memory, Disk, GPU}",
                hint='e.g. Resources: {CPU: "1", Memory: 1Gb, Disk: 2Gb}',
            )
            return
        self.unknown(value, ("CPU", "Memory", "Disk", "GPU"), field, "Resources")
        r = canonical_fields(value, ("CPU", "Memory", "Disk", "GPU"))
        cpu = r.get("CPU")
        if cpu not in (None, "") and not (isinstance(cpu, str) and _CPU.match(cpu)):
            self.err(
                f"{field}.CPU",
                f"invalid CPU {shown(cpu)}",
                hint='use a quoted Kubernetes quantity: "500m" or "1"',
            )
        for key in ("Memory", "Disk"):
            val = r.get(key)
            if val not in (None, "") and not (isinstance(val, str) and _BYTES.match(val)):
                self.err(f"{field}.{key}", f"invalid size {shown(val)}", hint="use e.g. 512Mb, 1Gb or 1Gi")
        gpu = r.get("GPU")
        if gpu not in (None, "") and not (isinstance(gpu, str) and gpu.isdigit()):
            self.err(
                f"{field}.GPU", f"must be an unsigned integer string, got {shown(gpu)}", hint='e.g. GPU: "1"'
            )

    def network(self, value: Any, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.err(field, "must be a mapping {Type, Domains, Ports}", hint="e.g. Network: {Type: None}")
            return
        self.unknown(value, ("Type", "Domains", "Ports"), field, "Network")
        ntype = field_value(value, "Type")
        canonical = next(
            (n for n in NETWORKS if isinstance(ntype, str) and n.lower() == ntype.strip().lower()), None
        )
        if canonical is None:
            self.err(
                f"{field}.Type",
                f"unknown network type {shown(ntype)}",
                hint=f"use one of {', '.join(NETWORKS)}",
            )
            return
        if field_value(value, "Domains") and canonical != "HTTP":
            self.err(
                f"{field}.Domains",
                "Domains are only allowed with Type: HTTP",
                hint="use Type: HTTP, or remove Domains",
            )
        if field_value(value, "Ports") and canonical not in ("Host", "Bridge"):
            self.err(
                f"{field}.Ports",
                "Ports are only allowed with Type: Host or Bridge",
                hint="use Type: Host or Bridge, or remove Ports",
            )

    def timeouts(self, value: Any, field: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            self.err(
                field,
                "must be a mapping of integer seconds",
                hint="e.g. Timeouts: {ExecutionTimeout: 1800, QueueTimeout: 600, TotalTimeout: 3600}",
            )
            return
        keys = ("ExecutionTimeout", "QueueTimeout", "TotalTimeout")
        self.unknown(value, keys, field, "Timeouts")
        t = canonical_fields(value, keys)
        ok = True
        for key, val in t.items():
            if not _is_int(val) or val < 0:
                self.err(
                    f"{field}.{key}",
                    f"must be whole seconds >= 0, got {shown(val)}",
                    hint="e.g. 1800 (not '30m')",
                )
                ok = False
        if ok:
            total = t.get("TotalTimeout", 0)
            used = t.get("ExecutionTimeout", 0) + t.get("QueueTimeout", 0)
            if total > 0 and used > total:
                self.err(
                    f"{field}.TotalTimeout",
                    f"ExecutionTimeout + QueueTimeout ({used}) exceeds TotalTimeout ({total})",
                    hint=f"raise TotalTimeout to at least {used}",
                )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_int_str(value: str) -> bool:
    return re.fullmatch(r"-?\d+", value) is not None


def pre_pulled_images(given: Sequence[str] | None = None) -> tuple[str, ...]:
    """The images the nodes pre-pull: ``given`` (``--pre-pulled-image``), else ``$EDGELOG_PRE_PULLED_IMAGES``
    (separated by spaces or commas), else () meaning the shipped job image at this edgelog's version."""
    if given:
        return tuple(given)
    return tuple(i for i in re.split(r"[\s,]+", os.environ.get(PRE_PULLED_ENV, "")) if i)


def shipped_job_image(image: str) -> bool:
    """``<registry>/.../edgelog-job:<this version>`` (optionally with its digest): the image jobs/Dockerfile
    builds for this release, which the deployment docs put in ``job_images``."""
    from edgelog import __version__

    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return "/" in image and name == f"{JOB_IMAGE_NAME}:{__version__}"


def image_problem(path: str | Path | None, image: str, pre_pulled: Sequence[str]) -> ConfigError | None:
    """Why the nodes could not start ``image`` (None when they can): Bacalhau runs a private image only if it
    is already on the node (pkg/docker PullImage inspects the local image first, and cannot log in to Artifact
    Registry), and the nodes pull exactly ``pre_pulled`` at boot (the shipped job image when empty)."""
    field = "Tasks[0].Engine.Params.Image"
    listing = "terraform -chdir=terraform output -json pre_pulled_images | jq -r 'join(\" \")'"
    fix = (
        "use an image the nodes pull at boot, exactly as listed; tell edgelog which they are with "
        f'--pre-pulled-image IMAGE (repeat) or {PRE_PULLED_ENV}="$({listing})"; to run another image, add '
        "it to the Terraform variable job_images and re-apply first"
    )
    if pre_pulled:
        if image in pre_pulled:
            return None
        return ConfigError(
            path,
            field,
            f"{shown(image)} is not one of the images the nodes pre-pull ({', '.join(pre_pulled)}): Bacalhau "
            "cannot pull it from a private registry, so every execution would fail",
            hint=fix,
        )
    if shipped_job_image(image):
        return None
    from edgelog import __version__

    return ConfigError(
        path,
        field,
        f"{shown(image)} is not the job image the nodes pre-pull by default "
        f"(REGISTRY/{JOB_IMAGE_NAME}:{__version__}, built from jobs/Dockerfile): Bacalhau cannot pull "
        "another image from a private registry, so every execution would fail",
        hint=fix,
    )


def check_image(path: str | Path | None, image: str, pre_pulled: Sequence[str]) -> None:
    """Raise :class:`SpecInvalid` when the nodes could not start ``image`` (see :func:`image_problem`)."""
    problem = image_problem(path, image, pre_pulled)
    if problem is not None:
        raise SpecInvalid(path, [problem])


def problems(
    job: dict[str, Any], *, path: str | Path | None = None, allow_list: Sequence[str] = DEFAULT_ALLOW_LIST
) -> list[ConfigError]:
    """Every problem in a parsed job spec (empty when it is valid)."""
    checker = _Checker(path, allow_list)
    checker.job(job)
    return checker.problems


def validate_job(
    job: dict[str, Any], *, path: str | Path | None = None, allow_list: Sequence[str] = DEFAULT_ALLOW_LIST
) -> None:
    """Raise :class:`SpecInvalid` listing every problem, or return when the spec is valid."""
    found = problems(job, path=path, allow_list=allow_list)
    if found:
        raise SpecInvalid(path, found)
