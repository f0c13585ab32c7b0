"""SQL-side regex matchers (the `?` operators of SQL users, remote_read's series selection) use
PromQL's regexes, RE2 fully anchored, not PostgreSQL's `~`: where the two dialects differ, every
path selects what a PromQL query selects, and a pattern RE2 refuses is refused with Go's message."""

from __future__ import annotations

import psycopg
import pytest

VALUES = ["a\nb", "axb", "É", "abc", "ABC", "x1", ""]
T = 1_700_000_000  # the one sample of every series, Unix seconds


@pytest.fixture
def ids(db) -> dict[str, int]:
    """A series of metric `rx` per value of label v (none for ""), by value."""
    out = {}
    for value in VALUES[:-1]:
        out[value] = db.execute(
            "SELECT prom_api.get_or_create_series_id(jsonb_build_object('__name__', 'rx', 'v', %s::text))",
            (value,)).fetchone()[0]
    out[""] = db.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"rx\"}'::jsonb)").fetchone()[0]
    db.execute("SELECT prom_api.put_samples(%s::bigint[], array_fill(to_timestamp(%s), ARRAY[%s]), "
               "array_fill(1::float8, ARRAY[%s]))", (list(out.values()), T, len(out), len(out)))
    return out


# (pattern, the values PromQL's =~ selects) where PostgreSQL's ~ selects otherwise or errs
CASES = [
    ("a.b", ["axb"]),  # RE2's . does not match a newline; PostgreSQL's does
    (r"\pL+", ["axb", "É", "abc", "ABC"]),  # Unicode classes: an error in PostgreSQL
    ("(?i)abc", ["abc", "ABC"]),  # flags inside the anchoring group: an error in PostgreSQL
    (r"x\d|", ["x1", ""]),  # matches "": series without the label are selected too
]


def selected_by_sql_api(db, op: str, pattern: str) -> set[int]:
    """What remote_read selects (prom_api.get_matching_samples calls this)."""
    ids = db.execute("SELECT _prom_catalog.get_matching_series_ids(%s, %s, %s)",
                     (["__name__", "v"], ["=", op], ["rx", pattern])).fetchone()[0]
    return set(ids)


def selected_by_promql(db, selector: str) -> set[int]:
    """The series /api/v1/series answers for a selector (PromQL's selection), by id."""
    rows = db.execute("SELECT series_id FROM prom_series.rx s WHERE prom_api.jsonb(s.label_ids) IN ("
                      "SELECT jsonb_array_elements(prom_api.series_json(%s, %s, %s)::jsonb -> 'data'))",
                      ([selector], T - 60, T + 60)).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("pattern,expected", CASES)
def test_every_path_selects_what_promql_selects(db, ids, pattern, expected):
    escaped = pattern.replace("\\", "\\\\")
    want = {ids[v] for v in expected}
    everything = set(ids.values())
    assert selected_by_promql(db, f'rx{{v=~"{escaped}"}}') == want
    assert selected_by_promql(db, f'rx{{v!~"{escaped}"}}') == everything - want
    assert selected_by_sql_api(db, "=~", pattern) == want
    assert selected_by_sql_api(db, "!~", pattern) == everything - want
    # the SQL operators: a positive matcher needs the label (documented in docs/sql-api.md)
    having = {ids[v] for v in expected if v}
    rows = db.execute("SELECT series_id FROM prom_series.rx WHERE label_ids ? ('v' ==~ %s)", (pattern,)).fetchall()
    assert {r[0] for r in rows} == having
    rows = db.execute("SELECT series_id FROM prom_series.rx WHERE prom_api.jsonb(label_ids) ? ('v' ==~ %s)",
                      (pattern,)).fetchall()
    assert {r[0] for r in rows} == having
    rows = db.execute("SELECT series_id FROM prom_series.rx WHERE label_ids ? ('v' !=~ %s)", (pattern,)).fetchall()
    assert {r[0] for r in rows} == everything - having


@pytest.mark.parametrize("pattern", ["(a)\\1", "a(?=b)", "a{1001}"])
def test_patterns_re2_refuses_are_refused_on_every_path(db, ids, pattern):
    with pytest.raises(psycopg.errors.InvalidRegularExpression, match="error parsing regexp"):
        db.execute("SELECT _prom_catalog.get_matching_series_ids('{v}', '{=~}', %s)", ([pattern],))
    with pytest.raises(psycopg.errors.InvalidRegularExpression, match="error parsing regexp"):
        db.execute("SELECT count(*) FROM prom_series.rx WHERE label_ids ? ('v' ==~ %s)", (pattern,))
    with pytest.raises(psycopg.errors.InvalidRegularExpression, match="error parsing regexp"):
        db.execute("SELECT count(*) FROM prom_series.rx WHERE prom_api.jsonb(label_ids) ? ('v' ==~ %s)", (pattern,))
