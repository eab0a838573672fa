"""Benchmark: ``edgelog merge`` of 10 .. 1,000 realistic node results; the per-node cost must stay flat.

Builds (once, cached in ``bench/.cache/merge/``) ``--bases`` distinct node results with ``edgelog analyze``
over an hour of generator traffic each (``--rate`` requests/s, ~0.5 MB of partials per node at the default),
then derives up to ``--nodes`` node results from them: node ``i`` is base ``i % bases`` renamed to
``node-<i>`` (node ids, file names and the manifest, with checksums, rewritten; its run id and input sha256s
are made its own, since merge refuses one run or the same input bytes twice) and given visitors of its own:
every visitor key of its partials (``vh``, the sessions' ``visitor``) is rehashed with the node's name, as
on a fleet whose nodes each serve their own clients, so a merge of N nodes holds N nodes' distinct (path,
visitor) rows. ``--shared-visitors`` keeps the base's partials byte for byte instead: every tenth node then
repeats a base's visitors, and the merged tables stay as small as ten nodes' (the bench before this option; an
optimistic figure, for comparison). Each size is then merged as a separate process under ``/usr/bin/time``,
and the curve printed: wall seconds, seconds per node, the marginal cost per node against the previous size,
and peak RSS. The reference is the smallest size in the same run: the per-node cost at 1,000 nodes divided by
the one at the smallest size is the ratio that must stay near 1 (goal, issue 13: 1,000 nodes < 10 s and < 1
GiB).

    .venv/bin/python bench/merge.py                        # 10, 30, 100, 300, 1000 nodes
    .venv/bin/python bench/merge.py --sizes 2,4 --bases 2 --rate 2   # what the test suite runs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analyze import CACHE, EDGELOG, timed_cpu

from edgelog import resultdir
from edgelog.fileio import hash_file

NODE_TABLES = ("partials/files.parquet", "partials/nodes.parquet", resultdir.QUARANTINE)


def base_results(root: Path, bases: int, rate: float) -> list[Path]:
    """``bases`` node results of one hour of traffic each (distinct seeds), analysed once and cached."""
    from edgelog.analysis import analyze
    from edgelog.generator import backfill, load_config

    out = []
    for b in range(bases):
        d = root / f"base-{b}"
        if not (d / resultdir.MANIFEST).is_file():
            with tempfile.TemporaryDirectory(dir=root) as tmp:
                backfill(
                    load_config(None), tmp, node=f"base-{b}", start=datetime(2026, 11, 23, tzinfo=UTC),
                    duration=timedelta(hours=1), seed=100 + b, rate=rate,
                )  # fmt: skip
                shutil.rmtree(d, ignore_errors=True)
                analyze([tmp], d)
        out.append(d)
    return out


def derive(base: Path, dest: Path, node: str, *, own_visitors: bool) -> None:
    """``base``'s result as if node ``node`` had produced it (ids, file names, checksums rewritten; a run id
    and input sha256s of its own, or merge would refuse it as the base's run counted twice), with visitors
    of its own (``own_visitors``: every visitor key rehashed with the node's name) or the base's."""
    part = dest.with_name("." + dest.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    shutil.copytree(base, part, copy_function=shutil.copy)
    old = json.loads((base / resultdir.MANIFEST).read_text())["node_id"]
    con = duckdb.connect()
    rewrites = {  # column -> its value on the derived node; other columns are the base's
        "node_id": f"'{node}'",
        "name": f"replace(name, '{old}', '{node}')",
        "file": f"replace(file, '{old}', '{node}')",
    }
    if own_visitors:
        rewrites |= {"vh": f"hash(vh, '{node}')", "visitor": f"visitor || '/{node}'"}
    tables = list(NODE_TABLES)
    if own_visitors:
        tables += sorted(str(p.relative_to(base)) for p in (base / "partials").glob("*.parquet"))
    for rel in dict.fromkeys(tables):
        src = base / rel
        cols = con.execute(f"SELECT * FROM read_parquet('{src}') LIMIT 0").description
        names = [c[0] for c in cols]
        if rel not in NODE_TABLES and not {"vh", "visitor"} & set(names):
            continue
        select = ", ".join(f"{rewrites[c]} AS {c}" if c in rewrites else c for c in names)
        con.execute(
            f"COPY (SELECT {select} FROM read_parquet('{src}')) TO '{part / rel}' "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    con.close()
    manifest = json.loads((base / resultdir.MANIFEST).read_text())
    manifest["node_id"] = node
    manifest["run_id"] = hashlib.sha256(f"{manifest['run_id']}/{node}".encode()).hexdigest()[:32]
    for i in manifest["inputs"]:
        i["node_id"] = node
        if i.get("sha256"):
            i["sha256"] = hashlib.sha256(f"{i['sha256']}/{node}".encode()).hexdigest()
        i["name"] = i["name"].replace(old, node)
        i["path"] = i["path"].replace(old, node)
    for o in manifest["outputs"]:
        o["size"], o["sha256"] = hash_file(part / o["path"], "sha256")
    (part / resultdir.MANIFEST).write_text(json.dumps(manifest, indent=2))
    part.rename(dest)


def node_results(nodes: int, bases: int, rate: float, *, own_visitors: bool) -> list[Path]:
    root = CACHE / "merge" / f"r{rate:g}-b{bases}"
    root.mkdir(parents=True, exist_ok=True)
    base = base_results(root, bases, rate)
    derived = root / ("own-visitors" if own_visitors else "")
    derived.mkdir(exist_ok=True)
    dirs = []
    for i in range(nodes):
        d = derived / f"node-{i:04d}"
        if not (d / resultdir.MANIFEST).is_file():
            derive(base[i % bases], d, f"node-{i:04d}", own_visitors=own_visitors)
        dirs.append(d)
    return dirs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,30,100,300,1000", help="comma-separated node counts")
    ap.add_argument("--bases", type=int, default=10, help="distinct analysed nodes the others derive from")
    ap.add_argument("--rate", type=float, default=50.0, help="requests/s of each base node's hour")
    ap.add_argument(
        "--shared-visitors",
        action="store_true",
        help="derived nodes keep their base's visitors (optimistic: the merged tables stay ten nodes' size)",
    )
    ap.add_argument("--keep", type=Path, help="keep each merge's result in KEEP/m<nodes> (to compare them)")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    t0 = time.perf_counter()
    dirs = node_results(max(sizes), args.bases, args.rate, own_visitors=not args.shared_visitors)
    visitors = "shared by every tenth node" if args.shared_visitors else "each node its own"
    mb = sum(p.stat().st_size for p in dirs[0].rglob("*.parquet")) / 1e6
    print(
        f"{len(dirs)} node results ready in {time.perf_counter() - t0:.1f} s "
        f"({mb:.2f} MB of Parquet per node; visitors: {visitors})"
    )
    print(f"{'nodes':>6} {'seconds':>8} {'CPU s':>8} {'s/node':>8} {'marginal s/node':>16} "
          f"{'marginal CPU/node':>18} {'peak RSS':>10}")  # fmt: skip
    rows: list[tuple[int, float, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            out = (args.keep or Path(tmp)) / f"m{n}"
            wall, cpu, peak = timed_cpu([*EDGELOG, "merge", *map(str, dirs[:n]), "--out", str(out)])
            rows.append((n, wall, cpu, peak))
            if len(rows) > 1:
                p = rows[-2]
                marginal = f"{(wall - p[1]) / (n - p[0]):16.4f} {(cpu - p[2]) / (n - p[0]):18.4f}"
            else:
                marginal = f"{'-':>16} {'-':>18}"
            print(f"{n:6d} {wall:8.2f} {cpu:8.2f} {wall / n:8.4f} {marginal} {peak / 1024:8.0f} MiB")
    (n0, w0, c0, _), (n1, w1, c1, p1) = rows[0], rows[-1]
    mid = next((r for r in rows if r[0] >= 100), rows[0])
    per = (c1 - mid[2]) / (n1 - mid[0]) * 1000 if n1 > mid[0] else float("nan")
    print(
        f"{n1} nodes: {w1:.2f} s wall, {c1:.2f} CPU s (goal < 10 s), peak RSS {p1 / 1024:.0f} MiB "
        f"(goal < 1024 MiB); marginal CPU per node from {mid[0]} to {n1} nodes: {per:.1f} ms; "
        f"wall({n1}) / wall({n0}) = {w1 / w0:.2f}x, CPU {c1 / c0:.2f}x for {n1 / n0:.0f}x the nodes"
    )


if __name__ == "__main__":
    main()
