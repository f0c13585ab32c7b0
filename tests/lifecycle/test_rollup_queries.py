"""PromQL on rollups (max_source_resolution): answers equal those over raw samples for the
functions docs/rollups.md lists as exact, at steps and ranges on the rollup grid; the response
names the rollups used; raw queries are untouched; bad values are a 400-style bad_data."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import numpy as np
import pytest

from lifecycle_db import ms, put, series_ids

EXACT_QUERIES = [
    "rate(q[{r}])", "increase(q[{r}])", "delta(q[{r}])", "sum_over_time(q[{r}])", "min_over_time(q[{r}])",
    "max_over_time(q[{r}])", "count_over_time(q[{r}])", "avg_over_time(q[{r}])", "last_over_time(q[{r}])",
    "q", "sum by (kind) (rate(q[{r}]))", "max(max_over_time(q[{r}])) - min(min_over_time(q[{r}]))",
]


def maintain(db) -> None:
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")


@pytest.fixture
def rolled(db):
    """12 series over 8 hours (counters with resets, gauges, a 25-minute gap), compacted and
    rolled up. Scrapes fall 7 s past the grid, never on a window boundary."""
    db.execute("SELECT prom_api.set_compressed_chunk_interval('1 hour')")
    db.execute("SELECT prom_api.set_compression_delay('0')")
    ids = series_ids(db, [{"__name__": "q", "instance": f"h{i}", "kind": str(i % 3)} for i in range(12)])
    hour = db.execute("SELECT date_trunc('hour', now())").fetchone()[0]
    start = hour - timedelta(hours=9)
    rng = np.random.default_rng(11)
    steps = 8 * 240
    all_ids, all_t, all_v = [], [], []
    for n, sid in enumerate(ids):
        t = ms(start) + 7000 + np.arange(steps) * 15000 + rng.integers(-3, 4, steps)
        if n % 3 == 0:
            v = 5000 + np.cumsum(rng.poisson(5, steps)).astype(float)
            for cut in (steps // 4, steps // 2 + 7, 3 * steps // 4):
                v[cut:] -= 2000  # resets: the counter drops (far from zero: see docs/rollups.md)
        elif n % 3 == 1:
            v = np.round(rng.normal(50, 10, steps), 2)
        else:
            v = np.cumsum(rng.poisson(2, steps)).astype(float) + 100
            keep = np.ones(steps, dtype=bool)
            keep[steps // 2: steps // 2 + 100] = False
            t, v = t[keep], v[keep]
        all_ids += [sid] * len(t)
        all_t += t.tolist()
        all_v += v.tolist()
    put(db, all_ids, all_t, all_v)
    maintain(db)
    assert db.execute("SELECT prom_api.get_rollups_done_until() = %s", (hour,)).fetchone()[0]
    return db, hour


def query_range(db, query, start, end, step, resolution=None) -> dict:
    return json.loads(db.execute(
        "SELECT prom_api.query_range_json(%s, %s, %s, %s, NULL, NULL, NULL, %s)",
        (query, start.timestamp(), end.timestamp(), step, resolution)).fetchone()[0])


def points(body) -> dict:
    assert body["status"] == "success", body
    return {json.dumps(s["metric"], sort_keys=True): [(t, float(v)) for t, v in s["values"]]
            for s in body["data"]["result"]}


def assert_close(got: dict, want: dict, query: str) -> None:
    assert got.keys() == want.keys(), query
    for key in want:
        assert [t for t, _ in got[key]] == [t for t, _ in want[key]], (query, key)
        for (t, a), (_, b) in zip(got[key], want[key]):
            assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), \
                (query, key, t, a, b)


@pytest.mark.parametrize("resolution, step, ranges", [("5m", 300, ("5m", "30m", "1h")), ("1h", 3600, ("1h", "2h"))])
def test_exact_functions_on_rollups_equal_raw_answers(rolled, resolution, step, ranges):
    db, hour = rolled
    start, end = hour - timedelta(hours=7), hour - timedelta(hours=1)
    for r in ranges:
        for template in EXACT_QUERIES:
            query = template.format(r=r)
            raw = query_range(db, query, start, end, step)
            assert "warnings" not in raw
            on_rollups = query_range(db, query, start, end, step, resolution)
            assert any(f"answered from {resolution} rollups" in w for w in on_rollups["warnings"])
            assert_close(points(on_rollups), points(raw), f"{query} at {resolution}")
            assert points(raw), query


def test_auto_picks_the_coarsest_rollup_within_a_fifth_of_the_step(rolled):
    db, hour = rolled
    start, end = hour - timedelta(hours=6), hour - timedelta(hours=1)
    for step, expected in ((3600, "5m"), (18000, "1h"), (60, None)):
        body = query_range(db, "sum(rate(q[1h]))", start, end, step, "auto")
        if expected is None:
            assert "warnings" not in body
        else:
            assert any(f"answered from {expected} rollups (max_source_resolution=auto)" in w for w in body["warnings"])


def test_beyond_rollups_the_warning_says_where_they_end(rolled):
    db, hour = rolled
    body = query_range(db, "rate(q[5m])", hour - timedelta(hours=2), hour + timedelta(minutes=30), 300, "5m")
    assert any("rollups end at" in w for w in body["warnings"])


def test_queries_reaching_past_raw_retention_use_rollups(rolled):
    db, hour = rolled
    start, end = hour - timedelta(hours=7), hour - timedelta(hours=1)
    raw = points(query_range(db, "sum_over_time(q[1h])", start, end, 3600))
    db.execute("SELECT _prom_catalog.note_raw_dropped(%s)", (hour - timedelta(hours=5),))
    body = query_range(db, "sum_over_time(q[1h])", start, end, 3600)
    assert any("past retention" in w and "answered from 5m rollups" in w for w in body["warnings"])  # auto at step 1 h
    assert_close(points(body), raw, "sum_over_time(q[1h])")
    # a query after that time still reads raw samples, with no warning
    assert "warnings" not in query_range(db, "q", hour - timedelta(hours=2), end, 60)


def test_instant_query_and_bad_resolution(rolled):
    db, hour = rolled
    t = (hour - timedelta(hours=2)).timestamp()
    raw = json.loads(db.execute("SELECT prom_api.query_json('max_over_time(q[1h])', %s)", (t,)).fetchone()[0])
    rolled_body = json.loads(db.execute(
        "SELECT prom_api.query_json('max_over_time(q[1h])', %s, NULL, NULL, NULL, '1h')", (t,)).fetchone()[0])
    assert sorted((json.dumps(s["metric"]), s["value"]) for s in rolled_body["data"]["result"]) == \
        sorted((json.dumps(s["metric"]), s["value"]) for s in raw["data"]["result"])
    bad = json.loads(db.execute(
        "SELECT prom_api.query_json('q', %s, NULL, NULL, NULL, '10m')", (t,)).fetchone()[0])
    assert bad["status"] == "error" and bad["errorType"] == "bad_data" and "max_source_resolution" in bad["error"]


def to_column_rows(db) -> int:
    """Rewrites every rollup row in the form written before blocks (migration 0019): one encoded
    column per aggregate, with the encoders of that form."""
    from promscale.codec import encode_times
    from promscale.rollup.block import decode_block
    from promscale.rollup.rows import TIME_COLUMNS, VALUE_COLUMNS, encode_value_column

    fields = {"times": "ends", "first_times": "first_times", "last_times": "last_times"}
    rows = db.execute("SELECT resolution_s, series_id, chunk_start, block FROM prom_data.rollup").fetchall()
    for res, sid, chunk_start, block in rows:
        w = decode_block(bytes(block))
        cols = [encode_times(w[fields[c]]) for c in TIME_COLUMNS]
        cols += [encode_value_column(c, w) for c in VALUE_COLUMNS]
        db.execute(f"UPDATE prom_data.rollup SET block = NULL, "
                   f"{', '.join(f'{c} = %s' for c in TIME_COLUMNS + VALUE_COLUMNS)} "
                   "WHERE resolution_s = %s AND series_id = %s AND chunk_start = %s",
                   (*cols, res, sid, chunk_start))
    return len(rows)


def test_rows_written_before_blocks_read_the_same(rolled):
    db, hour = rolled
    start, end = hour - timedelta(hours=7), hour - timedelta(hours=1)
    queries = [("sum by (kind) (rate(q[1h]))", "1h", 3600), ("max_over_time(q[30m])", "5m", 300),
               ("avg_over_time(q[1h])", "5m", 300), ("q", "1h", 3600)]
    view_sql = "SELECT * FROM prom_rollup_{}.q ORDER BY series_id, time"
    before = [query_range(db, q, start, end, step, res) for q, res, step in queries]
    views = [db.execute(view_sql.format(r)).fetchall() for r in ("5m", "1h")]
    assert to_column_rows(db) > 0
    assert db.execute("SELECT count(block) FROM prom_data.rollup").fetchone()[0] == 0
    assert [query_range(db, q, start, end, step, res) for q, res, step in queries] == before
    assert [db.execute(view_sql.format(r)).fetchall() for r in ("5m", "1h")] == views
    # maintenance merging new windows into such a row writes it back as a block
    db.execute("SELECT prom_api.recompute_rollups(%s)", (hour - timedelta(hours=2),))
    maintain(db)
    assert db.execute("SELECT count(block) FROM prom_data.rollup").fetchone()[0] > 0
    assert [query_range(db, q, start, end, step, res) for q, res, step in queries] == before
