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
