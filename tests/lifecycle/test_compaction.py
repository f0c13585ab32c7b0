"""Compaction of flushed (level 1) rows into fully encoded ones (level 2): answers unchanged,
the level-1 partition dropped whole, slices interleaved with late flushes, and maintenance
that finds nothing to do reads no sample table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest

from lifecycle_db import ms, put, read_exact, scrape_batch, series_ids

FAR = (datetime(1960, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
RAW = 3  # first byte of a RAW-encoded times column (codec/timestamps.py)


def maintain(db: psycopg.Connection) -> None:
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")


def levels(db: psycopg.Connection) -> dict[int, tuple[int, int]]:
    """level -> (rows, samples)"""
    return {level: (rows, samples) for level, rows, samples in db.execute(
        "SELECT level, count(*), sum(count) FROM prom_data.compressed_sample GROUP BY 1").fetchall()}


@pytest.fixture
def flushed(db):
    """Hourly buckets; two hours of scrapes of 30 series in closed buckets, flushed into
    level-1 rows (no bucket due for compaction yet: delay 1 day)."""
    db.execute("SELECT prom_api.set_compressed_chunk_interval('1 hour')")
    db.execute("SELECT prom_api.set_compression_delay('1 day')")
    ids = series_ids(db, [{"__name__": "c", "instance": f"h{i}"} for i in range(30)])
    end = db.execute("SELECT _prom_catalog.aligned_chunk_start(now() - interval '10 minutes', interval '1 hour')"
                     ).fetchone()[0]
    put(db, *scrape_batch(np.random.default_rng(4), ids, ms(end - timedelta(hours=2)), 480))
    maintain(db)
    assert db.execute("SELECT count(*) FROM _prom_catalog.sample_chunk").fetchone()[0] == 0
    assert set(levels(db)) == {1}
    return db, ids


def test_compaction_replaces_level1_rows_and_drops_their_partition(flushed):
    db, ids = flushed
    before = read_exact(db, ids, *FAR)
    level1 = [n for (n,) in db.execute("SELECT table_name FROM _prom_catalog.compressed_partition WHERE level = 1")]
    assert len(level1) >= 2 and db.execute("SELECT bool_and(get_byte(times, 0) = %s) FROM prom_data.compressed_sample",
                                           (RAW,)).fetchone()[0]
    raw_bytes = db.execute("SELECT sum(octet_length(times) + octet_length(vals)) FROM prom_data.compressed_sample").fetchone()[0]
    db.execute("SELECT prom_api.set_compression_delay('0')")
    maintain(db)
    assert db.execute("SELECT count(*) FROM _prom_catalog.compressed_partition WHERE level = 1").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM unnest(%s::text[]) n WHERE to_regclass('prom_data.' || n) IS NOT NULL",
                      (level1,)).fetchone()[0] == 0
    rows, samples = levels(db)[2]
    assert samples == 30 * 480 and set(levels(db)) == {2}
    # one row per series per hourly bucket it has samples in, fully encoded, much smaller
    assert rows == len({(sid, t.replace(minute=0, second=0, microsecond=0)) for sid, times, _ in before for t in times})
    assert db.execute("SELECT bool_and(min_time >= chunk_start AND max_time < chunk_start + interval '1 hour') "
                      "FROM prom_data.compressed_sample").fetchone()[0]
    assert not db.execute("SELECT bool_or(get_byte(times, 0) = %s) FROM prom_data.compressed_sample", (RAW,)).fetchone()[0]
    assert db.execute("SELECT sum(octet_length(times) + octet_length(vals)) FROM prom_data.compressed_sample"
                      ).fetchone()[0] * 3 < raw_bytes
    assert read_exact(db, ids, *FAR) == before


def test_compaction_in_slices_with_late_samples_in_between(db):
    """More series than one slice takes: the partition is sealed by the first slice, late
    samples for its bucket go straight to level 2 (merged), and the answer comes out whole."""
    db.execute("SELECT prom_api.set_compressed_chunk_interval('1 hour')")
    db.execute("SELECT prom_api.set_compression_delay('1 day')")
    ids = series_ids(db, [{"__name__": "s", "instance": f"h{i}"} for i in range(1200)])
    bucket = db.execute("SELECT _prom_catalog.aligned_chunk_start(now() - interval '2 hours', interval '1 hour')"
                        ).fetchone()[0]
    put(db, *scrape_batch(np.random.default_rng(5), ids, ms(bucket) + 60_000, 20))  # all in one bucket
    maintain(db)
    (part,) = db.execute("SELECT id FROM _prom_catalog.compressed_partition WHERE level = 1").fetchone()
    first = db.execute("SELECT _prom_catalog.compact_partition(%s, '0')", (part,)).fetchone()[0]
    assert 0 < first < 1200
    assert db.execute("SELECT compact_from > 0 AND compacted_xid IS NULL FROM _prom_catalog.compressed_partition "
                      "WHERE id = %s", (part,)).fetchone()[0]
    late = [min(ids), max(ids)]  # one compacted already (slices go in series id order), one not yet
    late_t = bucket + timedelta(minutes=30, milliseconds=3)
    put(db, late, [ms(late_t)] * 2, [11.0, 12.0])
    db.execute("SELECT prom_api.compress_due_chunks()")  # the partition is sealed: straight to level 2
    assert db.execute("SELECT count(*) FROM prom_data.compressed_sample WHERE level = 2 AND series_id = ANY (%s)",
                      (late,)).fetchone()[0] == 2
    expected = {sid: n for sid, n in db.execute(
        "SELECT series_id, cardinality(times) FROM prom_api.get_samples(%s, %s, %s)", (ids, *FAR)).fetchall()}
    db.execute("SELECT prom_api.set_compression_delay('0')")
    maintain(db)
    assert set(levels(db)) == {2} and levels(db)[2] == (1200, 1200 * 20 + 2)
    got = {sid: n for sid, n in db.execute(
        "SELECT series_id, cardinality(times) FROM prom_api.get_samples(%s, %s, %s)", (ids, *FAR)).fetchall()}
    assert got == expected and got[late[0]] == got[late[1]] == 21
    assert db.execute("SELECT times, vals FROM prom_api.get_samples(%s, %s, %s)",
                      ([late[1]], late_t, late_t)).fetchall() == [([late_t], [12.0])]


def test_maintenance_with_nothing_due_reads_no_sample_table(flushed):
    """What maintenance checks comes from small catalog tables: with samples in the current
    head partition and in level-1 rows, a run with nothing due scans none of them."""
    db, ids = flushed
    put(db, ids, [ms(datetime.now(timezone.utc))] * len(ids), [1.0] * len(ids))
    maintain(db)  # the hourly exemplar purge runs here
    tables = [r[0] for r in db.execute(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'prom_data' AND c.relkind = 'r'").fetchall()]
    assert any(t.startswith("prom_data.sample_") for t in tables) and any(t.startswith("prom_data.flushed_") for t in tables)

    def scans() -> dict[str, int]:
        db.execute("SELECT pg_stat_force_next_flush()")
        db.execute("SELECT pg_stat_clear_snapshot()")
        return dict(db.execute("SELECT relid::regclass::text, coalesce(seq_scan, 0) + coalesce(idx_scan, 0) "
                               "FROM pg_stat_user_tables WHERE schemaname = 'prom_data'").fetchall())

    before = scans()
    notices: list[str] = []
    db.add_notice_handler(lambda d: notices.append(d.message_primary))
    db.execute("CALL prom_api.execute_maintenance()")
    assert notices[-1].startswith("promscale maintenance: done, 0 steps")
    after = scans()
    assert {t: after[t] - before.get(t, 0) for t in tables if after.get(t, 0) != before.get(t, 0)} == {}
