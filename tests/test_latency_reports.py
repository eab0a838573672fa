"""Latency and virtual-host reports: exact nearest-rank percentiles that survive merging node results."""

from __future__ import annotations

import math
import random
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgelog.analysis import analyze, merge
from edgelog.logformat import parse_definition
from edgelog.logformat.codec import render_line

FORMAT = parse_definition(
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $request_time $host'
)


def nearest_rank(values: list[int], p: int) -> int:
    """The smallest value that at least p% of the values do not exceed."""
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


def write_node(directory: Path, node: str, requests: list[tuple[str, str, int, int]]) -> Path:
    """One rotated file of ``node`` with (path, host, latency ms, minute) requests."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for path, host, ms, minute in requests:
        lines.append(
            render_line(
                FORMAT,
                {
                    "remote_addr": "10.0.0.1",
                    "remote_user": None,
                    "time_local": f"23/Nov/2026:08:{minute:02d}:00 +0000",
                    "request": f"GET {path} HTTP/1.1",
                    "status": "200",
                    "body_bytes_sent": "10",
                    "http_referer": None,
                    "http_user_agent": "curl/8.5.0",
                    "request_time": f"{ms // 1000}.{ms % 1000:03d}",
                    "host": host,
                },
            )
        )
    f = directory / f"access-{node}-20261123T090000Z.log"
    f.write_text("\n".join(lines) + "\n")
    return f


def table(out: Path, name: str) -> list[tuple]:
    return duckdb.sql(f"SELECT * FROM '{out}/reports/{name}.parquet'").fetchall()


requests_st = st.lists(
    st.tuples(
        st.sampled_from(["/a", "/b", "/c"]),
        st.sampled_from(["shop.example.com", "api.example.com"]),
        st.one_of(st.integers(0, 30), st.integers(0, 60_000)),
        st.integers(0, 59),
    ),
    min_size=1,
    max_size=60,
)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# unique: two nodes with the same requests write byte-identical files, which merge refuses by design
@given(nodes=st.lists(requests_st, min_size=1, max_size=3, unique_by=tuple))
def test_merged_percentiles_are_the_percentiles_of_all_requests(
    tmp_path_factory: pytest.TempPathFactory, nodes: list[list[tuple[str, str, int, int]]]
) -> None:
    tmp = tmp_path_factory.mktemp("lat")
    outs = []
    for i, reqs in enumerate(nodes):
        write_node(tmp / f"n{i}", f"n{i}", reqs)
        result = analyze([tmp / f"n{i}"], tmp / f"out{i}", log_format=FORMAT.definition)
        assert result.status == "ok"
        outs.append(tmp / f"out{i}")
    merged = merge(outs, tmp / "merged")
    assert merged.status == "ok"
    analyze([tmp / f"n{i}" for i in range(len(nodes))], tmp / "union", log_format=FORMAT.definition)
    everything = [r for reqs in nodes for r in reqs]
    for name in ("latency_paths", "latency_time", "vhosts"):
        assert table(tmp / "merged", name) == table(tmp / "union", name), name
    by_path: dict[str, list[int]] = {}
    for path, _host, ms, _minute in everything:
        by_path.setdefault(path, []).append(ms)
    got = {r[0]: r[1:] for r in table(tmp / "merged", "latency_paths")}
    for path, values in by_path.items():
        assert got[path] == (
            len(values),
            nearest_rank(values, 50),
            nearest_rank(values, 95),
            nearest_rank(values, 99),
            max(values),
        )
    by_host: dict[str, list[int]] = {}
    for _path, host, ms, _minute in everything:
        by_host.setdefault(host, []).append(ms)
    for row in table(tmp / "merged", "vhosts"):
        values = by_host[row[0]]
        assert (row[1], row[6], row[7]) == (len(values), nearest_rank(values, 50), nearest_rank(values, 95))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """The nginx sample, whose format logs no request time and no host, analysed once for the module."""
    result = analyze([samples_dir / "nginx_small.log"], tmp_path_factory.mktemp("plain") / "out")
    assert result.status == "ok"
    return result.out


def test_formats_without_the_fields_give_empty_panels(plain: Path) -> None:
    for name in ("latency_paths", "latency_time", "vhosts"):
        assert table(plain, name) == []


def test_latency_partial_is_a_histogram_not_the_requests(tmp_path: Path) -> None:
    rng = random.Random(7)
    reqs = [("/a", "shop.example.com", rng.choice([5, 10, 20, 40]), rng.randrange(60)) for _ in range(2000)]
    write_node(tmp_path / "in", "n1", reqs)
    analyze([tmp_path / "in"], tmp_path / "out", log_format=FORMAT.definition)
    partial = duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/out/partials/latency_paths.parquet'").fetchall()
    assert partial == [(4,)]  # one row per distinct latency of the path, whatever the traffic


def test_reports_show_latency_and_vhost_panels_only_when_the_fields_exist(
    tmp_path: Path, plain: Path
) -> None:
    from rich.console import Console

    from edgelog.results import print_summary, render_html

    rng = random.Random(3)
    reqs = [
        (rng.choice(["/a", "/b"]), "shop.example.com", rng.randrange(900), rng.randrange(60))
        for _ in range(300)
    ]
    write_node(tmp_path / "in", "n1", reqs)
    analyze([tmp_path / "in"], tmp_path / "timed", log_format=FORMAT.definition)
    for name, result, shown in (("timed", tmp_path / "timed", True), ("plain", plain, False)):
        html = render_html(result, tmp_path / f"{name}.html").read_text()
        assert ('id="latency"' in html) is shown and ('id="vhosts"' in html) is shown
        assert ('href="#latency"' in html) is shown
        console = Console(record=True, width=140)
        print_summary(result, console)
        text = console.export_text()
        assert ("Latency by path" in text) is shown and ("Virtual hosts" in text) is shown
    html = (tmp_path / "timed.html").read_text()
    assert "shop.example.com" in html and "Slowest paths by p95" in html
