"""Least privilege: readers read, writers ingest through functions, nobody else gets in."""

from __future__ import annotations

import psycopg
import pytest

import build_extension


@pytest.fixture
def reader(pg_cluster, db_name):
    with psycopg.connect(pg_cluster.uri(db_name, "promscale_reader"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def writer(pg_cluster, db_name):
    with psycopg.connect(pg_cluster.uri(db_name, "promscale_writer"), autocommit=True) as conn:
        yield conn


def write_one(conn) -> None:
    sid = conn.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"m\", \"job\": \"a\"}')").fetchone()[0]
    conn.execute("SELECT prom_api.put_samples(%s::bigint[], '{2024-01-01 00:00:00+00}', '{1}')", ([sid],))


def test_writer_ingests_and_reads(writer):
    write_one(writer)
    assert writer.execute("SELECT value, job FROM prom_metric.m").fetchall() == [(1.0, "a")]


def test_writer_cannot_touch_tables_directly_or_configure(writer):
    write_one(writer)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        writer.execute("INSERT INTO prom_data.sample VALUES (1, now(), 1)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        writer.execute("DELETE FROM _prom_catalog.series")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        writer.execute("SELECT prom_api.set_default_chunk_interval('2 hours')")


def test_reader_reads_but_cannot_write(writer, reader):
    write_one(writer)
    assert reader.execute("SELECT count(*) FROM prom_metric.m").fetchone()[0] == 1
    assert reader.execute("SELECT prom_api.python_version()").fetchone()[0] == build_extension.control_version()
    assert reader.execute("SELECT metric_name FROM prom_info.metric").fetchall() == [("m",)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader.execute("SELECT prom_api.put_samples('{1}', '{2024-01-01}', '{1}')")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"x\"}')")


def test_roles_without_grants_see_nothing(pg_cluster, db_name, db):
    db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stranger') "
               "THEN CREATE ROLE stranger LOGIN; END IF; END $$")
    with psycopg.connect(pg_cluster.uri(db_name, "stranger"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM _prom_catalog.series")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT prom_api.put_samples('{1}', '{2024-01-01}', '{1}')")


def test_role_hierarchy(db):
    rows = db.execute("""
        SELECT r.rolname, array_agg(m.rolname ORDER BY m.rolname)
        FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.member JOIN pg_roles m ON m.oid = a.roleid
        WHERE r.rolname LIKE 'prom\\_%' GROUP BY r.rolname ORDER BY 1""").fetchall()
    assert dict(rows) == {"prom_admin": ["prom_modifier"], "prom_modifier": ["prom_writer"],
                          "prom_writer": ["prom_reader"], "prom_maintenance": ["prom_reader"]}


def test_procedures_pin_search_path_after_every_commit(db):
    """A procedure that commits cannot carry SET search_path, and a COMMIT ends a
    transaction-local set_config: each transaction of such a procedure must pin it again, or its
    operators and functions would resolve through the caller's search_path."""
    procedures = db.execute(
        "SELECT p.oid::regprocedure::text, p.prosrc FROM pg_proc p "
        "JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e' "
        "JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'promscale' WHERE p.prokind = 'p'").fetchall()
    pin = "PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);"
    committing = [(name, src) for name, src in procedures if "COMMIT;" in src]
    assert committing, "execute_maintenance commits between its steps"
    for name, src in committing:
        code = [line.split("--")[0].strip() for line in src.splitlines()]
        code = [line for line in code if line]
        begin = code.index("BEGIN")
        assert code[begin + 1] == pin, f"{name}: search_path not pinned at its start"
        unpinned = [i for i, line in enumerate(code) if line == "COMMIT;" and code[i + 1] != pin]
        assert not unpinned, f"{name}: COMMIT not followed by the search_path pin"


def test_public_cannot_run_any_procedure(pg_cluster, db_name, db):
    """REVOKE … ON ALL FUNCTIONS leaves procedures executable by PUBLIC: each must be revoked too."""
    db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stranger') "
               "THEN CREATE ROLE stranger LOGIN; END IF; END $$")
    open_to_public = db.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p "
        "JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e' "
        "JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'promscale' "
        "WHERE p.prokind = 'p' AND has_function_privilege('stranger', p.oid, 'EXECUTE')").fetchall()
    assert open_to_public == []
    with psycopg.connect(pg_cluster.uri(db_name, "stranger"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CALL prom_api.execute_maintenance()")


def test_maintenance_ignores_operators_planted_in_public(pg_cluster, db_name, db):
    """A role with no promscale membership plants `||` operators in public (CREATE there is
    granted to PUBLIC on databases made before PostgreSQL 15). A superuser then runs maintenance
    (as pg_cron does) with the default search_path: no step may resolve an operator through it."""
    db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mallory') "
               "THEN CREATE ROLE mallory LOGIN; END IF; END $$")
    db.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    db.execute("CREATE TABLE public.ran_as (who text)")
    db.execute("GRANT INSERT ON public.ran_as TO PUBLIC")
    with psycopg.connect(pg_cluster.uri(db_name, "mallory"), autocommit=True) as conn:
        for left in ("bigint", "integer"):
            conn.execute(f"CREATE FUNCTION public.planted(a {left}, b text) RETURNS text LANGUAGE plpgsql AS $$ "
                         "BEGIN INSERT INTO public.ran_as VALUES (current_user); RETURN a::text OPERATOR(pg_catalog.||) b; END $$")
            conn.execute(f"CREATE OPERATOR public.|| (LEFTARG = {left}, RIGHTARG = text, FUNCTION = public.planted)")
    # work for every kind of step that formats a count: stale views, a head partition due for flushing
    sid = db.execute("""SELECT prom_api.get_or_create_series_id('{"__name__": "planted_m", "job": "x"}')""").fetchone()[0]
    db.execute("SELECT prom_api.put_samples(ARRAY[%s, %s]::bigint[], ARRAY[now() - interval '3 hours', now() - interval '2 hours'], "
               "ARRAY[1, 2]::float8[])", (sid, sid))
    db.execute("UPDATE _prom_catalog.metric SET views_stale = true")
    db.execute("SET search_path = \"$user\", public")
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")
    db.execute("RESET search_path")
    assert db.execute("SELECT count(*) FROM _prom_catalog.maintenance_stat WHERE task IN ('flush', 'refresh_views')"
                      ).fetchone()[0] == 2, "maintenance did the steps whose results it formats"
    assert db.execute("SELECT who FROM public.ran_as").fetchall() == []


def test_maintenance_role_cannot_drop_or_purge_current_data(pg_cluster, db_name, db):
    """prom_maintenance may call the retention step itself: told to drop or purge a partition that
    the retention settings do not make due, it refuses and removes nothing."""
    db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'maint_only') "
               "THEN CREATE ROLE maint_only LOGIN IN ROLE prom_maintenance; END IF; END $$")
    sid = db.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"live\"}')").fetchone()[0]
    db.execute("SELECT prom_api.put_samples(%s::bigint[], ARRAY[now()], '{1}')", ([sid],))
    chunk = db.execute("SELECT c.id FROM _prom_catalog.sample_chunk c WHERE now() >= c.start_time AND now() < c.end_time"
                       ).fetchone()[0]
    with psycopg.connect(pg_cluster.uri(db_name, "maint_only"), autocommit=True) as conn:
        for kind, period in (("drop_head", None), ("purge_head", "1000 years"), ("purge_head", "0 seconds")):
            assert conn.execute("SELECT _prom_catalog.apply_retention(%s, %s, %s::interval)",
                                (kind, chunk, period)).fetchone()[0] is None
    assert db.execute("SELECT count(*) FROM prom_data.sample WHERE series_id = %s", (sid,)).fetchone()[0] == 1
