"""Scheduling maintenance with pg_cron (postgresql-15-cron) in a cluster that preloads it."""

from __future__ import annotations

import time

import psycopg
import pytest

from support.postgres import remove_cluster, start_cluster


@pytest.fixture(scope="module")
def cron_cluster():
    cluster = start_cluster({"shared_preload_libraries": "'pg_cron'", "cron.database_name": "'promscale'"})
    cluster.psql("CREATE DATABASE promscale")
    cluster.psql("CREATE EXTENSION promscale CASCADE", dbname="promscale")
    yield cluster
    remove_cluster(cluster)


def test_schedule_maintenance_needs_pg_cron(db):
    with pytest.raises(psycopg.errors.UndefinedObject, match="pg_cron is not installed") as refused:
        db.execute("SELECT prom_api.schedule_maintenance()")
    assert "--maintenance-interval" in refused.value.diag.message_hint
    assert db.execute("SELECT prom_api.unschedule_maintenance()").fetchone()[0] is False


@pytest.mark.slow
def test_pg_cron_runs_maintenance(cron_cluster):
    with psycopg.connect(cron_cluster.uri("promscale"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_cron")
        conn.execute("SELECT prom_api.set_compression_delay('0')")
        conn.execute("SELECT prom_api.put_samples(ARRAY[prom_api.get_or_create_series_id('{\"__name__\": \"c\"}')], "
                     "ARRAY[now() - interval '1 day'], ARRAY[1.0])")
        job = conn.execute("SELECT prom_api.schedule_maintenance()").fetchone()[0]  # every minute by default
        assert conn.execute("SELECT schedule, command FROM cron.job WHERE jobid = %s", (job,)).fetchone() == (
            "* * * * *", "CALL prom_api.execute_maintenance(log_steps => false)")
        # scheduling again replaces the job (same name) instead of adding one
        assert conn.execute("SELECT prom_api.schedule_maintenance('* * * * *')").fetchone()[0] == job
        deadline = time.monotonic() + 150  # pg_cron starts jobs on the minute
        status = None
        while time.monotonic() < deadline:
            status = conn.execute("SELECT status, return_message FROM cron.job_run_details WHERE jobid = %s "
                                  "ORDER BY runid DESC LIMIT 1", (job,)).fetchone()
            if status and status[0] in ("succeeded", "failed"):
                break
            time.sleep(1)
        assert status is not None and status[0] == "succeeded", status
        assert conn.execute("SELECT count(*) FROM prom_data.compressed_sample").fetchone()[0] == 1
        assert conn.execute("SELECT prom_api.unschedule_maintenance()").fetchone()[0] is True
        assert conn.execute("SELECT count(*) FROM cron.job").fetchone()[0] == 0
