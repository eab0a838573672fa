"""Property: any definition the parser accepts, and any line written in it, parse back to the same values."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import lanes
from support.formats import definitions, expected_text, written_value

from edgelog.logformat.codec import parse_line, render_line

SETTINGS = settings(
    max_examples=lanes.examples(1000),
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


@SETTINGS
@given(st.data())
def test_any_definition_and_line_round_trip(data: st.DataObject) -> None:
    fmt = data.draw(definitions(), label="format")
    values = {f.key: data.draw(written_value(fmt, f), label=f.key) for f in fmt.fields}
    line = render_line(fmt, values)
    parsed = parse_line(fmt, line)
    assert parsed == {f.key: expected_text(fmt, f, values[f.key]) for f in fmt.fields}, (fmt.definition, line)
