"""Flush and compaction on a real database: reads answer the same before and after, late data merges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from lifecycle_db import EPOCH, STALE_BITS, install_helpers, put, read_exact, scrape_batch, series_ids, view_exact, ms

FAR = (datetime(1960, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))


@pytest.fixture
def loaded(db):
    install_helpers(db)
    rng = np.random.default_rng(42)
    ids = series_ids(db, [{"__name__": f"m_{i % 3}", "instance": f"host-{i}"} for i in range(12)])
    # two old ranges (1970 and yesterday) spanning several head partitions and buckets
    for start in (EPOCH + timedelta(hours=2), datetime.now(timezone.utc) - timedelta(days=1)):
        sids, times, values = scrape_batch(rng, ids, ms(start), 1500)
        put(db, sids, times, values)
    # duplicates with other values, as a retried remote_write would send
    put(db, sids[:40], times[:40], [v + 1 for v in values[:40]])
    put(db, sids[:40], times[:40], values[:40])
    db.execute("SELECT prom_api.set_compression_delay('0')")
    db.execute("SELECT prom_api.set_default_retention_period('36500 days')")  # keep 1970
    return db, ids


def snapshot(db, ids):
    return read_exact(db, ids, *FAR), [view_exact(db, f"m_{i}") for i in range(3)]


def stale_markers(samples) -> int:
    return sum(v == STALE_BITS.to_bytes(8, "big") for _, _, vals in samples for v in vals)


def test_compressed_reads_equal_uncompressed(loaded):
    db, ids = loaded
    before = snapshot(db, ids)
    # the data holds stale markers (written bit-exactly), which must come back as such
    assert stale_markers(before[0]) == 2 * 3
    assert sum(v == STALE_BITS.to_bytes(8, "big") for view in before[1] for _, _, v in view) == 2 * 3
    head_rows = db.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0]
    flushed = db.execute("SELECT prom_api.compress_due_chunks()").fetchone()[0]
    assert flushed == head_rows
    stored = db.execute("SELECT sum(count) FROM prom_data.compressed_sample").fetchone()[0]
    assert stored == 2 * 12 * 1500  # duplicates removed
    # the flushed partitions are still there (a snapshot older than the flush may read them):
    # readers see every sample twice, and deduplicate
    assert db.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0] == head_rows
    assert snapshot(db, ids) == before
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")  # drops them
    assert db.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0] == 0
    assert snapshot(db, ids) == before
    # ranges that cut through compressed rows
    for start, end in ((EPOCH + timedelta(hours=3), EPOCH + timedelta(hours=3, minutes=7)),
                       (EPOCH, EPOCH + timedelta(hours=2, seconds=15))):
        db.execute("SELECT 1")
        assert read_exact(db, ids, start, end) == [
            (sid, [t for t in times if start <= t <= end], [v for t, v in zip(times, vals) if start <= t <= end])
            for sid, times, vals in before[0]
            if any(start <= t <= end for t in times)]


def test_late_samples_merge_without_loss_or_duplicates(loaded):
    db, ids = loaded
    db.execute("SELECT prom_api.compress_due_chunks()")
    # late samples inside the compressed range: new times, and re-sent existing times
    late_t = ms(EPOCH + timedelta(hours=2, minutes=30)) + 7
    existing = db.execute("SELECT times[10] FROM prom_api.get_samples(%s, %s, %s)",
                          ([ids[1]], *FAR)).fetchone()[0]
    put(db, [ids[0], ids[0], ids[1]], [late_t, late_t + 1, ms(existing)], [1.5, 2.5, -1e300])
    merged = read_exact(db, ids, *FAR)
    assert sum(len(t) for _, t, _ in merged) == 2 * 12 * 1500 + 2
    # the partition was flushed but not dropped yet: the writer marked it, and it is flushed again
    assert db.execute("SELECT count(*) FROM _prom_catalog.chunks_to_flush() WHERE late").fetchone()[0] == 1
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")
    assert db.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0] == 0
    assert read_exact(db, ids, *FAR) == merged
    assert db.execute("SELECT sum(count) FROM prom_data.compressed_sample").fetchone()[0] == 2 * 12 * 1500 + 2


def test_reader_role_reads_compressed(loaded, pg_cluster, db_name):
    import psycopg

    db, ids = loaded
    db.execute("SELECT prom_api.compress_due_chunks()")
    with psycopg.connect(pg_cluster.uri(db_name, user="promscale_reader"), autocommit=True) as reader:
        rows = reader.execute("SELECT count(*), sum(cardinality(times)) FROM prom_api.get_samples(%s, %s, %s)",
                              (ids, *FAR)).fetchone()
        assert rows == (12, 2 * 12 * 1500)
        assert reader.execute("SELECT count(*) FROM prom_metric.m_0").fetchone()[0] == 2 * 4 * 1500
        # the time-bounded form of the view answers like the view filtered on time
        start, end = EPOCH + timedelta(hours=3), EPOCH + timedelta(hours=5)
        assert reader.execute(
            "SELECT series_id, time, float8send(value) FROM prom_api.get_metric_samples('m_1', %s, %s) ORDER BY 1, 2",
            (start, end)).fetchall() == reader.execute(
            "SELECT series_id, time, float8send(value) FROM prom_metric.m_1 WHERE time BETWEEN %s AND %s ORDER BY 1, 2",
            (start, end)).fetchall() != []


def test_maintenance_time_budget_and_progress_view(loaded):
    db, ids = loaded
    pending = db.execute("SELECT pending FROM prom_info.maintenance WHERE task = 'flush'").fetchone()[0]
    assert pending == db.execute("SELECT count(*) FROM _prom_catalog.sample_chunk").fetchone()[0] > 0
    # a spent budget starts no step; the work stays pending
    db.execute("CALL prom_api.execute_maintenance(max_duration => '0', log_steps => false)")
    assert db.execute("SELECT pending, done FROM prom_info.maintenance WHERE task = 'flush'").fetchone() == (pending, 0)
    notices: list[str] = []
    db.add_notice_handler(lambda d: notices.append(d.message_primary))
    db.execute("CALL prom_api.execute_maintenance()")
    steps = [n for n in notices if "flushed sample_" in n]
    assert steps and notices[-1].startswith("promscale maintenance: done")
    assert db.execute("SELECT pending, done FROM prom_info.maintenance WHERE task = 'flush'").fetchone() == (0, len(steps))
    assert any(n.startswith(f"promscale maintenance: dropped {pending} flushed head partitions") for n in notices)
    storage = dict(db.execute("SELECT tier, samples FROM prom_info.storage").fetchall())
    assert storage == {"head": 0, "flushed": 0, "compressed": 2 * 12 * 1500}


def test_python_read_path_equals_get_samples(loaded):
    """lifecycle.read.read_samples (for PL/Python callers such as the PromQL engine) answers
    exactly like prom_api.get_samples, on compressed, head and mixed data."""
    db, ids = loaded
    db.execute("SELECT prom_api.compress_due_chunks()")
    late = ms(EPOCH + timedelta(hours=2, minutes=30)) + 3
    put(db, [ids[0], ids[2]], [late, late], [42.0, -1.0])
    db.execute("""
        CREATE FUNCTION read_samples_test(ids bigint[], s bigint, e bigint)
        RETURNS TABLE (series_id bigint, times bigint[], bits bigint[]) LANGUAGE plpython3u AS $$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.lifecycle.read")
out = mod.read_samples(plpy, SD, ids, s, e)
return [(sid, a.times.tolist(), a.values.view("<i8").tolist()) for sid, a in sorted(out.items())]
$$""")
    for start, end in (FAR, (EPOCH + timedelta(hours=2, minutes=10), EPOCH + timedelta(hours=3))):
        expected = db.execute(
            "SELECT series_id, ARRAY(SELECT _prom_catalog.timestamptz_to_us(t) FROM unnest(times) t), "
            "ARRAY(SELECT ('x' || encode(float8send(v), 'hex'))::bit(64)::bigint FROM unnest(vals) v) "
            "FROM prom_api.get_samples(%s, %s, %s) ORDER BY 1", (ids, start, end)).fetchall()
        got = db.execute("SELECT * FROM read_samples_test(%s, _prom_catalog.timestamptz_to_us(%s), "
                         "_prom_catalog.timestamptz_to_us(%s))", (ids, start, end)).fetchall()
        assert got == expected and len(got) == 12
