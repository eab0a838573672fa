"""Log format definitions: nginx and Apache syntax, presets, config files, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelog.logformat import PRESETS, FormatError, Literal, LogFormat, parse_definition, preset, resolve
from edgelog.logformat.codec import line_regex, parse_line, render_line


def shape(fmt: LogFormat) -> list[tuple[str, str] | str]:
    """Items as (field name, kind) tuples and literal strings, for compact assertions."""
    return [i.text if isinstance(i, Literal) else (i.name, i.kind.name) for i in fmt.items]


# --- nginx ----------------------------------------------------------------------------------------


def test_nginx_main_format_fields_and_literals() -> None:
    fmt = parse_definition(PRESETS["nginx-main"][1])
    assert fmt.syntax == "nginx" and fmt.escape == "default"
    assert shape(fmt) == [
        ("remote_addr", "addr"),
        " - ",
        ("remote_user", "text"),
        " [",
        ("time_local", "clf_time"),
        '] "',
        ("request", "text"),
        '" ',
        ("status", "status"),
        " ",
        ("body_bytes_sent", "int"),
        ' "',
        ("http_referer", "text"),
        '" "',
        ("http_user_agent", "text"),
        '" "',
        ("http_x_forwarded_for", "text"),
        '"',
    ]
    # the log module's own variables are written raw and never absent; other variables are escaped, "-"
    status = fmt.field("status")
    xff = fmt.field("http_x_forwarded_for")
    assert status is not None and not status.escaped and status.null is None
    assert xff is not None and xff.escaped and xff.null == "-"


def test_nginx_every_listed_variable_has_its_grammar() -> None:
    fmt = parse_definition(
        "$remote_addr $time_iso8601 $msec $request_method $request_uri $status $bytes_sent "
        "$request_time [$upstream_response_time] [$upstream_addr] $host $request_id $scheme "
        '$server_protocol $ssl_protocol $gzip_ratio "$http_x_custom_header" ${geoip_country}x'
    )
    kinds = {f.name: f.kind.name for f in fmt.fields}
    assert kinds == {
        "remote_addr": "addr",
        "time_iso8601": "iso_time",
        "msec": "epoch_msec",
        "request_method": "token",
        "request_uri": "text",
        "status": "status",
        "bytes_sent": "int",
        "request_time": "seconds",
        "upstream_response_time": "seconds_list",
        "upstream_addr": "addr_list",
        "host": "token",
        "request_id": "request_id",
        "scheme": "token",
        "server_protocol": "token",
        "ssl_protocol": "token",
        "gzip_ratio": "ratio",
        "http_x_custom_header": "text",
        "geoip_country": "text",  # unknown variables are kept as text
    }
    assert fmt.items[-1] == Literal("x")  # ${name} ends at the brace


def test_nginx_escape_modes_and_absent_values() -> None:
    js = parse_definition(
        """escape=json '{"ip":"$remote_addr",' '"ua":"$http_user_agent","rt":$request_time}'"""
    )
    assert js.escape == "json"
    assert js.definition.startswith("escape=json")
    assert [f.null for f in js.fields] == ["", "", None]  # json writes nothing for an absent variable
    none = parse_definition("log_format raw escape=none '$remote_addr [$time_local] $http_user_agent';")
    assert none.escape == "none" and none.name == "raw"
    assert none.field("http_user_agent") is not None


def test_nginx_variable_names_are_case_insensitive_except_log_module_ones() -> None:
    fmt = parse_definition('$Remote_Addr "$HTTP_USER_AGENT"')
    assert [f.name for f in fmt.fields] == ["remote_addr", "http_user_agent"]
    assert [f.source for f in fmt.fields] == ["$Remote_Addr", "$HTTP_USER_AGENT"]


@pytest.mark.parametrize(
    ("definition", "names"),
    [
        ("$remote_addr$remote_user", ["$remote_addr", "$remote_user"]),
        ('"$http_referer $http_user_agent"', ["$http_referer", "$http_user_agent"]),
        ('escape=none \'"$http_referer" "$http_user_agent"\'', ["$http_referer", "$http_user_agent"]),
        ("$request_uri$status", ["$request_uri", "$status"]),
        ("%h %u %{User-Agent}i", ["%u", "%{User-Agent}i"]),
    ],
)
def test_ambiguous_definitions_name_both_fields(definition: str, names: list[str]) -> None:
    with pytest.raises(FormatError) as err:
        parse_definition(definition)
    for name in names:
        assert name in str(err.value)
    assert err.value.hint


def test_fixed_width_fields_need_no_separator() -> None:
    fmt = parse_definition("$status$request_id $remote_addr")
    assert [f.name for f in fmt.fields] == ["status", "request_id", "remote_addr"]
    assert parse_line(fmt, "200" + "ab" * 16 + " 10.0.0.1") == {
        "status": "200",
        "request_id": "ab" * 16,
        "remote_addr": "10.0.0.1",
    }


@pytest.mark.parametrize(
    ("definition", "needle"),
    [
        ("$remote_addr $", "'$'"),
        ("${host", "closing bracket"),
        ("$binary_remote_addr $status", "$binary_remote_addr"),
        ("escape=none '$remote_addr $status $request_body'", "$request_body"),
        ("escape=html '$remote_addr'", "html"),
        ("%h %Q", "%Q"),
        ("%h %{%c}t", "%c"),
        ("%h %{Referer", "'}'"),
        ("%h %", "directive"),
        ("just text", "no nginx $variables or Apache % directives"),
        ("$remote_addr %h", "both"),
        ("", "empty"),
        ("nonsense-preset", "not a preset"),
    ],
)
def test_bad_definitions_are_clear_errors(definition: str, needle: str) -> None:
    with pytest.raises(FormatError) as err:
        parse_definition(definition)
    assert needle in str(err.value)


# --- Apache ---------------------------------------------------------------------------------------


def test_apache_vhost_combined_and_timing_directives() -> None:
    fmt = parse_definition(r"%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\" %D %T %{ms}T")
    assert fmt.syntax == "apache" and fmt.escape == "apache"
    assert shape(fmt)[:12] == [
        ("vhost", "token"),
        ":",
        ("server_port", "int"),
        " ",
        ("remote_host", "addr"),
        " ",
        ("remote_logname", "token"),
        " ",
        ("remote_user", "text"),
        " [",
        ("time_local", "clf_time"),
        '] "',
    ]
    units = {f.name: f.unit for f in fmt.fields if f.name.startswith("request_time")}
    assert units == {"request_time_us": 1e-6, "request_time_s": 1.0, "request_time_ms": 1e-3}
    assert [f.name for f in fmt.fields if f.name.startswith("http_")] == ["http_referer", "http_user_agent"]


def test_apache_status_bytes_conditions_and_literals() -> None:
    fmt = parse_definition(r"%h %s %>s %b %B \"%!200,304{Referer}i\" 100%% \"%{X-Forwarded-For}i\"\t%a %{c}a")
    by = {f.source: f for f in fmt.fields}
    assert by["%s"].name == "status_orig" and by["%>s"].name == "status"
    assert by["%b"].null == "-" and by["%B"].null is None  # %b writes "-" for no bytes
    assert by["%!200,304{Referer}i"].null == "-"
    assert by["%{X-Forwarded-For}i"].name == "http_x_forwarded_for"
    assert by["%a"].name == "client_addr" and by["%{c}a"].name == "peer_addr"
    assert Literal('" 100% "') in fmt.items and Literal('"\t') in fmt.items  # %% and \t in literal text


def test_apache_custom_time_formats() -> None:
    fmt = parse_definition("%{%Y-%m-%dT%H:%M:%S}t.%{msec_frac}t%{%z}t %{sec}t %{end:usec}t %h")
    assert [(f.name, f.kind.name) for f in fmt.fields] == [
        ("time_custom", "strftime"),
        ("time_msec_frac", "frac3"),
        ("time_custom", "strftime"),
        ("time_sec", "epoch_int"),
        ("time_usec", "epoch_int"),
        ("remote_host", "addr"),
    ]
    assert [f.key for f in fmt.fields][:3] == ["time_custom", "time_msec_frac", "time_custom_2"]
    assert parse_line(fmt, "2026-11-23T08:00:01.250+0100 1795417201 1795417201250000 ::1") is not None


def test_apache_definition_forms() -> None:
    config_escaped = r"%h %l %u %t \"%r\" %>s %b"
    a = parse_definition(config_escaped)
    b = parse_definition(f'"{config_escaped}"')
    c = parse_definition(f'LogFormat "{config_escaped}" common')
    assert a.items == b.items == c.items
    assert c.name == "common"
    assert [f.source for f in a.fields] == ["%h", "%l", "%u", "%t", "%r", "%>s", "%b"]
    assert a.items[7:10] == (Literal('] "'), a.fields[4], Literal('" '))


# --- presets --------------------------------------------------------------------------------------


def test_presets() -> None:
    assert set(PRESETS) == {"combined", "common", "nginx-main", "vhost_combined", "combined_timing"}
    for name in PRESETS:
        fmt = parse_definition(name)
        assert fmt.name == name
        assert fmt.field("status") is not None
    assert preset("vhost_combined").syntax == "apache"
    timing = preset("combined_timing")
    assert [f.name for f in timing.fields][-2:] == ["request_time", "upstream_response_time"]
    # combined/common take Apache's "-" for zero bytes too
    assert parse_line(preset("common"), '::1 - - [23/Nov/2026:08:00:00 +0000] "HEAD / HTTP/1.1" 200 -')


def test_presets_read_the_real_server_samples(samples_dir: Path) -> None:
    for name in ("nginx_small.log", "apache_small.log"):
        text = (samples_dir / name).read_text(encoding="utf-8")
        lines = text.splitlines()
        parsed = [parse_line(preset("combined"), line) for line in lines]
        assert all(p is not None for p in parsed), name


# --- config files ---------------------------------------------------------------------------------

NGINX_CONF = r"""
# test config
user www-data;
events { worker_connections 64; }
http {
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';   # the docker image's
    log_format timing escape=json
        '{"t":"$time_iso8601","rt":$request_time,'
        '"up":"$upstream_response_time","ua":"$http_user_agent\"}';
    include conf.d/*.conf;
    server { listen 8080; location / { return 200 "a;b {c}"; } }
}
"""


def test_nginx_config_file_with_includes(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "extra.conf").write_text("log_format vhosts '$host $remote_addr $status';\n")
    conf = tmp_path / "nginx.conf"
    main = resolve(from_path=conf, name="main")
    assert main is not None and main.name == "main"
    assert main.items == preset("nginx-main").items
    timing = resolve(from_path=conf, name="timing")
    assert timing is not None and timing.escape == "json"
    assert timing.items[-1] == Literal('"}')  # \" inside the quoted string is a quote
    vhosts = resolve(from_path=str(conf), name="vhosts")
    assert vhosts is not None and [f.name for f in vhosts.fields] == ["host", "remote_addr", "status"]
    combined = resolve(from_path=conf, name="combined")  # predefined by nginx
    assert combined is not None and combined.items == parse_definition(PRESETS["combined"][1]).items
    with pytest.raises(FormatError, match="several log formats: main, timing, vhosts"):
        resolve(from_path=conf)
    with pytest.raises(FormatError, match="no log_format named 'nope'") as err:
        resolve(from_path=conf, name="nope")
    assert "main, timing, vhosts" in str(err.value)


APACHE_CONF = r"""
ServerRoot "{root}"
# Debian's apache2.conf
LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{{Referer}}i\" \"%{{User-Agent}}i\"" vhost_combined
LogFormat "%h %l %u %t \"%r\" %>s %O \"%{{Referer}}i\" \"%{{User-Agent}}i\"" combined
LogFormat "%h %l %u %t \"%r\" %>s %O" common
IncludeOptional conf-enabled/*.conf
IncludeOptional missing/*.conf
"""


def test_apache_config_file_with_includes(tmp_path: Path) -> None:
    (tmp_path / "apache2.conf").write_text(APACHE_CONF.format(root=tmp_path))
    (tmp_path / "conf-enabled").mkdir()
    (tmp_path / "conf-enabled" / "timing.conf").write_text(
        'LogFormat "%h %t \\"%r\\" %>s \\\n    %D %{X-Forwarded-For}i" timing\n'
    )
    conf = tmp_path / "apache2.conf"
    vhost = resolve(from_path=conf, name="vhost_combined")
    assert vhost is not None and vhost.items == preset("vhost_combined").items
    timing = resolve(from_path=conf, name="timing")
    assert timing is not None
    assert [f.name for f in timing.fields] == [
        "remote_host",
        "time_local",
        "request",
        "status",
        "request_time_us",
        "http_x_forwarded_for",
    ]
    clf = resolve(from_path=conf, name="CLF")
    assert clf is not None and len(clf.fields) == 7
    with pytest.raises(FormatError, match="several log formats"):
        resolve(from_path=conf)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read"):
        resolve(from_path=tmp_path / "missing.conf")
    odd = tmp_path / "odd.conf"
    odd.write_text("hello world\n")
    with pytest.raises(FormatError, match="nginx or an Apache config"):
        resolve(from_path=odd)
    broken = tmp_path / "nginx.conf"
    broken.write_text("http { log_format main '$remote_addr ;\n}\n")
    with pytest.raises(FormatError, match="unterminated"):
        resolve(from_path=broken)
    one = tmp_path / "one.conf"
    one.write_text("http { log_format only '$remote_addr $status'; }\n")
    only = resolve(from_path=one)
    assert only is not None and only.name == "only"


def test_resolve_option_rules(tmp_path: Path) -> None:
    assert resolve() is None and resolve("", "", "") is None  # job templates pass empty strings
    with pytest.raises(FormatError, match="exclusive"):
        resolve("combined", tmp_path / "x.conf")
    with pytest.raises(FormatError, match="needs --log-format-from"):
        resolve(name="main")


# --- lines ----------------------------------------------------------------------------------------


def test_render_and_parse_escape_like_the_servers() -> None:
    raw = 'He said "hi \\"there\\"" \t é'
    values = {
        "remote_addr": "::1",
        "remote_user": None,
        "time_local": "23/Nov/2026:08:00:00 +0000",
        "request": "GET / HTTP/1.1",
        "status": "200",
        "body_bytes_sent": "0",
        "http_referer": None,
        "http_user_agent": raw,
    }
    nginx_line = render_line(preset("combined"), values)
    assert nginx_line.endswith(
        '"-" "He said \\x22hi \\x5C\\x22there\\x5C\\x22\\x22 \\x09 \\xC3\\xA9"'
    )  # the sample README's example
    apache_fmt = parse_definition(r"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"")
    apache_line = render_line(
        apache_fmt,
        {
            **{("remote_host" if k == "remote_addr" else k): v for k, v in values.items()},
            "remote_logname": None,
        },
    )
    assert apache_line.endswith('"-" "He said \\"hi \\\\\\"there\\\\\\"\\" \\t \\xc3\\xa9"')
    js = parse_definition("""escape=json '{"ua":"$http_user_agent","s":$status}'""")
    json_line = render_line(js, {"http_user_agent": raw + "\x01", "status": "200"})
    assert json_line == '{"ua":"He said \\"hi \\\\\\"there\\\\\\"\\" \\t é\\u0001","s":200}'
    for fmt, line in ((preset("combined"), nginx_line), (apache_fmt, apache_line), (js, json_line)):
        parsed = parse_line(fmt, line)
        assert parsed is not None
        assert parsed["http_user_agent"] == raw + ("\x01" if fmt is js else "")


def test_line_regex_is_valid_re2() -> None:
    duckdb = pytest.importorskip("duckdb")
    for name in PRESETS:
        duckdb.sql("SELECT regexp_matches('x', ?)", params=[line_regex(preset(name))]).fetchall()


def test_a_file_holding_just_a_definition(tmp_path: Path) -> None:
    f = tmp_path / "log-format"
    f.write_text(PRESETS["nginx-main"][1] + "\n")
    fmt = resolve(from_path=f)
    assert fmt is not None and fmt.items == preset("nginx-main").items
    f.write_text('escape=json \'{"ip":"$remote_addr",\'\n  \'"t":"$time_iso8601","s":$status}\'\n')
    fmt = resolve(from_path=f, name="j")
    assert fmt is not None and fmt.escape == "json" and fmt.name == "j"
    f.write_text("$remote_addr$remote_user\n")
    with pytest.raises(FormatError, match=r"\$remote_addr and \$remote_user"):
        resolve(from_path=f)


def test_portable_definitions_parse_back_to_the_same_format() -> None:
    from edgelog.logformat.definitions import portable_definition

    conf = Path(__file__).parent / "fixtures" / "servers"
    formats = [preset(n) for n in PRESETS]
    formats += [resolve(from_path=conf / "nginx.conf", name=n) for n in ("main", "timing", "json", "realip")]
    formats += [resolve(from_path=conf / "httpd.conf", name=n) for n in ("vhost_combined", "timing")]
    formats.append(parse_definition("escape=none '$remote_addr \\\\ \\' $status [$time_local]'"))
    for fmt in formats:
        assert fmt is not None
        back = parse_definition(portable_definition(fmt))
        assert (back.items, back.escape) == (fmt.items, fmt.escape), fmt.label
