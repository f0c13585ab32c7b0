"""What an SQL user's own function sees when the planner runs it inside a view: the probe of the
security-barrier tests (tests/sql/test_tenancy_analyst.py, tests/traces/test_trace_tenancy.py)."""

from __future__ import annotations

import psycopg

# In pg_temp (every role may create temporary objects unless an administrator revoked TEMP): it
# reports each value it is given and costs nothing, so the planner would like to run it before
# anything else, the views' own tenant filter included.
LEAKING_FUNCTION = """
CREATE FUNCTION pg_temp.leak(anyelement) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    RAISE NOTICE 'seen: %', $1;
    RETURN true;
END $$"""


def values_seen(conn: psycopg.Connection, sql: str) -> list[str]:
    """The notices of pg_temp.leak while ``sql`` (which calls it) runs: 'seen: <value>' each."""
    seen: list[str] = []
    conn.add_notice_handler(lambda diag: seen.append(diag.message_primary or ""))
    with conn.transaction():
        conn.execute(LEAKING_FUNCTION)
        conn.execute(sql)
        conn.execute("DROP FUNCTION pg_temp.leak(anyelement)")
    return seen
