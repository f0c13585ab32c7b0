"""The connector's database sessions: every statement runs under the query timeout, and a call
that asks for another timeout gets it for its own transaction only."""

from __future__ import annotations

import threading

import psycopg
import pytest

from pyconnector.db import Database


def test_sessions_run_under_the_query_timeout(db_uri):
    db = Database(db_uri, statement_timeout_ms=1234)
    assert db.call("SHOW statement_timeout", ()) == "1234ms"
    assert db.call("SHOW statement_timeout", (), timeout_ms=1234) == "1234ms"
    assert db.call("SHOW statement_timeout", (), timeout_ms=50) == "50ms"
    assert db.call("SHOW statement_timeout", ()) == "1234ms"  # SET LOCAL: that transaction only
    db.discard()



def test_threads_take_the_warm_sessions_opened_at_start(db_uri):
    """The sessions opened at start have the PL/Python modules loaded, and the threads' first
    requests run in them rather than in new sessions."""
    db = Database(db_uri, application_name="warm-session-test")
    assert db.open_warm_connections(2) == 2
    with psycopg.connect(db_uri) as admin:
        warmed = {pid for (pid,) in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'warm-session-test'")}
    assert len(warmed) == 2
    loaded = "'promscale.promql.api' in __import__('sys').modules and 'numpy' in __import__('sys').modules"
    seen: list[tuple[int, bool]] = []

    def first_request() -> None:
        db.connection().execute(
            f"CREATE FUNCTION pg_temp.loaded() RETURNS boolean LANGUAGE plpython3u AS $$ return {loaded} $$")
        seen.append((db.call("SELECT pg_backend_pid()", ()), db.call("SELECT pg_temp.loaded()", ())))
        db.discard()

    threads = [threading.Thread(target=first_request) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {pid for pid, _ in seen} == warmed
    assert all(is_loaded for _, is_loaded in seen)
    # no warm session left: a further thread connects on demand, to a new session
    fresh: list[tuple[int, bool]] = []
    other = threading.Thread(target=lambda: fresh.append(
        (db.call("SELECT pg_backend_pid()", ()), db.discard())))
    other.start()
    other.join()
    assert fresh[0][0] not in warmed


def test_a_database_that_refuses_warm_sessions_leaves_threads_to_connect(pg_cluster, db_name):
    db = Database(pg_cluster.uri(db_name, "no_such_role"), connect_timeout=5)
    assert db.open_warm_connections(2) == 0
    with pytest.raises(Exception, match="no_such_role"):
        db.call("SELECT 1", ())


def test_a_read_on_a_session_the_server_ended_runs_again_on_a_new_one(db_uri, tmp_path):
    """After a PostgreSQL restart each pooled session failed its next request with 503; a read
    now reconnects once. A write still fails (its client resends it)."""
    from werkzeug.test import Client

    from pyconnector import Config, create_app
    from pyconnector.db import DatabaseUnavailable

    def end_sessions(name: str) -> None:
        with psycopg.connect(db_uri, autocommit=True) as admin:
            ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE application_name = %s", (name,)).fetchone()[0]
        assert ended == 1

    db = Database(db_uri, application_name="ended-session-test")
    first = db.call("SELECT pg_backend_pid()", ())
    end_sessions("ended-session-test")
    assert db.call("SELECT pg_backend_pid()", ()) != first
    end_sessions("ended-session-test")
    assert db.query("SELECT 1") == [(1,)]
    end_sessions("ended-session-test")
    with pytest.raises(DatabaseUnavailable):
        db.put_spans((), ())  # a write: not repeated
    db.discard()

    client = Client(create_app(Config(db_uri=db_uri, telemetry_dir=str(tmp_path), threads=1)))
    assert client.get("/api/v1/query", query_string={"query": "1"}).status_code == 200
    end_sessions("promscale-connector")
    assert client.get("/api/v1/query", query_string={"query": "1"}).status_code == 200
