"""Rotation: the real edgelog-rotate wrapper, real logrotate and the real `edgelog generate live`.

The soak tests are the acceptance test of the whole design: the generator writes >= 10,000 lines/s while the
wrapper forces a rotation every 0.5 s, and afterwards every written line is in exactly one file, every
published file is complete, and no temporary file is left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.rotation import (
    PRUNE,
    PUBLISH,
    ROTATION_DIR,
    WRAPPER,
    Generator,
    Layout,
    all_lines,
    check_published,
    json_request_ids,
    make_layout,
    read_lines,
    rotate,
)
from support.tools import require_tool

from edgelog.naming import parse_rotated_name, rotated_name

pytestmark = pytest.mark.needs_tool("logrotate", "gzip", "flock")


# --- configuration ----------------------------------------------------------------------------------------


def test_template_is_safe_inside_terraform_templates() -> None:
    text = (ROTATION_DIR / "logrotate.conf.tmpl").read_text()
    assert "${" not in text and "%{" not in text
    assert "copytruncate" in text and "nocopytruncate" in text  # rename only: copytruncate explicitly off
    assert re.search(r"^\s*copytruncate\s*$", text, re.M) is None


def test_rendered_config_is_valid_logrotate(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    out = subprocess.run(
        [str(WRAPPER), "--render"], env=layout.env(), capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"@[A-Z_]+@", out) is None
    assert f'"{layout.live}/*.log" {{' in out
    assert f"olddir {layout.staging}" in out
    assert "dateformat -%Y%m%dT%H%M%SZ" in out and "extension .log" in out
    assert "notifempty" in out and "nocreate" in out
    assert f'"{ROTATION_DIR}/edgelog-publish" "$2" "$1"' in out
    layout.staging.mkdir()  # the wrapper creates it before running logrotate
    layout.live_file.write_text("x\n")
    conf = tmp_path / "rendered.conf"
    conf.write_text(out)
    conf.chmod(0o600)
    # logrotate's own parser: debug mode parses everything and changes nothing.
    res = subprocess.run(
        ["logrotate", "-d", "-s", str(tmp_path / "st"), str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "error" not in res.stderr.lower(), res.stderr
    assert "Handling 1 logs" in res.stderr and f"considering log {layout.live_file}" in res.stderr


def test_format_sets_extension_and_su_directive(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    env = layout.env(EDGELOG_FORMAT="json", EDGELOG_ROTATE_SU="nobody nogroup")
    del env["EDGELOG_LOG_EXTENSION"]
    out = subprocess.run(
        [str(WRAPPER), "--render"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f'"{layout.live}/*.jsonl" {{' in out and "extension .jsonl" in out
    assert "\nsu nobody nogroup\n" in out


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("EDGELOG_OUTPUT_DIR", "relative/out", "EDGELOG_OUTPUT_DIR"),
        ("EDGELOG_LIVE_DIR", "/tmp/x y", "EDGELOG_LIVE_DIR"),
        ("EDGELOG_COMPRESS", "yes", "EDGELOG_COMPRESS must be 0 or 1"),
        ("EDGELOG_REOPEN_TIMEOUT", "soon", "EDGELOG_REOPEN_TIMEOUT"),
        ("EDGELOG_STAGING_KEEP", "0", "EDGELOG_STAGING_KEEP"),
    ],
)
def test_bad_settings_fail_clearly(tmp_path: Path, var: str, value: str, message: str) -> None:
    layout = make_layout(tmp_path, tmp_path)
    res = rotate(layout, **{var: value})
    assert res.returncode == 1
    assert re.search(r" ERROR edgelog-rotate\[\d+\] config: ", res.stderr) and message in res.stderr
    assert "Traceback" not in res.stderr


def test_staging_on_other_filesystem_is_refused(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("/dev/shm is not a separate filesystem here")
    layout = make_layout(tmp_path, tmp_path)
    staging = Path(tempfile.mkdtemp(dir=shm))
    try:
        res = rotate(layout, EDGELOG_STAGING_DIR=str(staging))
    finally:
        shutil.rmtree(staging)
    assert res.returncode == 1
    assert "is not on the filesystem of" in res.stderr


# --- publishing -------------------------------------------------------------------------------------------


def test_untracked_file_is_rotated_and_published_complete(tmp_path: Path) -> None:
    """A file no status file tracks (another writer) is published once it stopped changing."""
    layout = make_layout(tmp_path, tmp_path)
    lines = [f"line {i}".encode() for i in range(1000)]
    layout.live_file.write_bytes(b"\n".join(lines) + b"\n")
    before = datetime.now(UTC).replace(microsecond=0)
    res = rotate(layout)
    assert res.returncode == 0, res.stderr
    (pub,) = check_published(layout, gz=True)
    parsed = parse_rotated_name(pub.name)
    assert parsed is not None
    assert before <= parsed.rotated_at <= datetime.now(UTC)
    assert read_lines(pub) == lines
    assert not layout.live_file.exists()
    assert list(layout.staging.iterdir()) == []
    assert "published" in res.stderr and "run ok" in res.stderr


def test_empty_live_file_is_not_rotated(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    layout.live_file.touch()
    res = rotate(layout)
    assert res.returncode == 0, res.stderr
    assert layout.published() == []
    assert layout.live_file.exists()


def test_uncompressed_same_filesystem_publish_is_a_hard_link(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    layout.live_file.write_bytes(b"a\nb\n")
    ino = layout.live_file.stat().st_ino
    res = rotate(layout, EDGELOG_COMPRESS="0")
    assert res.returncode == 0, res.stderr
    (pub,) = check_published(layout, gz=False)
    assert pub.stat().st_ino == ino  # no copy: the renamed inode itself was linked into the output
    assert pub.stat().st_nlink == 1  # and the staging name is gone
    assert read_lines(pub) == [b"a", b"b"]


def _staged(layout: Layout, stamp: datetime, content: bytes) -> Path:
    layout.staging.mkdir(parents=True, exist_ok=True)
    path = layout.staging / rotated_name(layout.node, stamp)
    path.write_bytes(content)
    return path


def test_publish_never_overwrites_and_is_idempotent(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    taken = layout.out / (rotated_name(layout.node, stamp) + ".gz")
    subprocess.run(["gzip", "-c"], input=b"other\n", stdout=taken.open("wb"), check=True)
    env = layout.env()

    src = _staged(layout, stamp, b"mine\n")
    res = subprocess.run([str(PUBLISH), str(src)], env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    bumped = layout.out / (rotated_name(layout.node, stamp + timedelta(seconds=1)) + ".gz")
    assert read_lines(taken) == [b"other"]  # untouched
    assert read_lines(bumped) == [b"mine"]
    assert "already exists" in res.stderr
    assert not src.exists()

    # A repeated publish of content that is already there (crash between link and unlink) only cleans up.
    src = _staged(layout, stamp + timedelta(seconds=1), b"mine\n")
    res = subprocess.run([str(PUBLISH), str(src)], env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "already holds" in res.stderr
    assert not src.exists()
    assert len(layout.published()) == 2


def test_cross_device_uncompressed_publish_copies_atomically(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("/dev/shm is not a separate filesystem here")
    live_root = Path(tempfile.mkdtemp(dir=shm))
    try:
        layout = make_layout(live_root, tmp_path)
        assert layout.live.stat().st_dev != layout.out.stat().st_dev
        layout.live_file.write_bytes(b"x\n" * 100)
        res = rotate(layout, EDGELOG_COMPRESS="0")
        assert res.returncode == 0, res.stderr
        (pub,) = check_published(layout, gz=False)
        assert read_lines(pub) == [b"x"] * 100
        assert list(layout.staging.iterdir()) == []
    finally:
        shutil.rmtree(live_root)


def test_interrupted_run_temporaries_are_cleaned(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    stale = layout.out / ".access-n1-20260101T000000Z.log.gz.edgelog-tmp.123"
    stale.write_bytes(b"partial")
    foreign = layout.out / ".keep-me"
    foreign.write_bytes(b"")
    res = rotate(layout)
    assert res.returncode == 0, res.stderr
    assert not stale.exists()
    assert foreign.exists()
    assert "left by an interrupted run" in res.stderr


# --- retention --------------------------------------------------------------------------------------------


def test_retention_by_age_count_size_and_free_space(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    stamps = [now - timedelta(days=10), now - timedelta(days=3)] + [
        now - timedelta(minutes=m) for m in (40, 30, 20, 10)
    ]
    names = [rotated_name("n1", s) + ".gz" for s in stamps]
    for name in names:
        (layout.out / name).write_bytes(b"x" * 600_000)
    foreign = layout.out / "notes.txt"
    foreign.write_text("not a rotated file")
    temp = layout.out / ".access-n1-20000101T000000Z.log.gz.edgelog-tmp.1"
    temp.write_bytes(b"")

    def prune(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PRUNE)], env=layout.env(**env), capture_output=True, text=True, check=False
        )

    def present() -> list[str]:
        return [n for n in names if (layout.out / n).exists()]

    res = prune(EDGELOG_RETENTION_DAYS="7", EDGELOG_RETENTION_COUNT="0")
    assert res.returncode == 0, res.stderr
    assert present() == names[1:]
    assert "older than 7 days" in res.stderr

    assert prune(EDGELOG_RETENTION_DAYS="0", EDGELOG_RETENTION_COUNT="4").returncode == 0
    assert present() == names[2:]

    # 4 files of 600 kB: a 1 MiB cap keeps the newest only.
    res = prune(EDGELOG_RETENTION_DAYS="0", EDGELOG_RETENTION_COUNT="0", EDGELOG_MAX_OUTPUT_MB="1")
    assert res.returncode == 0, res.stderr
    assert present() == names[-1:]

    (layout.out / names[-2]).write_bytes(b"x")
    res = prune(EDGELOG_RETENTION_DAYS="0", EDGELOG_RETENTION_COUNT="0", EDGELOG_MIN_FREE_PERCENT="99")
    assert res.returncode == 0, res.stderr
    assert present() == names[-1:]  # the newest is always kept, and the shortage is reported
    assert "nothing more to remove" in res.stderr
    assert foreign.exists() and temp.exists()


# --- with the real generator ------------------------------------------------------------------------------


class Reader(threading.Thread):
    """A job's view of logs_to_process during the soak: reads every visible (non-dot) file the moment it
    appears and remembers its digest; a file published before it was complete would differ from its final
    content (or fail to decompress)."""

    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out = out
        self.stop = threading.Event()
        self.seen: dict[str, str] = {}
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for path in self.out.iterdir():
                if path.name.startswith(".") or path.name in self.seen:
                    continue
                try:
                    self.seen[path.name] = hashlib.sha256(b"\n".join(read_lines(path))).hexdigest()
                except FileNotFoundError:
                    continue  # removed by retention between listing and reading
                except (OSError, EOFError, AssertionError) as exc:
                    self.errors.append(f"{path.name}: {exc!r}")
                    self.seen[path.name] = "unreadable"
            self.stop.wait(0.01)


def _soak(layout: Layout, *, compress: str, rate: float = 12000, seconds: float = 10.0) -> None:
    """Generator at `rate` lines/s, forced rotation every 0.5 s for `seconds`; then check zero loss."""
    layout.extra_env["EDGELOG_COMPRESS"] = compress
    layout.extra_env["EDGELOG_GZIP_LEVEL"] = "1"  # correctness does not depend on the level; spare the CPU
    gen = Generator(layout, rate=rate, fmt="json")
    runs: list[subprocess.CompletedProcess[str]] = []
    reader = Reader(layout.out)
    reader.start()
    try:
        # Measured from the generator's first status on: the traffic must run at full rate from its first
        # second (the visits in progress at the start are sampled, not simulated; no ramp-up from zero).
        first = gen.wait_running()
        t0, lines0 = first["updated_ts"], first["lines"]
        runs.append(rotate(layout))
        # A forced run every 0.5 s (at once when the previous one ran longer); bounded in time and count.
        start = time.monotonic()
        next_run = start
        while time.monotonic() < start + seconds and len(runs) < 60:
            time.sleep(max(0.0, next_run - time.monotonic()))
            next_run += 0.5
            runs.append(rotate(layout))
        mid = gen.status()
        achieved = (mid["lines"] - lines0) / max(mid["updated_ts"] - t0, 1e-9)
        final = gen.stop()
    finally:
        gen.kill()
    runs.append(rotate(layout))  # publishes the last file; the generator's final status says "stopped"
    time.sleep(0.2)
    reader.stop.set()
    reader.join(timeout=30)

    print(
        f"soak: {len(runs)} forced runs, {achieved:.0f} lines/s (requested {rate:.0f}), "
        f"{final['lines']} lines, {final['reopens']} reopens, {len(layout.published())} published files, "
        f"start-up {final['startup_seconds']:.2f}s"
    )
    failed = [r.stderr for r in runs if r.returncode != 0]
    assert not failed, failed[0]
    # The traffic's own clock: lines stamped in the first 10 s after the first line. A ramp-up from zero
    # showed as ~3,700 lines/s there. (The wall-clock figure above also depends on how much CPU a shared
    # machine leaves the generator; lines written late still carry their planned time.)
    stamps = sorted(
        datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
        for lines in all_lines(layout).values()
        for line in lines
    )
    first_10s = sum(1 for t in stamps if t < stamps[0] + 10) / 10
    print(f"soak: {first_10s:.0f} lines/s stamped in the first 10 s")
    assert 0.9 * rate <= first_10s <= 1.1 * rate, (
        f"{first_10s:.0f} lines/s in the first 10 s, asked for {rate:.0f}"
    )
    assert final["write_errors"] == 0 and final.get("dropped_lines", 0) == 0, final
    assert final["reopens"] >= len(runs) - 2, final

    files = check_published(layout, gz=compress == "1")
    assert len(files) >= 5, [f.name for f in files]
    assert [f.name for f in files] == sorted(f.name for f in files)
    assert list(layout.staging.iterdir()) == []
    assert not reader.errors, reader.errors
    assert set(reader.seen) == {f.name for f in files}
    for f in files:  # what a reader saw first is the whole, final file
        assert reader.seen[f.name] == hashlib.sha256(b"\n".join(read_lines(f))).hexdigest(), f.name
    lines = all_lines(layout)
    ids = json_request_ids(lines)
    assert len(ids) == final["lines"], f"{len(ids)} lines on disk, generator wrote {final['lines']}"
    assert len(set(ids)) == len(ids), "a line appears twice"
    check_soak_metrics(layout, final, runs=len(runs), published=files)


def check_soak_metrics(layout: Layout, final: dict, *, runs: int, published: list[Path]) -> None:
    """The metrics both sides wrote next to the status file pass promtool and agree with what happened."""
    from prometheus_client.parser import text_string_to_metric_families

    promtool = require_tool("promtool")
    values: dict[str, float] = {}
    for name in ("edgelog-rotate.prom", f"edgelog-generator-{layout.live_file.name.split('.')[0]}.prom"):
        text = (layout.state / name).read_text()
        res = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), res.stdout + res.stderr
        values |= {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert values["edgelog_rotation_runs_total"] == runs and values["edgelog_rotation_failures_total"] == 0
    assert values["edgelog_rotation_published_files_total"] == len(published)
    assert values["edgelog_rotation_published_bytes_total"] == sum(p.stat().st_size for p in published)
    assert values["edgelog_generator_lines_written_total"] == final["lines"]
    assert values["edgelog_generator_reopens_total"] == final["reopens"]


@pytest.mark.slow
@pytest.mark.needs_tool("promtool")
def test_zero_loss_soak_same_filesystem_gzip(tmp_path: Path) -> None:
    _soak(make_layout(tmp_path, tmp_path, ext=".jsonl"), compress="1")


@pytest.mark.slow
@pytest.mark.needs_tool("promtool")
def test_zero_loss_soak_cross_device(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm")
    live_root = Path(tempfile.mkdtemp(dir=shm, prefix="edgelog-soak-"))
    try:
        layout = make_layout(live_root, tmp_path, ext=".jsonl")
        if layout.live.stat().st_dev == layout.out.stat().st_dev:
            pytest.skip("/dev/shm and the test's tmp directory are the same filesystem here")
        _soak(layout, compress="0")
    finally:
        shutil.rmtree(live_root)


def test_two_runs_in_the_same_second_lose_nothing(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path, ext=".jsonl")
    gen = Generator(layout, rate=300, fmt="json")
    waited = False
    try:
        gen.wait_running()
        for _attempt in range(3):
            # Start both runs just after a second boundary: the second one waits for the lock, then for the
            # next second, instead of failing on logrotate's "destination already exists".
            time.sleep(1.02 - (time.time() % 1.0))
            procs = [
                subprocess.Popen(
                    [str(WRAPPER)],
                    env=layout.env(),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            results = [p.communicate(timeout=60) for p in procs]
            for p, (_out, err) in zip(procs, results, strict=True):
                assert p.returncode == 0, err
            waited = any("waited" in err for _out, err in results)
            if waited:
                break
        final = gen.stop()
    finally:
        gen.kill()
    assert rotate(layout).returncode == 0
    assert waited, "the two runs never overlapped within one second in 3 attempts"
    files = check_published(layout, gz=True)
    stamps = [parse_rotated_name(f.name).rotated_at for f in files]  # type: ignore[union-attr]
    assert len(set(stamps)) == len(stamps)
    ids = json_request_ids(all_lines(layout))
    assert len(ids) == final["lines"] and len(set(ids)) == len(ids)


def test_run_killed_between_rename_and_record_does_not_make_the_next_run_collide(tmp_path: Path) -> None:
    """A run SIGKILLed after logrotate renamed a file into staging but before it recorded its end second
    leaves a staged file stamped with this second: the next run must wait for a new second instead of having
    logrotate refuse the existing destination. (Runs within one second when the machine is not overloaded.)"""
    layout = make_layout(tmp_path, tmp_path)
    layout.live_file.write_text("new\n")
    layout.staging.mkdir(exist_ok=True)
    time.sleep(1.02 - time.time() % 1)  # the start of a fresh second
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (layout.staging / f"access-n1-{stamp}.log").write_text("left by the killed run\n")
    res = rotate(layout)
    assert res.returncode == 0, res.stderr
    assert "already exists" not in res.stderr
    published = [read_lines(p) for p in layout.published()]
    assert sorted(published) == [[b"left by the killed run"], [b"new"]]


def test_writer_that_does_not_reopen_keeps_file_in_staging_until_it_does(tmp_path: Path) -> None:
    """A stopped (SIGSTOP) generator cannot reopen: the run times out and fails, the file waits in staging
    (never published while it could still grow); once the generator continues, the next run publishes it."""
    layout = make_layout(tmp_path, tmp_path, ext=".jsonl")
    gen = Generator(layout, rate=300, fmt="json")
    try:
        gen.wait_running()
        gen.pause()
        res = rotate(layout, EDGELOG_REOPEN_TIMEOUT="1.5", EDGELOG_SEND_HUP="never")
        assert res.returncode == 1
        assert "timed out after 1.5s waiting for the writer" in res.stderr
        assert layout.published() == []
        (stuck,) = list(layout.staging.iterdir())
        gen.resume()
        time.sleep(0.5)
        res = rotate(layout)
        assert res.returncode == 0, res.stderr
        assert "publishing leftover" in res.stderr or not stuck.exists()
        assert not stuck.exists()
        final = gen.stop()
    finally:
        gen.kill()
    assert rotate(layout).returncode == 0
    check_published(layout, gz=True)
    ids = json_request_ids(all_lines(layout))
    assert len(ids) == final["lines"] and len(set(ids)) == len(ids)


def test_sighup_is_sent_when_the_generator_is_slow_to_reopen(tmp_path: Path) -> None:
    """While paused, the generator cannot notice the rename; the HUP it gets after 1 s makes it reopen at
    once when it continues (the pid in its status file is visible and is `edgelog generate live`)."""
    layout = make_layout(tmp_path, tmp_path, ext=".jsonl")
    gen = Generator(layout, rate=200, fmt="json")
    try:
        gen.wait_running()
        gen.pause()
        proc = subprocess.Popen(
            [str(WRAPPER)], env=layout.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(2.0)
        gen.resume()
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert f"sent SIGHUP to generator pid {gen.proc.pid}" in err
        final = gen.stop()
    finally:
        gen.kill()
    assert rotate(layout).returncode == 0
    ids = json_request_ids(all_lines(layout))
    assert len(ids) == final["lines"] and len(set(ids)) == len(ids)


def test_rotate_loop_runs_on_interval_and_stops_on_sigterm(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    layout.live_file.write_bytes(b"one\n")
    env = layout.env(EDGELOG_ROTATE_INTERVAL="1")
    proc = subprocess.Popen(
        [str(ROTATION_DIR / "edgelog-rotate-loop")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (layout.state / "rotate.last-ok").exists():
            time.sleep(0.1)
        assert (layout.state / "rotate.last-ok").exists()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping on signal" in err
    (pub,) = check_published(layout, gz=True)
    assert read_lines(pub) == [b"one"]


def test_wrapper_help_and_unknown_argument() -> None:
    res = subprocess.run([str(WRAPPER), "--help"], capture_output=True, text=True, check=False)
    assert res.returncode == 0 and "logrotate" in res.stdout and "EDGELOG_ENV_FILE" in res.stdout
    res = subprocess.run([str(WRAPPER), "--bogus"], capture_output=True, text=True, check=False)
    assert res.returncode == 2 and "unknown argument" in res.stderr


def test_env_file_is_sourced(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    env_file = tmp_path / "edgelog-rotate.env"
    env_file.write_text(f"EDGELOG_LIVE_GLOB='*.txt'\nEDGELOG_OUTPUT_DIR={layout.out}\n")
    env = layout.env(EDGELOG_ENV_FILE=str(env_file))
    out = subprocess.run(
        [str(WRAPPER), "--render"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f'"{layout.live}/*.txt" {{' in out


def test_every_setting_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "rotation.md").read_text()
    used: set[str] = set()
    for script in ROTATION_DIR.iterdir():
        if script.is_file():
            used |= set(re.findall(r"\b(EDGELOG_[A-Z_]+)\b", script.read_text()))
    internal = {"EDGELOG_ROTATED_RE", "EDGELOG_RUN_REPORT", "EDGELOG_PRUNE_REPORT", "EDGELOG_LOG_FD",
                "EDGELOG_ROTATION_LIB"}  # fmt: skip
    missing = sorted(v for v in used - internal if f"`{v}`" not in doc)
    assert not missing, f"undocumented in docs/rotation.md: {missing}"
    assert os.access(WRAPPER, os.X_OK) and os.access(PUBLISH, os.X_OK) and os.access(PRUNE, os.X_OK)


def _owned_layout(root: Path, uid: int) -> Layout:
    root.mkdir(mode=0o755)
    layout = make_layout(root, root)
    for d in (root, layout.live, layout.out, layout.state):
        os.chown(d, uid, uid)
    layout.live_file.write_bytes(b"a\nb\n")
    os.chown(layout.live_file, uid, uid)
    return layout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_node_and_container_privileges(tmp_path: Path) -> None:
    """Node: cron runs the wrapper as root over a live directory the container's uid owns. Container: the
    sidecar runs it as that (non-root) uid. Both rotate and publish with the same scripts."""
    require_tool("setpriv")
    uid = 65534
    base = Path(tempfile.mkdtemp(prefix="edgelog-priv-"))
    base.chmod(0o755)
    try:
        node = _owned_layout(base / "node", uid)
        res = rotate(node)
        assert res.returncode == 0, res.stderr
        (pub,) = check_published(node, gz=True)
        assert read_lines(pub) == [b"a", b"b"]

        sidecar = _owned_layout(base / "sidecar", uid)
        res = subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", str(WRAPPER)],
            env=sidecar.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        (pub,) = check_published(sidecar, gz=True)
        assert pub.stat().st_uid == uid
        assert read_lines(pub) == [b"a", b"b"]
    finally:
        shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_unwritable_output_keeps_the_file_for_the_next_run(tmp_path: Path) -> None:
    """Publishing fails (output not writable): the run fails loudly, the file waits in staging, and the first
    run after the fix publishes it."""
    require_tool("setpriv")
    uid = 65534
    base = Path(tempfile.mkdtemp(prefix="edgelog-ro-"))
    base.chmod(0o755)
    try:
        layout = _owned_layout(base / "n", uid)
        os.chown(layout.out, 0, 0)

        def run() -> subprocess.CompletedProcess[str]:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", str(WRAPPER)]
            return subprocess.run(
                cmd, env=layout.env(), capture_output=True, text=True, timeout=60, check=False
            )

        res = run()
        assert res.returncode == 1
        assert "Permission denied" in res.stderr and "run failed" in res.stderr
        assert "unexpected failure" not in res.stderr
        assert layout.published() == [] and layout.temporaries() == []
        (stuck,) = list(layout.staging.iterdir())
        os.chown(layout.out, uid, uid)
        res = run()
        assert res.returncode == 0, res.stderr
        (pub,) = check_published(layout, gz=True)
        assert pub.name == stuck.name + ".gz" and read_lines(pub) == [b"a", b"b"]
    finally:
        shutil.rmtree(base)


def test_every_format_is_rotated_when_no_format_is_configured(tmp_path: Path) -> None:
    """A node's rotation need not know the generator's format: .log, .jsonl and .csv live files all rotate."""
    layout = make_layout(tmp_path, tmp_path)
    env = layout.env()
    del env["EDGELOG_LOG_EXTENSION"]
    live = {
        "access-n1.log": b"combined\n",
        "access-n1.jsonl": b'{"request_id": "r1"}\n',
        "access-n1.csv": b"ts,request_id\nx,r2\n",
    }
    for name, data in live.items():
        (layout.live / name).write_bytes(data)
    res = subprocess.run([str(WRAPPER)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    published = {parse_rotated_name(p.name).ext: p for p in layout.published()}  # type: ignore[union-attr]
    assert set(published) == {".log", ".jsonl", ".csv"}
    for name, data in live.items():
        pub = published[Path(name).suffix]
        assert read_lines(pub) == data.splitlines()
        assert not (layout.live / name).exists()
    bad = layout.env(EDGELOG_LOG_EXTENSION=".log .csv", EDGELOG_LIVE_GLOB="access-*")
    res = subprocess.run([str(WRAPPER), "--render"], env=bad, capture_output=True, text=True, check=False)
    assert res.returncode == 1 and "EDGELOG_LIVE_GLOB needs a single EDGELOG_LOG_EXTENSION" in res.stderr


def test_installed_copy_works_through_a_symlink(tmp_path: Path) -> None:
    """As cloud-init installs it: the directory copied elsewhere, the wrapper called through a symlink, no
    reference back to the repository."""
    installed = tmp_path / "opt" / "edgelog" / "rotation"
    shutil.copytree(ROTATION_DIR, installed)
    link = tmp_path / "sbin" / "edgelog-rotate"
    link.parent.mkdir()
    link.symlink_to(installed / "edgelog-rotate")
    layout = make_layout(tmp_path / "n", tmp_path / "n")
    layout.live_file.write_bytes(b"l1\nl2\n")
    env = layout.env()
    rendered = subprocess.run(
        [str(link), "--render"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f'"{installed}/edgelog-publish"' in rendered and str(ROTATION_DIR) not in rendered
    res = subprocess.run([str(link)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    (pub,) = check_published(layout, gz=True)
    assert read_lines(pub) == [b"l1", b"l2"]


@pytest.mark.slow
def test_runs_killed_at_random_points_lose_nothing(tmp_path: Path) -> None:
    """SIGKILL the wrapper (with logrotate, gzip and the publish script) at random moments while the
    generator writes: whatever that leaves (file in staging, temporary in the output, file both published
    and still staged, logrotate state half-written), later clean runs finish the job without losing or
    duplicating a line and without exposing a partial file."""
    import random

    rng = random.Random(1234)
    layout = make_layout(tmp_path, tmp_path, ext=".jsonl")
    gen = Generator(layout, rate=2000, fmt="json")
    killed = 0
    try:
        gen.wait_running()
        deadline = time.monotonic() + 20
        for _ in range(25):
            if time.monotonic() > deadline:
                break
            proc = subprocess.Popen(
                [str(WRAPPER)],
                env=layout.env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            time.sleep(rng.uniform(0.0, 0.4))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                killed += 1
            proc.wait(timeout=30)
            time.sleep(0.1)
        # Clean runs while the generator still writes: each must succeed.
        for _ in range(3):
            res = rotate(layout)
            assert res.returncode == 0, res.stderr
            time.sleep(0.3)
        final = gen.stop()
    finally:
        gen.kill()
    res = rotate(layout)
    assert res.returncode == 0, res.stderr
    assert killed >= 5, f"only {killed} runs were killed mid-way"
    check_published(layout, gz=True)
    assert list(layout.staging.iterdir()) == []
    ids = json_request_ids(all_lines(layout))
    assert len(ids) == final["lines"], f"{len(ids)} lines on disk, generator wrote {final['lines']}"
    assert len(set(ids)) == len(ids), "a line appears twice"


def test_retention_prunes_the_parse_cache_written_before_the_oldest_kept_file(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    old, kept = now - timedelta(days=10), now - timedelta(days=2)
    for stamp in (old, kept):
        (layout.out / (rotated_name("n1", stamp) + ".gz")).write_bytes(b"x")
    cache = tmp_path / "parse-cache"
    (cache / "ab").mkdir(parents=True)

    def entry(name: str, written: datetime) -> Path:
        path = cache / "ab" / name
        path.write_bytes(b"entry")
        os.utime(path, (written.timestamp(), written.timestamp()))
        return path

    gone = [entry("ab1.parquet", old + timedelta(minutes=1)), entry("ab1.json", old + timedelta(minutes=1))]
    stays = [
        entry("ab2.parquet", kept + timedelta(minutes=1)),
        entry("ab2.json", kept + timedelta(minutes=1)),
    ]
    dead_tmp = entry(".ab3.x.parquet", now - timedelta(hours=2))
    live_tmp = entry(".ab4.y.parquet", now - timedelta(minutes=1))
    other = entry("README", old)
    res = subprocess.run(
        [str(PRUNE)],
        env=layout.env(EDGELOG_RETENTION_DAYS="7", EDGELOG_PARSE_CACHE_DIR=str(cache)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert not any(p.exists() for p in [*gone, dead_tmp])
    assert all(p.exists() for p in [*stays, live_tmp, other])
    assert "removed 3 parse-cache file(s)" in res.stderr
