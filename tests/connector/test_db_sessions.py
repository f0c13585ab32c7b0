"""The connector's database sessions: every statement runs under the query timeout, and a call
that asks for another timeout gets it for its own transaction only."""

from __future__ import annotations

from pyconnector.db import Database


def test_sessions_run_under_the_query_timeout(db_uri):
    db = Database(db_uri, statement_timeout_ms=1234)
    assert db.call("SHOW statement_timeout", ()) == "1234ms"
    assert db.call("SHOW statement_timeout", (), timeout_ms=1234) == "1234ms"
    assert db.call("SHOW statement_timeout", (), timeout_ms=50) == "50ms"
    assert db.call("SHOW statement_timeout", ()) == "1234ms"  # SET LOCAL: that transaction only
    db.discard()
