"""pg_dump of a database with compressed, head and late data; pg_restore into a fresh
cluster; the restored database answers every query the same and keeps working."""

from __future__ import annotations

import subprocess
from pathlib import Path
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest

from lifecycle_db import EPOCH, install_helpers, ms, put, read_exact, scrape_batch, series_ids, view_exact
import pgcluster
from support.postgres import remove_cluster, start_cluster

FAR = (datetime(1960, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
NOW = datetime.now(timezone.utc)


@pytest.fixture
def second_cluster():
    cluster = start_cluster()
    yield cluster
    remove_cluster(cluster)


def answers(conn: psycopg.Connection, ids: list[int]) -> dict:
    return {
        "samples": read_exact(conn, ids, *FAR),
        "views": [view_exact(conn, f"m_{i}") for i in range(3)],
        "series": conn.execute("SELECT id, metric_id, labels, delete_epoch FROM _prom_catalog.series ORDER BY id").fetchall(),
        "labels": conn.execute("SELECT * FROM prom_series.m_1 ORDER BY series_id").fetchall(),
        "settings": conn.execute("SELECT key, value FROM _ps_catalog.setting ORDER BY key").fetchall(),
        "retention": conn.execute("SELECT * FROM prom_info.retention ORDER BY 1").fetchall(),
        "storage": conn.execute("SELECT tier, partitions, samples FROM prom_info.storage ORDER BY 1").fetchall(),
        "pending": conn.execute("SELECT task, pending FROM prom_info.maintenance ORDER BY 1").fetchall(),
    }


def test_dump_and_restore_round_trip(db, db_uri, pg_cluster, db_name, second_cluster, tmp_path):
    install_helpers(db)
    rng = np.random.default_rng(5)
    ids = series_ids(db, [{"__name__": f"m_{i % 3}", "instance": f"h{i}", "zone": "z" if i % 2 else ""}
                          for i in range(9)])
    for start in (EPOCH + timedelta(hours=1), NOW - timedelta(days=2)):
        put(db, *scrape_batch(rng, ids, ms(start), 700))
    db.execute("SELECT prom_api.set_default_retention_period('36500 days')")
    db.execute("SELECT prom_api.set_metric_retention_period('m_2', '40000 days')")
    db.execute("SELECT prom_api.set_compression_delay('0')")
    db.execute("CALL prom_api.execute_maintenance()")
    # flushed rows of an open bucket (level 1)
    db.execute("SELECT prom_api.set_compression_delay('1 day')")
    put(db, *scrape_batch(rng, ids, ms(NOW - timedelta(hours=1)), 60))
    db.execute("CALL prom_api.execute_maintenance()")
    # two flushed head partitions that a snapshot kept from being dropped, one with late rows
    with psycopg.connect(db_uri, autocommit=False) as reader:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT 1")
        put(db, [ids[1], ids[3]], [ms(NOW - timedelta(minutes=45)) + 1, ms(NOW - timedelta(minutes=25)) + 1], [5.0, 5.5])
        db.execute("CALL prom_api.execute_maintenance()")
        put(db, [ids[2]], [ms(NOW - timedelta(minutes=45)) + 2], [6.0])
    # late data (head rows in a compressed range) and fresh head data
    put(db, [ids[0], ids[4]], [ms(EPOCH + timedelta(hours=1, seconds=1)), ms(NOW)], [7.0, 8.0])
    before = answers(db, ids)
    storage = {tier: samples for tier, _, samples in before["storage"]}
    assert storage["compressed"] > 0 and storage["flushed"] > 0 and storage["head"] == 5
    assert db.execute("SELECT count(*), count(*) FILTER (WHERE late_rows) FROM _prom_catalog.sample_chunk_state "
                      "WHERE flush_xid IS NOT NULL").fetchone() == (2, 1)

    dump = tmp_path / "promscale.dump"
    bindir = Path(pgcluster.pg_config("--bindir"))  # client tools: the system's; servers: the overlay
    subprocess.run([str(bindir / "pg_dump"), "-Fc", "-f", str(dump), db_uri], check=True, capture_output=True)
    # roles are cluster-wide and not in a database dump
    second_cluster.psql("CREATE ROLE promscale_writer LOGIN; CREATE ROLE promscale_reader LOGIN")
    second_cluster.psql("CREATE DATABASE restored")
    result = subprocess.run([str(bindir / "pg_restore"), "--exit-on-error", "-d", second_cluster.uri("restored"), str(dump)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    with psycopg.connect(second_cluster.uri("restored"), autocommit=True) as restored:
        # the extension's install script set the analysts' search_path on the new database
        assert "prom_metric" in restored.execute("SHOW search_path").fetchone()[0]
        install_helpers(restored)
        assert answers(restored, ids) == before
        # and it keeps working: maintenance merges the late rows (flushed partitions, whose flush
        # transaction is the old cluster's, are dropped), compacts, ingest resolves the same series
        restored.execute("SELECT prom_api.set_compression_delay('0')")
        restored.execute("CALL prom_api.execute_maintenance()")
        assert read_exact(restored, ids, *FAR) == before["samples"]
        assert restored.execute("SELECT count(*) FROM prom_data.sample WHERE time < now() - interval '10 minutes'"
                                ).fetchone()[0] == 0
        assert restored.execute("SELECT count(*) FROM _prom_catalog.sample_chunk_state WHERE flush_xid IS NOT NULL"
                                ).fetchone()[0] == 0
        assert series_ids(restored, [{"__name__": "m_0", "instance": "h0", "zone": ""}]) == [ids[0]]
        (new_id,) = series_ids(restored, [{"__name__": "m_0", "instance": "new"}])
        assert new_id > max(ids)
        assert put(restored, [new_id], [ms(NOW)], [1.0]) == 1
