"""Retention per metric, applied by maintenance; series garbage collection with the epoch check."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from werkzeug.test import Client

from lifecycle_db import install_helpers, ms, put, series_ids
from pyconnector import Config, create_app
from support.remote_write import HEADERS, encode, write_request

NOW = datetime.now(timezone.utc)
AGES = (100, 20, 1)  # days


def maintain(db) -> list[str]:
    notices: list[str] = []
    db.add_notice_handler(lambda d: notices.append(d.message_primary))
    db.execute("CALL prom_api.execute_maintenance()")
    return notices


def day_counts(db, metric: str) -> dict[int, int]:
    rows = db.execute(f"SELECT round(extract(epoch FROM now() - time) / 86400)::int, count(*) "
                      f"FROM prom_metric.{metric} GROUP BY 1 ORDER BY 1").fetchall()
    return dict(rows)


@pytest.fixture
def aged(db):
    """Metrics a (default 90 days), b (10 days), c (200 days), each with samples 100, 20 and 1 day old;
    series b_gone only has samples 100 and 20 days old."""
    install_helpers(db)
    ids = series_ids(db, [{"__name__": name, "job": "x"} for name in ("a", "b", "c")]
                     + [{"__name__": "b", "job": "gone"}])
    for age in AGES:
        t = ms(NOW - timedelta(days=age))
        for sid in ids[:3] + ([ids[3]] if age > 10 else []):
            put(db, [sid] * 10, [t + 15000 * i for i in range(10)], [float(i) for i in range(10)])
    db.execute("SELECT prom_api.set_compression_delay('0')")
    db.execute("SELECT prom_api.set_metric_retention_period('b', '10 days')")
    db.execute("SELECT prom_api.set_metric_retention_period('c', '200 days')")
    return db, ids


def test_retention_per_metric(aged):
    db, ids = aged
    assert db.execute("SELECT pending FROM prom_info.maintenance WHERE task = 'flush'").fetchone()[0] > 0
    notices = maintain(db)
    assert any("flushed" in n for n in notices) and any("purge_" in n for n in notices), notices
    assert day_counts(db, "a") == {20: 10, 1: 10}
    assert day_counts(db, "b") == {1: 10}
    assert day_counts(db, "c") == {100: 10, 20: 10, 1: 10}
    assert db.execute("SELECT task, pending FROM prom_info.maintenance WHERE pending > 0").fetchall() == [
        ("delete_series", 1)]
    # c back to the default: the 100-day-old partitions are dropped whole
    db.execute("SELECT prom_api.reset_metric_retention_period('c')")
    assert db.execute("SELECT prom_api.get_metric_retention_period('c')").fetchone()[0] == timedelta(days=90)
    notices = maintain(db)
    assert any("drop_compressed" in n for n in notices), notices
    assert day_counts(db, "c") == {20: 10, 1: 10}
    assert db.execute("SELECT count(*) FROM _prom_catalog.compressed_partition WHERE end_time < now() - interval '90 days'"
                      ).fetchone()[0] == 0
    assert db.execute("SELECT done > 0 FROM prom_info.maintenance WHERE task = 'drop_compressed'").fetchone()[0]
    # a lower default applies at once to everything without an override
    db.execute("SELECT prom_api.set_default_retention_period('5 days')")
    maintain(db)
    assert (day_counts(db, "a"), day_counts(db, "b"), day_counts(db, "c")) == ({1: 10}, {1: 10}, {1: 10})


def test_bad_retention_arguments_are_refused(db):
    with pytest.raises(psycopg.errors.UndefinedObject, match="unknown metric 'nope'"):
        db.execute("SELECT prom_api.set_metric_retention_period('nope', '1 day')")
    series_ids(db, [{"__name__": "m"}])
    for bad in ("'1 month'", "'10 minutes'", "NULL"):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="retention period"):
            db.execute(f"SELECT prom_api.set_metric_retention_period('m', {bad})")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="retention period"):
            db.execute(f"SELECT prom_api.set_default_retention_period({bad})")


def test_series_without_samples_are_collected_and_cached_ids_refused(aged):
    db, ids = aged
    gone = ids[3]
    assert db.execute("SELECT prom_api.get_series_epoch()").fetchone()[0] == 0
    maintain(db)
    # the epoch moved on: a writer that resolved its ids before is refused as a whole...
    assert db.execute("SELECT prom_api.get_series_epoch()").fetchone()[0] == 1
    write = ("SELECT prom_api.put_samples(ARRAY[%s]::bigint[], ARRAY[now()], ARRAY[1.0], %s)")
    with pytest.raises(psycopg.errors.DatabaseError, match="epoch 0 is out of date") as refused:
        db.execute(write, (ids[0], 0))
    assert refused.value.sqlstate == "PS001"
    # ... and one that read the current epoch is not checked id by id
    assert db.execute(write, (ids[0], 1)).fetchone()[0] == 1
    assert db.execute("SELECT delete_epoch IS NOT NULL FROM _prom_catalog.series WHERE id = %s", (gone,)).fetchone()[0]
    assert db.execute("SELECT count(*) FROM prom_series.b").fetchone()[0] == 1
    # a writer holding the old id is refused, with the SQLSTATE the connector acts on
    with pytest.raises(psycopg.errors.DatabaseError) as refused:
        put(db, [gone], [ms(NOW)], [1.0])
    assert refused.value.sqlstate == "PS001"
    # the first maintenance after the mark confirms the epoch, the next deletes the series
    maintain(db)
    maintain(db)
    assert db.execute("SELECT count(*) FROM _prom_catalog.series WHERE id = %s", (gone,)).fetchone()[0] == 0
    with pytest.raises(psycopg.errors.DatabaseError, match="deleted by retention"):
        put(db, [gone], [ms(NOW)], [1.0])
    # resolving the labels again gives a new, live series
    (new_id,) = series_ids(db, [{"__name__": "b", "job": "gone"}])
    assert new_id != gone
    assert put(db, [new_id], [ms(NOW)], [1.0]) == 1


def test_marked_series_revive_when_written_again(aged):
    db, ids = aged
    maintain(db)
    (same,) = series_ids(db, [{"__name__": "b", "job": "gone"}])
    assert same == ids[3]
    assert db.execute("SELECT delete_epoch FROM _prom_catalog.series WHERE id = %s", (same,)).fetchone()[0] is None
    assert put(db, [same], [ms(NOW)], [2.0]) == 1
    maintain(db)
    maintain(db)
    assert db.execute("SELECT count(*) FROM prom_metric.b WHERE series_id = %s", (same,)).fetchone()[0] == 1


def test_connector_with_cached_ids_recovers_after_gc(aged, pg_cluster, db_name, tmp_path):
    """A connector cached the id of a series that retention then deleted: its next write
    lands on a live series, and nothing is stored under the deleted id."""
    db, ids = aged
    app = create_app(Config(db_uri=pg_cluster.uri(db_name, "promscale_writer"), telemetry_dir=str(tmp_path)))
    client = Client(app)
    labels = {"__name__": "b", "job": "gone"}
    t0 = ms(NOW - timedelta(days=30))
    assert client.post("/write", data=encode(write_request([(labels, [(t0, 1.0)])])), headers=HEADERS).status_code == 204
    assert len(app.prometheus.series_cache) == 1
    maintain(db)       # retention removes every sample of the series and marks it
    maintain(db)
    maintain(db)       # ... and deletes it
    assert db.execute("SELECT count(*) FROM _prom_catalog.series WHERE id = %s", (ids[3],)).fetchone()[0] == 0
    t1 = ms(NOW)
    assert client.post("/write", data=encode(write_request([(labels, [(t1, 2.0)])])), headers=HEADERS).status_code == 204
    rows = db.execute("SELECT series_id, value FROM prom_metric.b WHERE labels->>'job' = 'gone'").fetchall()
    assert len(rows) == 1 and rows[0][0] != ids[3] and rows[0][1] == 2.0
    assert db.execute("SELECT count(*) FROM prom_data.sample WHERE series_id = %s", (ids[3],)).fetchone()[0] == 0
