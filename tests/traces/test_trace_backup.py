"""pg_dump / pg_restore of a database holding traces: every span, event and link comes back,
and the restored database keeps ingesting (interned ids and partition names do not collide)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest
from werkzeug.test import Client

import pgcluster
from pyconnector import Config, create_app
from support.postgres import remove_cluster, start_cluster
from support.traces import SHOP, S, export


@pytest.fixture
def second_cluster():
    cluster = start_cluster()
    yield cluster
    remove_cluster(cluster)


def contents(conn: psycopg.Connection) -> dict:
    return {
        "spans": conn.execute("SELECT * FROM ps_trace.span ORDER BY trace_id, span_id").fetchall(),
        "events": conn.execute("SELECT * FROM ps_trace.event ORDER BY trace_id, span_id, event_nbr").fetchall(),
        "links": conn.execute("SELECT * FROM ps_trace.link ORDER BY trace_id, span_id, link_nbr").fetchall(),
        "tree": conn.execute("SELECT * FROM ps_trace.trace_tree(ps_trace.trace_id('a')) ORDER BY path").fetchall(),
        "settings": conn.execute("SELECT ps_trace.get_trace_retention_period()").fetchall(),
    }


def test_dump_and_restore_round_trip(connector, db, db_uri, second_cluster, tmp_path):
    client = Client(connector)
    export(client, SHOP)
    export(client, [S(0xB, 1, None, "old", "batch", links=[(0xA, 1)])], base_ns=0)
    db.execute("SELECT ps_trace.set_trace_retention_period('400 days')")
    before = contents(db)
    assert len(before["spans"]) == 6 and len(before["events"]) == 1 and len(before["links"]) == 1

    dump = tmp_path / "traces.dump"
    bindir = Path(pgcluster.pg_config("--bindir"))
    subprocess.run([str(bindir / "pg_dump"), "-Fc", "-f", str(dump), db_uri], check=True, capture_output=True)
    second_cluster.psql("CREATE ROLE promscale_writer LOGIN; CREATE ROLE promscale_reader LOGIN")
    second_cluster.psql("CREATE DATABASE restored")
    result = subprocess.run([str(bindir / "pg_restore"), "--exit-on-error", "-d", second_cluster.uri("restored"),
                             str(dump)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    second_cluster.psql("GRANT prom_writer TO promscale_writer")  # the extension made prom_writer

    with psycopg.connect(second_cluster.uri("restored"), autocommit=True) as restored:
        assert contents(restored) == before
        # ingest goes on: new spans in existing and new partitions, existing and new services
        app = create_app(Config(db_uri=second_cluster.uri("restored", "promscale_writer"),
                                telemetry_dir=str(tmp_path / "t")))
        export(Client(app), [S(0xC, 1, None, "GET /checkout", "frontend", 5, kind=2), S(0xD, 1, None, "new", "newsvc")])
        export(Client(app), [S(0xE, 1, None, "future", "frontend")], base_ns=4_102_444_800 * 10**9)
        assert restored.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 9
        assert restored.execute("SELECT count(*) FROM _ps_trace.operation WHERE service_name = 'frontend' "
                                "AND span_name = 'GET /checkout'").fetchone()[0] == 1
