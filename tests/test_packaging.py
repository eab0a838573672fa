"""edgelog installed the way users install it: the wheel carries the SQL library and the job specs.

The top-level ``queries/`` and ``jobs/`` are the only copies in git; ``src/edgelog/data/{queries,jobs}`` are
symlinks to them, which setuptools follows when it builds the sdist and the wheel, and which an editable
install reads through. These tests prove there is no second copy to drift, that every file the library and
the job commands read is shipped, and that an edgelog installed from the wheel in a fresh virtualenv outside
the source tree runs the demo, lists the jobs and analyses logs.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest
from support.tools import REPO_ROOT
from typer.testing import CliRunner

from edgelog.analysis.library import MACROS_DIR, default_tags_file, load_library, load_macros, queries_dir
from edgelog.cli.main import app
from edgelog.jobs.spec import available_specs, jobs_dir

runner = CliRunner()
DATA = REPO_ROOT / "src" / "edgelog" / "data"
LINKS = {"queries": "queries", "jobs": "jobs"}  # src/edgelog/data/<name> -> <top-level dir>


def _shipped_globs() -> list[str]:
    """The package-data globs pyproject.toml ships for the edgelog package."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return config["tool"]["setuptools"]["package-data"]["edgelog"]


def _library_files() -> set[str]:
    """Every file the report library and the job commands read, relative to src/edgelog/."""
    wanted = {f"data/queries/{r.file.name}" for r in load_library()}
    wanted |= {f"data/queries/{MACROS_DIR}/{m.file.name}" for m in load_macros()}
    wanted.add(f"data/queries/{default_tags_file().name}")
    wanted |= {f"data/jobs/{name}.yaml" for name in available_specs()}
    return wanted


@pytest.fixture
def no_dir_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGELOG_QUERIES_DIR", raising=False)
    monkeypatch.delenv("EDGELOG_JOBS_DIR", raising=False)


def test_package_data_are_links_to_the_one_copy_in_git(no_dir_overrides: None) -> None:
    """One editable source of truth: the package's data directories are symlinks, committed as symlinks."""
    staged = subprocess.run(
        ["git", "ls-files", "-s", "src/edgelog/data"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    modes = {line.split("\t")[1]: line.split()[0] for line in staged}
    for name, target in LINKS.items():
        link = DATA / name
        assert link.is_symlink(), f"{link} must be a symlink to ../../../{target}"
        assert link.resolve() == (REPO_ROOT / target).resolve()
        assert modes.get(f"src/edgelog/data/{name}") == "120000", f"git must store {link} as a symlink"
    # and what the code locates is that one copy, found as package data
    package = files("edgelog") / "data"
    assert Path(str(package / "queries")).resolve() == (REPO_ROOT / "queries").resolve()
    assert queries_dir().resolve() == (REPO_ROOT / "queries").resolve()
    assert jobs_dir().resolve() == (REPO_ROOT / "jobs").resolve()


def test_package_data_globs_ship_exactly_what_edgelog_reads(no_dir_overrides: None) -> None:
    """A new report, macro file or spec ships without touching pyproject; nothing else (Dockerfile) does."""
    root = REPO_ROOT / "src" / "edgelog"
    matched = {
        p.relative_to(root).as_posix()
        for pattern in _shipped_globs()
        for p in root.glob(pattern)
        if p.is_file()
    }
    assert matched == _library_files()


def test_job_list_with_no_specs_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGELOG_JOBS_DIR", str(tmp_path))
    result = runner.invoke(app, ["job", "list"])
    assert result.exit_code == 2, result.output
    assert "no job specs" in result.output and str(tmp_path) in result.output
    assert "┃" not in result.output  # no empty table


def _copies(dockerfile: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context (the repository root)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        words = shlex.split(line.strip()) if line.strip().upper().startswith("COPY ") else []
        if words and not any(w.startswith("--from") for w in words):
            *sources, dest = [w for w in words[1:] if not w.startswith("--")]
            out.append((sources, dest))
    return out


@pytest.mark.parametrize("dockerfile", ["jobs/Dockerfile", "log-generator/Dockerfile"])
def test_images_install_the_package_data_through_its_links(dockerfile: str, no_dir_overrides: None) -> None:
    """Docker COPY keeps symlinks as symlinks: each image must copy the links' targets where they point."""
    image_files: set[str] = set()
    src_dest = None
    for sources, dest in _copies(REPO_ROOT / dockerfile):
        for source in sources:
            path = REPO_ROOT / source
            if source.rstrip("/") == "src":
                src_dest = dest.rstrip("/")
            if path.is_dir():
                image_files |= {
                    posixpath.join(dest, p.relative_to(path).as_posix())
                    for p in path.rglob("*")
                    if p.is_file()
                }
    assert src_dest is not None, f"{dockerfile} does not COPY src"
    for name in _library_files():  # data/queries/summary.sql, ...
        top, _, rest = name.removeprefix("data/").partition("/")
        link = f"{src_dest}/edgelog/data/{top}"
        target = posixpath.normpath(posixpath.join(posixpath.dirname(link), os.readlink(DATA / top)))
        assert posixpath.join(target, rest) in image_files, f"{dockerfile}: {name} dangles in the image"


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_venv_runs_the_demo(tmp_path: Path, samples_dir: Path) -> None:
    """`python -m build` (sdist, then the wheel from the sdist), a fresh venv outside the tree, the demo."""
    dist = tmp_path / "dist"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGELOG_", "VIRTUAL_ENV", "PYTHON"))}
    build = [sys.executable, "-m", "build", "--outdir", str(dist), str(REPO_ROOT)]
    built = _run(build, cwd=tmp_path, env=env)
    # setuptools announced that builds using deprecated pyproject forms stop working (2027-02-18 for the
    # license table): a build must not warn of any.
    assert "deprecated" not in built.lower(), built
    (sdist,) = dist.glob("edgelog-*.tar.gz")
    (wheel,) = dist.glob("edgelog-*.whl")

    # Both archives hold the library and the specs as real files, byte for byte the ones in git.
    with zipfile.ZipFile(wheel) as zf:
        (metadata,) = (n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        assert "License-Expression: Apache-2.0" in zf.read(metadata).decode().splitlines()
        in_wheel = {n.removeprefix("edgelog/") for n in zf.namelist() if n.startswith("edgelog/data/")}
        assert in_wheel == _library_files()
        for name in in_wheel:
            source = (REPO_ROOT / "src" / "edgelog" / name).read_bytes()
            assert zf.read(f"edgelog/{name}") == source, f"{name} differs in the wheel"
    with tarfile.open(sdist) as tf:
        members = {m.name.split("/", 1)[1]: m for m in tf.getmembers() if "/" in m.name}
        for name in _library_files():
            member = members.get(f"src/edgelog/{name}")
            assert member is not None and member.isfile(), f"{name} is not a file in the sdist"

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    constraints = REPO_ROOT / "log-generator" / "constraints.txt"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(constraints), str(wheel)]
    _run(pip, cwd=tmp_path, env=env)
    edgelog = str(venv / "bin" / "edgelog")
    env_run = {
        **env,
        "EDGELOG_HOME": str(tmp_path / "home"),
        "PATH": f"{venv / 'bin'}:{env['PATH']}",
        "COLUMNS": "200",  # table cells unfolded
    }

    located = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from edgelog.analysis.library import queries_dir; print(queries_dir())",
        ],
        cwd=tmp_path,
        env=env_run,
    )
    assert str(venv) in located and str(REPO_ROOT) not in located  # the installed copy, not the checkout

    listed = _run([edgelog, "job", "list"], cwd=tmp_path, env=env_run)
    for name in available_specs():
        assert name in listed
    demo = _run([edgelog, "demo", "--nodes", "2", "--hours", "0.25"], cwd=tmp_path, env=env_run)
    assert "HTML report:" in demo
    out = tmp_path / "analyzed"
    analyzed = _run(
        [edgelog, "analyze", str(samples_dir / "nginx_small.log"), "--out", str(out)],
        cwd=tmp_path,
        env=env_run,
    )
    assert "analyze ok" in analyzed
    assert (out / "reports" / "summary.parquet").is_file()
