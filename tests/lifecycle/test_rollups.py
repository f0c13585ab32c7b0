"""Rollups computed by maintenance (sql/idempotent/326-rollups.sql, extension/promscale/rollup):
every window's aggregates equal an independent computation from the raw samples (counter
resets, gaps, stale markers included), computed incrementally, kept per resolution retention,
and read through the prom_rollup_5m / prom_rollup_1h views."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest

from lifecycle_db import STALE, ms, put, series_ids
from rollup_reference import reference_windows, same_float

PG_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
FIELDS = ("count", "sum", "min", "max", "first", "last", "increase", "first_time", "last_time")


def maintain(db: psycopg.Connection) -> None:
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")


def us(dt: datetime) -> int:
    return (dt - PG_EPOCH) // timedelta(microseconds=1)


def samples_for(rng: np.random.Generator, n: int, start_ms: int, steps: int):
    """Series n: a counter with resets (n % 3 == 0), a gauge, or a counter with a gap; stale
    markers and special values in some."""
    times = start_ms + np.arange(steps) * 15000 + rng.integers(-3, 4, steps)
    if n % 3 == 0:
        values = np.cumsum(rng.poisson(5, steps)).astype(float)
        for cut in (steps // 4, steps // 4 + 20, 2 * steps // 3):  # resets, one exactly at a 5 m boundary or not
            values[cut:] -= values[cut] - rng.integers(0, 3)
    elif n % 3 == 1:
        values = np.round(rng.normal(50, 10, steps), 2)
        values[steps // 5] = float("nan")
        values[steps // 3] = float("inf")
    else:
        values = np.cumsum(rng.poisson(2, steps)).astype(float)
        keep = np.ones(steps, dtype=bool)
        keep[steps // 2: steps // 2 + 100] = False  # a 25-minute gap
        times, values = times[keep], values[keep]
    if n % 4 == 0:
        values[len(values) // 6] = STALE
    return times, values


def write(db, ids, start: datetime, steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    all_ids, all_t, all_v = [], [], []
    for n, sid in enumerate(ids):
        t, v = samples_for(rng, n, ms(start), steps)
        all_ids += [sid] * len(t)
        all_t += t.tolist()
        all_v += v.tolist()
    put(db, all_ids, all_t, all_v)


def raw_samples(db, ids) -> dict[int, tuple[list[int], list[bytes]]]:
    rows = db.execute(
        "SELECT g.series_id, ARRAY(SELECT _prom_catalog.timestamptz_to_us(t) FROM unnest(g.times) t), "
        "ARRAY(SELECT float8send(v) FROM unnest(g.vals) v) "
        "FROM prom_api.get_samples(%s::bigint[], '-infinity', 'infinity') g", (ids,)).fetchall()
    return {sid: (times, [bytes(b) for b in vals]) for sid, times, vals in rows}


def stored_windows(db, schema: str, view: str) -> dict[tuple[int, int], dict]:
    rows = db.execute(
        f"SELECT series_id, _prom_catalog.timestamptz_to_us(time), count, sum, min, max, first, last, "
        f"counter_increase, _prom_catalog.timestamptz_to_us(first_time), _prom_catalog.timestamptz_to_us(last_time) "
        f'FROM {schema}."{view}"').fetchall()
    return {(r[0], r[1]): dict(zip(FIELDS, r[2:])) for r in rows}


def assert_matches_reference(db, ids, view: str, done_until_us: int) -> int:
    raw = raw_samples(db, ids)
    checked = 0
    for schema, res_s in (("prom_rollup_5m", 300), ("prom_rollup_1h", 3600)):
        stored = stored_windows(db, schema, view)
        expected = {}
        for sid, (times, bits) in raw.items():
            for end, agg in reference_windows(times, bits, res_s * 1_000_000).items():
                if end <= done_until_us:
                    expected[(sid, end)] = agg
        assert set(stored) == set(expected), schema
        for key, agg in expected.items():
            got = stored[key]
            for f in FIELDS:
                rel = 1e-12 if f in ("sum", "increase") else 0.0  # summation order differs
                assert same_float(float(got[f]), float(agg[f]), rel), (schema, key, f, got[f], agg[f])
            checked += 1
    return checked


@pytest.fixture
def hourly(db):
    db.execute("SELECT prom_api.set_compressed_chunk_interval('1 hour')")
    db.execute("SELECT prom_api.set_compression_delay('0')")
    ids = series_ids(db, [{"__name__": "rolled", "instance": f"h{i}"} for i in range(12)])
    hour = db.execute("SELECT date_trunc('hour', now())").fetchone()[0]
    return db, ids, hour


def apply_retention(db) -> None:
    """Maintenance applies rollup retention once an hour: as the next hourly run would."""
    db.execute("DELETE FROM _prom_catalog.maintenance_stat WHERE task = 'rollup_retention'")
    maintain(db)


def done_until_us(db) -> int:
    return db.execute("SELECT _prom_catalog.timestamptz_to_us(prom_api.get_rollups_done_until())").fetchone()[0]


def test_rollups_equal_an_independent_computation_and_grow_incrementally(hourly):
    db, ids, hour = hourly
    # 4 hours ending 3 hours before the current hour; starts off the hour, ends mid-window
    write(db, ids, hour - timedelta(hours=7, minutes=-7), 4 * 240 - 30, seed=1)
    maintain(db)
    first_done = done_until_us(db)
    assert first_done == us(hour)  # everything compacted: rollups up to the current hour
    assert assert_matches_reference(db, ids, "rolled", first_done) > 12 * 40
    rows_before = db.execute("SELECT count(*), sum(count) FROM prom_data.rollup").fetchone()

    # new data in the following hours (not late: their buckets were never rolled up); the next
    # run reads only the new slice and appends to the stored rows of the same periods
    db.execute("UPDATE _prom_catalog.rollup_progress SET done_until = %s", (hour - timedelta(hours=3),))
    write(db, ids, hour - timedelta(hours=3) + timedelta(seconds=10), 2 * 240, seed=2)
    maintain(db)
    assert done_until_us(db) == us(hour)
    assert assert_matches_reference(db, ids, "rolled", us(hour)) > 12 * 60
    rows_after = db.execute("SELECT count(*), sum(count) FROM prom_data.rollup").fetchone()
    assert rows_after[1] > rows_before[1]
    # one row per series per resolution per period: appended, not a row per run
    assert rows_after[0] <= rows_before[0] + 2 * 12 * 2


def test_backfill_behind_the_rollups_is_recomputed_on_request(hourly):
    db, ids, hour = hourly
    write(db, ids, hour - timedelta(hours=3, minutes=-1), 240, seed=5)
    maintain(db)
    assert done_until_us(db) == us(hour)
    # older samples written now: behind the rollups, left out until recompute_rollups
    write(db, ids, hour - timedelta(hours=6, minutes=-1), 240, seed=6)
    maintain(db)
    with pytest.raises(AssertionError):
        assert_matches_reference(db, ids, "rolled", us(hour))
    assert db.execute("SELECT prom_api.recompute_rollups(%s)", (hour - timedelta(hours=6, minutes=30),)
                      ).fetchone()[0] == hour - timedelta(hours=7)
    maintain(db)
    assert assert_matches_reference(db, ids, "rolled", us(hour)) > 0
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="must be a finite time"):
        db.execute("SELECT prom_api.recompute_rollups('infinity')")


def test_delete_series_removes_the_deleted_samples_from_the_rollups(hourly):
    db, ids, hour = hourly
    write(db, ids, hour - timedelta(hours=5, minutes=-1), 4 * 240, seed=7)
    maintain(db)
    done = done_until_us(db)
    assert assert_matches_reference(db, ids, "rolled", done) > 0
    # off the window grid in one series (the windows at both ends keep some of their samples),
    # all of another
    db.execute("SELECT prom_api.delete_series('rolled{instance=\"h3\"}', %s, %s)",
               (hour - timedelta(hours=4, minutes=7, seconds=20), hour - timedelta(hours=2, minutes=2, seconds=50)))
    db.execute("SELECT prom_api.delete_series('rolled{instance=\"h6\"}')")
    assert assert_matches_reference(db, ids, "rolled", done) > 0
    assert db.execute("SELECT count(*) FROM prom_data.rollup WHERE series_id = %s", (ids[6],)).fetchone()[0] == 0
    # a deletion outside every stored window changes nothing, and the next runs add nothing back
    db.execute("SELECT prom_api.delete_series('rolled', %s, %s)", (hour + timedelta(days=1), hour + timedelta(days=2)))
    maintain(db)
    assert assert_matches_reference(db, ids, "rolled", done) > 0


def test_maintenance_with_nothing_final_computes_nothing(hourly):
    db, ids, hour = hourly
    db.execute("SELECT prom_api.set_compression_delay('1 day')")
    write(db, ids, hour - timedelta(hours=3), 240, seed=3)
    maintain(db)
    # level-1 partitions are not final: no rollups, progress stays before them
    assert db.execute("SELECT count(*) FROM prom_data.rollup").fetchone()[0] == 0
    assert done_until_us(db) <= us(hour - timedelta(hours=3))


def test_rollup_retention_per_resolution_and_metric(hourly):
    db, ids, hour = hourly
    other = series_ids(db, [{"__name__": "kept", "instance": "x"}])
    start = hour - timedelta(days=65)  # rows are deleted per period: the 30-day one of 1 h rows ended too
    write(db, ids + other, start, 240, seed=4)
    maintain(db)
    per_res = dict(db.execute("SELECT resolution_s, count(*) FROM prom_data.rollup WHERE series_id = ANY(%s) GROUP BY 1",
                              (ids,)).fetchall())
    assert per_res[300] > 0 and per_res[3600] > 0
    db.execute("SELECT prom_api.set_metric_rollup_retention_period('rolled', '5m', '1 day')")
    assert db.execute("SELECT prom_api.get_metric_rollup_retention_period('rolled', '5m')").fetchone()[0] == timedelta(days=1)
    apply_retention(db)
    after = dict(db.execute("SELECT resolution_s, count(*) FROM prom_data.rollup WHERE series_id = ANY(%s) GROUP BY 1",
                            (ids,)).fetchall())
    assert 300 not in after and after[3600] == per_res[3600]  # 5 m rows past 1 day gone, 1 h kept
    # the other metric follows the default (365 days)
    assert db.execute("SELECT count(*) FROM prom_data.rollup WHERE series_id = %s AND resolution_s = 300",
                      (other[0],)).fetchone()[0] > 0
    db.execute("SELECT prom_api.set_default_rollup_retention_period('1h', '1 day')")
    apply_retention(db)
    assert db.execute("SELECT count(*) FROM prom_data.rollup WHERE resolution_s = 3600").fetchone()[0] == 0


def test_rollup_settings_refuse_bad_input(db):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid rollup resolution '10m'"):
        db.execute("SELECT prom_api.set_default_rollup_retention_period('10m', '1 day')")
    series_ids(db, [{"__name__": "m", "a": "b"}])
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid rollup retention period"):
        db.execute("SELECT prom_api.set_metric_rollup_retention_period('m', '5m', '1 minute')")



def test_reads_and_retention_follow_the_rows_asked_for(db):
    """Among 200,000 rollup rows (2,000 series x 100 days), PromQL's read of 5 series over two
    days reads those series' rows through the primary key, and retention reads only the rows
    past the shortest period in force through the (resolution_s, chunk_start) index."""
    db.execute("""
        INSERT INTO prom_data.rollup
        SELECT 300, s, timestamptz '2026-01-01' + d * interval '1 day', 1, '\\x00', '\\x00', '\\x00', '\\x00',
               '\\x00', '', '', '\\x00', '\\x00', ''
        FROM generate_series(1, 2000) s, generate_series(0, 99) d""")
    db.execute("ANALYZE prom_data.rollup")
    from support.plans import explain, nodes

    read_sql = ("SELECT r.series_id, r.times FROM prom_data.rollup r WHERE r.resolution_s = 300 "
                "AND r.series_id = ANY ('{5,6,7,8,9}'::int8[]) AND r.chunk_start > timestamptz '2026-02-01' - interval '1 day' "
                "AND r.chunk_start <= timestamptz '2026-02-02'")
    plan = explain(db, read_sql)
    scans = [n for n in nodes(plan) if "Scan" in n["Node Type"]]
    assert [n["Node Type"] for n in scans] in (["Index Scan"], ["Bitmap Heap Scan", "Bitmap Index Scan"])
    assert all(n.get("Index Name", "rollup_pkey") == "rollup_pkey" for n in scans)
    assert plan["Actual Rows"] == 10
    # retention with nothing due (defaults: a year) touches no row
    db.execute("SELECT pg_stat_force_next_flush()")
    before = db.execute("SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_user_tables "
                        "WHERE relid = 'prom_data.rollup'::regclass").fetchone()[0]
    assert db.execute("SELECT _prom_catalog.apply_rollup_retention()").fetchone()[0] == 0
    db.execute("SELECT pg_stat_force_next_flush()")
    db.execute("SELECT pg_stat_clear_snapshot()")
    after = db.execute("SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_user_tables "
                       "WHERE relid = 'prom_data.rollup'::regclass").fetchone()[0]
    assert after - before < 100


def test_days_without_samples_cost_no_slice_each(hourly):
    """A stray sample from 60 days ago and today's data: progress jumps over the empty days (one
    step per slice with data, not one per day since)."""
    db, ids, hour = hourly
    put(db, [ids[0]], [ms(hour - timedelta(days=60, minutes=30))], [1.0])
    write(db, ids, hour - timedelta(hours=3, minutes=-1), 240, seed=7)
    maintain(db)
    assert done_until_us(db) == us(hour)
    steps = db.execute("SELECT done FROM _prom_catalog.maintenance_stat WHERE task = 'rollup'").fetchone()[0]
    assert steps <= 4
    assert db.execute("SELECT count(*) FROM prom_data.rollup WHERE series_id = %s AND chunk_start < %s",
                      (ids[0], hour - timedelta(days=31))).fetchone()[0] == 2  # the stray sample's 5 m and 1 h rows
