"""Flushing head partitions: the head stays a few partitions long whatever the history, its
space comes back, old snapshots keep their answers, and writers racing a flush or a drop
lose nothing (the protocol of sql/idempotent/322-flush.sql and 060-ingest.sql)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest
from werkzeug.test import Client

from lifecycle_db import ms, put, read_exact, scrape_batch, series_ids
from pyconnector import Config, create_app
from support.remote_write import HEADERS, encode, write_request

FAR = (datetime(1960, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
WRITE_LOCK = 1886547831  # a head partition's write lock (322-flush.sql)


def maintain(db: psycopg.Connection) -> None:
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")


def head_partitions(db: psycopg.Connection) -> list[tuple[str, datetime, datetime]]:
    return db.execute("SELECT table_name, start_time, end_time FROM _prom_catalog.sample_chunk ORDER BY start_time").fetchall()


def attached(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'prom_data.sample'::regclass").fetchone()[0]


def wait_until_blocked(db: psycopg.Connection, pid: int) -> None:
    """Until session ``pid`` waits for a lock (a deadline only guards against a hang)."""
    deadline = time.monotonic() + 60
    while db.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] != "Lock":
        assert time.monotonic() < deadline, "the session never waited for the lock"
        time.sleep(0.02)


@pytest.fixture
def history(db):
    """Ten series with three days of scrapes at 15 s, ending an hour ago."""
    rng = np.random.default_rng(11)
    ids = series_ids(db, [{"__name__": "hist", "instance": f"h{i}"} for i in range(10)])
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    steps = 3 * 24 * 240
    start = end - timedelta(seconds=15 * steps)
    for first in range(0, steps, 2000):
        put(db, *scrape_batch(rng, ids, ms(start) + first * 15_000, min(2000, steps - first)))
    return db, ids


def test_head_partitions_do_not_grow_with_history(history):
    db, ids = history
    before = read_exact(db, ids, *FAR)
    names = [name for name, _, _ in head_partitions(db)]
    # 15-minute partitions: 288 when the first scrape falls within 15 s after a quarter hour, else 289
    assert len(names) >= 3 * 24 * 4
    maintain(db)
    # every partition was closed: all flushed and dropped, tables and space gone
    assert head_partitions(db) == [] and attached(db) == 0
    assert db.execute("SELECT count(*) FROM unnest(%s::text[]) n WHERE to_regclass('prom_data.' || n) IS NOT NULL",
                      (names,)).fetchone()[0] == 0
    assert read_exact(db, ids, *FAR) == before
    # the last hours are flushed rows (level 1, RAW) of the open buckets; older ones compacted
    levels = dict(db.execute("SELECT level, sum(count) FROM prom_data.compressed_sample GROUP BY 1").fetchall())
    assert levels[2] > levels.get(1, 0) and sum(levels.values()) == 3 * 24 * 240 * 10
    # new samples: the current partition stays (not closed), nothing else is attached
    put(db, ids, [ms(datetime.now(timezone.utc))] * len(ids), [1.0] * len(ids))
    maintain(db)
    ((_, start, end),) = head_partitions(db)
    assert end > db.execute("SELECT now() - prom_api.get_flush_delay()").fetchone()[0] and attached(db) == 1


def test_flushed_partition_is_dropped_once_no_snapshot_needs_it(history):
    """A REPEATABLE READ transaction that began before the flush keeps reading the head
    partition (the flushed rows are invisible to it): the drop waits for it to end."""
    db, ids = history
    before = read_exact(db, ids, *FAR)
    with psycopg.connect(db.info.dsn, autocommit=False) as reader:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert read_exact(reader, ids, *FAR) == before
        maintain(db)
        pending = db.execute("SELECT pending FROM prom_info.maintenance WHERE task = 'drop_flushed'").fetchone()[0]
        assert pending == len(head_partitions(db)) > 0 and attached(db) == pending
        assert read_exact(reader, ids, *FAR) == before  # still every sample, from the head
        reader.execute("COMMIT")
    maintain(db)
    assert head_partitions(db) == [] and attached(db) == 0
    assert read_exact(db, ids, *FAR) == before


def test_flush_waits_for_a_writer_inside_and_includes_its_rows(history):
    db, ids = history
    (_, start, _), *_ = head_partitions(db)
    late = start + timedelta(milliseconds=1)  # not a scrape time: a new sample
    with psycopg.connect(db.info.dsn, autocommit=False) as writer, \
            psycopg.connect(db.info.dsn, autocommit=True) as maintainer:
        put(writer, [ids[0]], [ms(late)], [42.0])  # holds the partition's write lock until commit
        thread = threading.Thread(target=maintain, args=(maintainer,))
        thread.start()
        wait_until_blocked(db, maintainer.info.backend_pid)
        writer.commit()
        thread.join(120)
    assert head_partitions(db) == []
    assert db.execute("SELECT times, vals FROM prom_api.get_samples(%s, %s, %s)",
                      ([ids[0]], late, late)).fetchall() == [([late], [42.0])]


def test_writer_waits_for_a_flush_then_gives_up_with_a_retryable_error(history, pg_cluster, db_name, tmp_path):
    """A flush holds the write lock of its partitions (seconds at a million series): a late
    writer waits at most lock_timeout, then the connector answers 503 and Prometheus retries."""
    db, ids = history
    (_, start, _), *_ = head_partitions(db)
    chunk_id = db.execute("SELECT id FROM _prom_catalog.sample_chunk WHERE start_time = %s", (start,)).fetchone()[0]
    app = create_app(Config(db_uri=pg_cluster.uri(db_name, "promscale_writer"), telemetry_dir=str(tmp_path),
                            maintenance_interval=0))
    body = encode(write_request([({"__name__": "hist", "instance": "h0"}, [(ms(start) + 2, 7.0)])]))
    with psycopg.connect(db.info.dsn, autocommit=False) as flush:
        flush.execute("SELECT pg_advisory_xact_lock(%s, %s)", (WRITE_LOCK, chunk_id))  # as flush_chunks does
        with pytest.raises(psycopg.errors.LockNotAvailable):
            put(db, [ids[0]], [ms(start) + 1], [1.0])
        assert Client(app).post("/write", data=body, headers=HEADERS).status_code == 503
    assert Client(app).post("/write", data=body, headers=HEADERS).status_code == 204


def test_rows_written_after_a_flush_are_flushed_again_not_dropped(history):
    db, ids = history
    before = read_exact(db, ids, *FAR)
    with psycopg.connect(db.info.dsn, autocommit=False) as reader:  # keeps the flushed partitions attached
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT 1")
        maintain(db)
        (name, start, _), *_ = head_partitions(db)
        late = start + timedelta(milliseconds=1)
        put(db, [ids[3]], [ms(late)], [-5.0])  # into a flushed partition: marked as holding late rows
        assert db.execute("SELECT s.late_rows FROM _prom_catalog.sample_chunk_state s "
                          "JOIN _prom_catalog.sample_chunk c ON c.id = s.chunk_id WHERE c.table_name = %s",
                          (name,)).fetchone() == (True,)
        reader.execute("COMMIT")
    assert db.execute("SELECT count(*) FROM _prom_catalog.chunks_to_flush() WHERE late").fetchone()[0] == 1
    db.execute("SELECT _prom_catalog.drop_flushed_chunks()")  # every partition but the late one
    assert [n for n, _, _ in head_partitions(db)] == [name]
    maintain(db)  # flushes it again (merging), then drops it
    assert head_partitions(db) == []
    after = read_exact(db, ids, *FAR)
    assert db.execute("SELECT times, vals FROM prom_api.get_samples(%s, %s, %s)",
                      ([ids[3]], late, late)).fetchall() == [([late], [-5.0])]
    assert sum(len(t) for _, t, _ in after) == sum(len(t) for _, t, _ in before) + 1


def test_writer_whose_partition_is_dropped_meanwhile_writes_a_new_one(history):
    db, ids = history
    maintain(db)
    put(db, [ids[0]], [ms(datetime.now(timezone.utc) - timedelta(hours=2))], [3.0])  # a late sample: a new partition
    (name, start, _), = head_partitions(db)
    db.execute("SELECT prom_api.compress_due_chunks()")  # flushed, not dropped
    late = start + timedelta(seconds=7)
    with psycopg.connect(db.info.dsn, autocommit=False) as dropper, \
            psycopg.connect(db.info.dsn, autocommit=True) as writer:
        assert dropper.execute("SELECT _prom_catalog.drop_flushed_chunks()").fetchone()[0] == 1  # not committed
        thread = threading.Thread(target=put, args=(writer, [ids[1]], [ms(late)], [9.0]))
        thread.start()  # finds the partition, waits for its write lock
        wait_until_blocked(db, writer.info.backend_pid)
        dropper.commit()
        thread.join(60)
    ((new_name, new_start, _),) = head_partitions(db)
    assert new_name != name and new_start == start
    assert db.execute("SELECT times, vals FROM prom_api.get_samples(%s, %s, %s)",
                      ([ids[1]], late, late)).fetchall() == [([late], [9.0])]


def test_flush_refuses_an_old_snapshot(history):
    db, _ = history
    with psycopg.connect(db.info.dsn, autocommit=False) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(psycopg.errors.InvalidTransactionState, match="READ COMMITTED"):
            conn.execute("SELECT prom_api.compress_due_chunks()")


def test_flushed_rows_merge_late_duplicate_and_out_of_order_samples(db):
    """In an open bucket (level 1): samples written out of order and twice come out sorted,
    the smallest value kept; a partition flushed again merges into the row it wrote before."""
    db.execute("SELECT prom_api.set_compression_delay('1 day')")  # the bucket stays open: level 1
    (sid,) = series_ids(db, [{"__name__": "lvl1"}])
    start = db.execute("SELECT _prom_catalog.aligned_chunk_start(now() - interval '1 hour', interval '15 minutes')"
                       ).fetchone()[0]
    t = [start + timedelta(seconds=15 * i) for i in range(6)]
    put(db, [sid] * 3, [ms(x) for x in t[3:]], [3.0, 4.0, 5.0])   # later times first
    put(db, [sid] * 3, [ms(x) for x in t[:3]], [0.0, 1.0, 2.0])
    put(db, [sid], [ms(t[1])], [-1.0])                            # a duplicate time, smaller value
    with psycopg.connect(db.info.dsn, autocommit=False) as reader:  # keeps the partition attached
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT 1")
        maintain(db)
        key, count = db.execute("SELECT chunk_start, count FROM prom_data.compressed_sample WHERE level = 1").fetchone()
        assert (key, count) == (start, 6)
        put(db, [sid, sid], [ms(t[1]), ms(t[5]) + 1], [-2.0, 6.0])  # late: into the flushed partition
        reader.execute("COMMIT")
    maintain(db)
    assert head_partitions(db) == []
    assert db.execute("SELECT chunk_start, count, get_byte(times, 0) FROM prom_data.compressed_sample").fetchall() == [
        (start, 7, 3)]  # still one RAW row under the key, merged
    assert db.execute("SELECT times, vals FROM prom_api.get_samples(%s, %s, %s)", ([sid], *FAR)).fetchall() == [
        (t + [t[5] + timedelta(milliseconds=1)], [0.0, -2.0, 2.0, 3.0, 4.0, 5.0, 6.0])]
