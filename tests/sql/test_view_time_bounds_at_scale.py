"""The prom_metric views' time filters at 100,000 series: a time-filtered view query reads the
compressed rows of its series and range through index paths, in one partition, whatever else
the catalog and the compressed tier hold. Asserted on plans, never on timings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest

from promscale.codec import encode_times, encode_values
from support.plans import compressed_scans, decoded_rows, explain, nodes
from support.scale_catalog import BIG_METRIC

SMALL_METRIC = "scale_small_0"
BUCKET = timedelta(hours=4)
DAYS = 3
US_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)


def encoded_bucket(start: datetime) -> tuple[bytes, bytes, int]:
    """(times, vals, count) of a row holding one sample a minute over the bucket from ``start``."""
    first = (start - US_2000) // timedelta(microseconds=1)
    times = first + np.arange(240, dtype=np.int64) * 60_000_000
    return encode_times(times), encode_values(np.arange(240, dtype=np.float64)), 240


@pytest.fixture(scope="module")
def scale_history(scale_db_uri) -> dict:
    """Compressed rows: the small metric's 10 series in every bucket of 3 days; the big
    metric's 100,000 series in one bucket a day, 08:00 UTC (300,180 rows in the tier in all)."""
    with psycopg.connect(scale_db_uri, autocommit=True) as db:
        current = db.execute("SELECT _prom_catalog.aligned_chunk_start(now(), interval '4 hours')").fetchone()[0]
        buckets = [current - BUCKET * (i + 1) for i in range(6 * DAYS)]
        db.execute("SELECT _prom_catalog.ensure_compressed_partitions(%s)", (buckets,))
        for start in buckets:
            times, vals, count = encoded_bucket(start)
            metrics = [SMALL_METRIC] + ([BIG_METRIC] if start.astimezone(timezone.utc).hour == 8 else [])  # mid-day: one partition
            db.execute(
                "INSERT INTO prom_data.compressed_sample (series_id, chunk_start, min_time, max_time, count, times, vals, level) "
                "SELECT s.id, %(start)s, %(start)s, %(start)s + interval '239 minutes', %(count)s, %(times)s, %(vals)s, 2 "
                "FROM _prom_catalog.series s JOIN _prom_catalog.metric m ON m.id = s.metric_id "
                "WHERE m.metric_name = ANY (%(metrics)s)",
                {"start": start, "count": count, "times": times, "vals": vals, "metrics": metrics})
        db.execute("ANALYZE prom_data.compressed_sample")
        total = db.execute("SELECT count(*) FROM prom_data.compressed_sample").fetchone()[0]
        big_bucket = next(b for b in buckets if b.astimezone(timezone.utc).hour == 8)
    assert total >= 100_000 * DAYS
    return {"uri": scale_db_uri, "current": current, "big_bucket": big_bucket}


@pytest.fixture
def conn(scale_history):
    with psycopg.connect(scale_history["uri"], autocommit=True) as c:
        c.execute("SET max_parallel_workers_per_gather = 0")
        yield c


def assert_index_paths(plan: dict) -> None:
    """Compressed rows reached through the (series_id, chunk_start) key with a chunk_start bound,
    series through an index: no scan of a whole compressed partition or of the catalog."""
    scans = compressed_scans(plan)
    assert scans and all(n["Node Type"] in ("Index Scan", "Bitmap Heap Scan") for n in scans), scans
    conditions = [n.get("Index Cond", "") for n in nodes(plan) if n.get("Index Name", "").startswith("compressed_")]
    assert conditions and all("series_id" in c and "chunk_start" in c for c in conditions), conditions
    assert not [n for n in nodes(plan) if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "series"]


def test_recent_window_of_a_small_metric(conn):
    plan = explain(conn, f"SELECT count(*) FROM prom_metric.{SMALL_METRIC} WHERE time > now() - interval '10 minutes'")
    assert decoded_rows(plan) <= 10  # the last compressed bucket, only if it ended less than 10 minutes ago
    scans = compressed_scans(plan)
    assert len(scans) <= 1
    # today's partition holds only the small metric's few rows of today (the big metric's are at 08:00 on
    # earlier days): reading it whole or through its key is the planner's choice by its statistics
    for scan in scans:
        rows = conn.execute("SELECT count(*) FROM prom_data.%s" % scan["Relation Name"]).fetchone()[0]
        assert scan["Node Type"] != "Seq Scan" or rows <= 6 * 10, (scan["Relation Name"], rows)


def test_past_window_of_a_small_metric(conn, scale_history):
    # a mid-day bucket: the rows' chunk_start bound (start - 4 h) stays in the bucket's daily partition
    # (a window starting in the first 4 hours of a day must look into the day before, whatever the time now)
    start = scale_history["big_bucket"]
    plan = explain(conn, f"SELECT count(*), sum(value) FROM prom_metric.{SMALL_METRIC} "
                         "WHERE time >= %s AND time < %s", (start + timedelta(minutes=5), start + timedelta(minutes=35)))
    assert decoded_rows(plan) == 10  # one row per series: 30 minutes of one 4-hour bucket
    assert len(compressed_scans(plan)) == 1
    assert_index_paths(plan)


def test_one_series_of_the_big_metric(conn, scale_history):
    series_id = conn.execute(f"SELECT max(series_id) FROM prom_series.{BIG_METRIC} WHERE instance = 'host-7'"
                             ).fetchone()[0]
    start = scale_history["big_bucket"]
    plan = explain(conn, f"SELECT time, value FROM prom_metric.{BIG_METRIC} WHERE series_id = %s "
                         "AND time BETWEEN %s AND %s", (series_id, start, start + timedelta(hours=1)))
    assert decoded_rows(plan) == 1
    assert_index_paths(plan)


def test_a_window_of_the_big_metric_reads_one_partition(conn, scale_history):
    start = scale_history["big_bucket"]
    sql = f"SELECT count(*) FROM prom_metric.{BIG_METRIC} WHERE time BETWEEN %s AND %s"
    plan = explain(conn, sql, (start + timedelta(minutes=10), start + timedelta(minutes=20)), analyze=False)
    assert len(compressed_scans(plan)) == 1  # pruned while planning: the bounds are constants
    filters = " ".join(n.get("Filter", "") + n.get("Index Cond", "") + n.get("Recheck Cond", "")
                       for n in compressed_scans(plan))
    assert "max_time" in filters and "min_time" in filters


def test_a_label_filter_selecting_series_first_reads_only_theirs(conn, scale_history):
    """A filter on a label column is applied after the metric's rows of the range are read (a
    join with prom_series); selecting the series ids first with a matcher (the GIN index), as
    docs/sql-api.md shows, turns it into a series_id filter that reaches the rows through the
    index."""
    wanted = conn.execute(f"SELECT count(*) FROM prom_series.{BIG_METRIC} WHERE instance = 'host-7'").fetchone()[0]
    assert 0 < wanted <= 1_000  # of 100,000
    start = scale_history["big_bucket"]
    plan = explain(conn, f"SELECT instance, count(*), sum(value) FROM prom_metric.{BIG_METRIC} "
                         f"WHERE series_id = ANY (ARRAY(SELECT series_id FROM prom_series.{BIG_METRIC} "
                         "WHERE label_ids ? ('instance' == 'host-7'))) AND time BETWEEN %s AND %s GROUP BY 1",
                   (start, start + timedelta(hours=1)))
    assert decoded_rows(plan) == wanted
    assert_index_paths(plan)
