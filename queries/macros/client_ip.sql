-- macros: edgelog_client_ip(ip, xff), edgelog_xff_client(xff) and the address helpers they use (edgelog_addr, ...)
-- answers: The client behind trusted proxies, as nginx's realip module finds it (set_real_ip_from,
--   real_ip_header X-Forwarded-For, real_ip_recursive on): from the connection address, while the current
--   address is trusted, take the next address from the right of X-Forwarded-For; the first untrusted one is
--   the client, all trusted gives the left-most, an entry that is not an address stops the walk. The chosen
--   address is written as nginx writes $remote_addr. The same rule in Python: edgelog.logformat.realip,
--   which also generates edgelog_trusted_fv(family, value) from --trusted-proxies (here: nothing trusted).
-- DuckDB inlines macros, so a parameter used twice is computed twice (and nested macros multiply that):
-- each macro uses its parameters once, binding values with list_transform([value], lambda x: ...)[1].
-- nginx's IPv4 parser (four octets, each <= 255, leading zeros and empty octets allowed): BIGINT or NULL
CREATE OR REPLACE MACRO edgelog_v4_join(o) AS list_transform([o], lambda q:
  CASE WHEN len(q) = 4 AND list_max(q) <= 255
       THEN q[1] * 16777216 + q[2] * 65536 + q[3] * 256 + q[4] END)[1];
CREATE OR REPLACE MACRO edgelog_v4(t) AS edgelog_v4_join(list_transform(string_split(t, '.'), lambda x:
  CASE WHEN NOT regexp_full_match(x, '[0-9]*') OR len(ltrim(x, '0')) > 3 THEN 256
       ELSE coalesce(try_cast(nullif(ltrim(x, '0'), '') AS BIGINT), 0) END));
-- IPv6: groups (an IPv4 tail becomes two groups), '::' expanded to zero groups, 8 groups in all
CREATE OR REPLACE MACRO edgelog_v6_tail4(g) AS list_transform([g], lambda q:
  CASE WHEN q IS NULL OR len(q) = 0 OR NOT contains(q[len(q)], '.') THEN q
       ELSE list_transform([edgelog_v4(q[len(q)])], lambda v: CASE WHEN v IS NOT NULL THEN
         list_concat(q[1:len(q) - 1], [format('{:x}', v >> 16), format('{:x}', v & 65535)]) END)[1] END)[1];
CREATE OR REPLACE MACRO edgelog_v6_words(h, t, dbl) AS list_transform([list_concat(h, ['|'], t)], lambda a:
  CASE WHEN h IS NULL OR t IS NULL THEN NULL
       WHEN NOT list_bool_and(list_transform(list_filter(a, lambda x: x <> '|'),
                                             lambda x: regexp_full_match(x, '[0-9A-Fa-f]{1,4}'))) THEN NULL
       WHEN dbl AND len(a) <= 8 THEN list_filter(list_concat(
           a[1:list_position(a, '|') - 1], list_transform(range(9 - len(a)), lambda i: '0'),
           a[list_position(a, '|') + 1:]), lambda x: x <> '|')
       WHEN NOT dbl AND len(a) = 9 THEN a[1:8] END)[1];
CREATE OR REPLACE MACRO edgelog_v6_split(t) AS list_transform([t], lambda s: CASE
  WHEN NOT regexp_full_match(s, '[0-9A-Fa-f:.]+') THEN NULL
  WHEN NOT contains(s, '::')
    THEN edgelog_v6_words(edgelog_v6_tail4(string_split(s, ':')), []::VARCHAR[], false)
  ELSE list_transform([string_split(s, '::')], lambda p: CASE
    WHEN len(p) <> 2 OR contains(p[1], '.') THEN NULL
    ELSE edgelog_v6_words(
      CASE WHEN p[1] = '' THEN []::VARCHAR[] ELSE string_split(p[1], ':') END,
      CASE WHEN p[2] = '' THEN []::VARCHAR[] ELSE edgelog_v6_tail4(string_split(p[2], ':')) END,
      true) END)[1] END)[1];
CREATE OR REPLACE MACRO edgelog_v6(t) AS list_reduce(
  list_transform(edgelog_v6_split(t), lambda w: ('0x' || w)::UHUGEINT),
  lambda a, b: (a << 16::UHUGEINT) | b);
CREATE OR REPLACE MACRO edgelog_addr(t) AS list_transform([t], lambda s:
  list_transform([edgelog_v4(s)], lambda v4: CASE WHEN v4 IS NOT NULL THEN {'fam': 4, 'v': v4::UHUGEINT}
    ELSE list_transform([edgelog_v6(s)], lambda v6: CASE WHEN v6 IS NOT NULL THEN {'fam': 6, 'v': v6} END)[1]
    END)[1])[1];
-- nginx's ngx_parse_addr_port: an address, [address]:port or address:port with port 1-65535
CREATE OR REPLACE MACRO edgelog_port_ok(p) AS list_transform([p], lambda x:
  coalesce(regexp_full_match(x, '[0-9]{1,5}') AND try_cast(x AS INTEGER) BETWEEN 1 AND 65535, false))[1];
CREATE OR REPLACE MACRO edgelog_port_host(s) AS CASE
  WHEN starts_with(s, '[') THEN list_transform([regexp_extract(s, '^\[([^\]]*)\]:(.*)$', ['h', 'p'])],
    lambda m: CASE WHEN edgelog_port_ok(m.p) THEN m.h END)[1]
  ELSE list_transform([regexp_extract(s, '^([^:]*):(.*)$', ['h', 'p'])],
    lambda m: CASE WHEN edgelog_port_ok(m.p) THEN m.h END)[1] END;
CREATE OR REPLACE MACRO edgelog_addr_port(t) AS list_transform([t], lambda s:
  coalesce(edgelog_addr(s), edgelog_addr(edgelog_port_host(s))))[1];
-- how nginx writes an address: dotted IPv4, IPv6 as ngx_inet6_ntop compresses it
CREATE OR REPLACE MACRO edgelog_v4_text(v) AS list_transform([v], lambda x:
  concat_ws('.', (x >> 24) & 255, (x >> 16) & 255, (x >> 8) & 255, x & 255))[1];
CREATE OR REPLACE MACRO edgelog_v6_fmt(w, run, start) AS CASE
  WHEN start = 1 AND ((run = 5 AND w[6] = 65535) OR run = 6
                      OR (run = 7 AND w[8] >> 8 <> 0 AND w[8] & 255 <> 1))
    THEN '::' || CASE WHEN run = 5 THEN 'ffff:' ELSE '' END || edgelog_v4_text(w[7] * 65536 + w[8])
  WHEN run = 0 THEN array_to_string(list_transform(w, lambda x: format('{:x}', x)), ':')
  ELSE CASE WHEN start = 1 THEN ':' ELSE '' END
       || array_to_string(list_transform(w[1:start - 1], lambda x: format('{:x}', x) || ':'), '')
       || ':' || array_to_string(list_transform(w[start + run:], lambda x: format('{:x}', x)), ':') END;
CREATE OR REPLACE MACRO edgelog_v6_zrun(w, z) AS list_transform([CASE
  WHEN contains(z, '00000000') THEN 8 WHEN contains(z, '0000000') THEN 7 WHEN contains(z, '000000') THEN 6
  WHEN contains(z, '00000') THEN 5 WHEN contains(z, '0000') THEN 4 WHEN contains(z, '000') THEN 3
  WHEN contains(z, '00') THEN 2 ELSE 0 END], lambda run:
  edgelog_v6_fmt(w, run, CASE WHEN run > 0 THEN strpos(z, repeat('0', run)) ELSE 0 END))[1];
CREATE OR REPLACE MACRO edgelog_v6_text(v) AS list_transform(
  [list_transform(range(8), lambda k: ((v >> (16 * (7 - k))::UHUGEINT) & 65535::UHUGEINT)::BIGINT)],
  lambda w: edgelog_v6_zrun(w, array_to_string(
    list_transform(w, lambda x: CASE WHEN x = 0 THEN '0' ELSE '1' END), '')))[1];
CREATE OR REPLACE MACRO edgelog_addr_text(a) AS list_transform([a], lambda x:
  CASE WHEN x.fam = 4 THEN edgelog_v4_text(x.v::BIGINT) ELSE edgelog_v6_text(x.v) END)[1];
-- is an address (a STRUCT(fam, v) from edgelog_addr) in a trusted range? IPv4-mapped IPv6 counts as IPv4
CREATE OR REPLACE MACRO edgelog_trusted_fv(f, v) AS false;
CREATE OR REPLACE MACRO edgelog_trusted(a) AS list_transform([a], lambda x:
  CASE WHEN x IS NULL THEN false
       WHEN x.fam = 6 AND x.v >> 32::UHUGEINT = 65535::UHUGEINT
         THEN edgelog_trusted_fv(4, x.v & 4294967295::UHUGEINT)
       ELSE edgelog_trusted_fv(x.fam, x.v) END)[1];
-- edgelog_xff_client: the client an X-Forwarded-For value names when the connection came from a trusted
-- proxy; NULL when the walk stops at once (the right-most entry is not an address), which keeps the
-- connection's address. parsed: the entries from the right; k: the first that is not an address or untrusted.
CREATE OR REPLACE MACRO edgelog_realip(parsed, k) AS list_transform([CASE
  WHEN len(parsed) = 0 THEN NULL
  WHEN k IS NULL THEN parsed[len(parsed)]
  WHEN parsed[k] IS NOT NULL THEN parsed[k]
  WHEN k = 1 THEN NULL
  ELSE parsed[k - 1] END], lambda a: CASE WHEN a IS NOT NULL THEN edgelog_addr_text(a) END)[1];
CREATE OR REPLACE MACRO edgelog_xff_client(xff) AS list_transform(
  [list_transform(list_reverse(regexp_extract_all(xff, '[^ ,]+')), lambda t: edgelog_addr_port(t))],
  lambda parsed: edgelog_realip(parsed,
    list_position(list_transform(parsed, lambda p: p IS NULL OR NOT edgelog_trusted(p)), true)))[1];
CREATE OR REPLACE MACRO edgelog_client_ip(ip, xff) AS CASE
  WHEN xff IS NULL OR ip IS NULL OR NOT edgelog_trusted(edgelog_addr(ip)) THEN ip
  ELSE coalesce(edgelog_xff_client(xff), ip) END;
