"""The page's only script (a table sorter, pinned by its hash in the CSP) and its stylesheet."""

SCRIPT = """
(function () {
  function key(td) {
    var v = td.getAttribute('data-v');
    return v === null ? td.textContent.trim().toLowerCase() : parseFloat(v);
  }
  document.querySelectorAll('table.sortable').forEach(function (tbl) {
    tbl.querySelectorAll('th').forEach(function (th) {
      th.addEventListener('click', function () {
        var col = parseInt(th.getAttribute('data-col'), 10);
        var asc = th.getAttribute('data-sort') !== 'asc';
        tbl.querySelectorAll('th').forEach(function (o) { o.removeAttribute('data-sort'); });
        th.setAttribute('data-sort', asc ? 'asc' : 'desc');
        var body = tbl.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x < y) { return asc ? -1 : 1; }
          if (x > y) { return asc ? 1 : -1; }
          return 0;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var root = document.documentElement;
  root.setAttribute('data-charts', String(document.querySelectorAll('svg.chart').length));
  root.setAttribute('data-tables', String(document.querySelectorAll('table.data').length));
  root.setAttribute('data-ready', '1');
})();
"""

STYLE = """
:root { --bg:#f4f5f7; --panel:#fff; --ink:#1f2430; --muted:#6b7280; --line:#e3e6ea; --accent:#2e86ab; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
       background:var(--bg); color:var(--ink); }
header { background:#1f2430; color:#fff; padding:18px 28px; display:flex; align-items:baseline; gap:24px;
         flex-wrap:wrap; }
header h1 { margin:0; font-size:22px; letter-spacing:.3px; }
header .meta { color:#b8c0cc; font-size:13px; }
nav { position:sticky; top:0; z-index:2; background:#2a3140; padding:6px 28px; display:flex; flex-wrap:wrap;
      gap:4px 14px; }
nav a { color:#cfd6e0; text-decoration:none; font-size:12.5px; }
nav a:hover { color:#fff; }
main { padding:18px 28px 60px; max-width:1480px; margin:0 auto; }
.banner { border-radius:6px; padding:12px 16px; margin:0 0 16px; font-weight:600; }
.banner ul { margin:6px 0 0; font-weight:400; }
.banner.partial { background:#fff4cc; border:1px solid #e2b714; }
.banner.integrity { background:#fde2e4; border:1px solid #d7263d; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(170px,1fr)); gap:12px;
         margin-bottom:18px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:12px 14px;
        border-top:3px solid var(--accent); }
.card .k { color:var(--muted); font-size:11.5px; text-transform:uppercase; letter-spacing:.5px; }
.card .v { font-size:22px; font-weight:650; margin-top:2px; word-break:break-word; }
.card .s { color:var(--muted); font-size:12px; }
section.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:14px 18px;
                margin-bottom:18px; }
section.panel h2 { margin:0 0 4px; font-size:16px; }
section.panel p.desc { margin:0 0 10px; color:var(--muted); font-size:12.5px; }
.grid2 { display:grid; grid-template-columns:minmax(0,1fr) minmax(0,1fr); gap:18px; }
.grid3 { display:grid; grid-template-columns:repeat(3,minmax(0,1fr)); gap:18px; }
@media (max-width: 1000px) { .grid2, .grid3 { grid-template-columns:minmax(0,1fr); } }
.narrow { max-width:760px; }
h3 { font-size:13.5px; margin:4px 0 8px; color:#374151; }
.chartbox { width:100%; }
svg.chart { width:100%; height:auto; display:block; }
svg.donut { max-width:200px; margin:0 auto; }
.donutbox { display:flex; gap:16px; align-items:center; }
.donutbox .legend { flex-direction:column; }
svg .grid { stroke:#eceff3; stroke-width:1; }
svg .axisline { stroke:#9aa3af; stroke-width:1; }
svg .axis { fill:#6b7280; font-size:11px; }
svg .line { stroke-width:2; }
svg .ratio { stroke-dasharray:4 3; }
svg .blabel, svg .bval { fill:#374151; font-size:12px; }
svg .donut-total { font-size:22px; font-weight:650; fill:#1f2430; }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; font-size:12px; color:#374151; margin-top:4px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:5px; }
table.data { width:100%; border-collapse:collapse; font-size:12.5px; table-layout:auto; }
table.data th { text-align:left; color:var(--muted); font-weight:600; border-bottom:2px solid var(--line);
                padding:6px 8px; cursor:pointer; user-select:none; white-space:nowrap; }
table.data th.num, table.data td.num { text-align:right; }
table.data th[data-sort=asc]::after { content:" ▲"; }
table.data th[data-sort=desc]::after { content:" ▼"; }
table.data td { border-bottom:1px solid #f0f2f4; padding:5px 8px; position:relative; vertical-align:top; }
table.data td.txt .cell { word-break:break-all; }
table.data td .share { position:absolute; left:0; top:3px; bottom:3px; background:#2e86ab1f;
                       border-radius:2px; }
table.data td .cell { position:relative; }
table.data tr:hover td { background:#f8fafc; }
table.data tr.hl td { background:#fdf3d7; font-weight:600; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:11.5px;
          font-weight:600; }
p.empty { color:var(--muted); font-style:italic; }
p.more { color:var(--muted); font-size:12px; margin:6px 0 0; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
"""
