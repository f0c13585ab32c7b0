"""The connector's maintenance scheduler: runs maintenance, one process at a time."""

from __future__ import annotations

import time

import psycopg
import pytest

from pyconnector import config
from pyconnector.maintenance import SCHEDULER_LOCK, MaintenanceScheduler


def test_interval_flag_and_variable():
    assert config.load([], environ={}).maintenance_interval == 60
    assert config.load(["--maintenance-interval", "5m"], environ={}).maintenance_interval == 300
    assert config.load([], environ={"PROMSCALE_MAINTENANCE_INTERVAL": "0"}).maintenance_interval == 0
    with pytest.raises(SystemExit, match="PROMSCALE_MAINTENANCE_INTERVAL"):
        config.load([], environ={"PROMSCALE_MAINTENANCE_INTERVAL": "often"})


def test_run_once_maintains_and_yields_to_a_running_peer(db, pg_cluster, db_name):
    with psycopg.connect(pg_cluster.uri(db_name), autocommit=True) as admin:
        admin.execute("CREATE ROLE promscale_maint LOGIN IN ROLE prom_maintenance")
    scheduler = MaintenanceScheduler(pg_cluster.uri(db_name, "promscale_maint"), 60)
    db.execute("SELECT prom_api.set_compression_delay('0')")
    db.execute("SELECT prom_api.put_samples(ARRAY[prom_api.get_or_create_series_id('{\"__name__\": \"x\"}')], "
               "ARRAY[now() - interval '1 day'], ARRAY[1.0])")
    assert scheduler.run_once() is True
    assert db.execute("SELECT done FROM prom_info.maintenance WHERE task = 'flush'").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0] == 0
    # another connector process holds the lock: this one skips its turn
    db.execute("SELECT pg_advisory_lock(%s)", (SCHEDULER_LOCK,))
    assert scheduler.run_once() is False
    db.execute("SELECT pg_advisory_unlock(%s)", (SCHEDULER_LOCK,))


def test_background_thread_runs_maintenance(db, pg_cluster, db_name):
    db.execute("SELECT prom_api.set_compression_delay('0')")
    db.execute("SELECT prom_api.put_samples(ARRAY[prom_api.get_or_create_series_id('{\"__name__\": \"y\"}')], "
               "ARRAY[now() - interval '1 day'], ARRAY[1.0])")
    scheduler = MaintenanceScheduler(pg_cluster.uri(db_name), 0.2, first_delay_seconds=0.05)
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while scheduler.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert scheduler.runs >= 2
    assert db.execute("SELECT count(*) FROM prom_data.compressed_sample").fetchone()[0] == 1
