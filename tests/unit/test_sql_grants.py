"""The privilege rules of the SQL contract (docs/development.md, "Privileges"), enforced by the
build (tools/sql_grants.py over tools/sql_statements.py): each rule broken once on a copy of the
repository's sources, and the statement reader on the PostgreSQL syntax it must not be fooled by."""

from __future__ import annotations

from pathlib import Path

import pytest

from sql_statements import read_sql
from test_build_extension import next_number, problems, repo  # noqa: F401 (repo is a fixture)

SERIES_FILE = "sql/idempotent/040-series.sql"


def add(repo: Path, path: str, sql: str) -> None:  # noqa: F811
    target = repo / path
    target.write_text((target.read_text() if target.exists() else "") + sql)


def new_function(name: str = "prom_api.shiny", body: str = "SELECT 1") -> str:
    return f"CREATE OR REPLACE FUNCTION {name}(ts timestamptz, n int DEFAULT 1) RETURNS int " \
           f"LANGUAGE sql AS $$ {body} $$;\n"


# --- reading statements ---

def test_signatures_are_normalised():
    sql = read_sql(
        "CREATE OR REPLACE FUNCTION s.f(IN ts timestamp with time zone, OUT o int, VARIADIC v float8[],"
        " time timestamptz, \"Quoted\" double precision = 1.5, c varchar(20) DEFAULT 'a,b') RETURNS record"
        " LANGUAGE sql AS $$ SELECT 1 $$;\n"
        "GRANT EXECUTE ON FUNCTION s.f(timestamptz, double precision[], timestamptz, float8, text) TO r;\n")
    assert [d.name for d in sql.definitions] == [
        "s.f(timestamptz, double precision[], timestamptz, double precision, varchar)"]
    assert sql.privileges[0].objects == ["s.f(timestamptz, double precision[], timestamptz, double precision, text)"]


def test_bodies_strings_and_comments_hold_no_statements():
    sql = read_sql(
        "-- GRANT ALL ON FUNCTION commented() TO r;\n"
        "/* CREATE FUNCTION nested /* comment */ GRANT ALL ON TABLE t TO r; */\n"
        "CREATE OR REPLACE FUNCTION s.f() RETURNS text LANGUAGE plpython3u AS $python$\n"
        "plpy.execute('GRANT ALL ON TABLE t TO r; CREATE VIEW v AS SELECT 1')\n"
        "$python$;\n"
        "SELECT 'GRANT ALL ON t TO r;', $tag$ CREATE TABLE t(); $ $$ $tag$, E'\\';GRANT ALL ON t TO r;';\n"
        "GRANT EXECUTE ON FUNCTION s.f() TO prom_reader;\n")
    assert [(d.kind, d.name) for d in sql.definitions] == [("function", "s.f()")]
    assert [(p.verb, p.objects, p.grantees) for p in sql.privileges] == [("GRANT", ["s.f()"], ["prom_reader"])]


def test_privilege_statements_are_read():
    sql = read_sql("GRANT SELECT, INSERT ON s.t, s.u TO a, b WITH GRANT OPTION;\n"
                   "REVOKE GRANT OPTION FOR USAGE ON SCHEMA s FROM PUBLIC CASCADE;\n"
                   "GRANT a TO b;\n"
                   "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA s, t FROM PUBLIC;\n"
                   "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO a;\n")
    assert [(p.verb, p.kind, p.objects, p.grantees) for p in sql.privileges] == [
        ("GRANT", "table", ["s.t", "s.u"], ["a", "b"]),
        ("REVOKE", "schema", ["s"], ["PUBLIC"]),
        ("GRANT", "role", ["a"], ["b"]),
        ("REVOKE", "all functions", ["s", "t"], ["PUBLIC"]),
        ("ALTER DEFAULT PRIVILEGES", "default", [], []),
    ]


# --- the rules ---

def test_grant_directly_after_its_definition_is_accepted(repo):  # noqa: F811
    add(repo, SERIES_FILE, new_function() + "COMMENT ON FUNCTION prom_api.shiny(timestamptz, int) IS 'x';\n"
        "GRANT EXECUTE ON FUNCTION prom_api.shiny(timestamp with time zone, integer) TO prom_reader;\n")
    from build_extension import check_contract
    check_contract(repo)


def test_grant_far_from_its_definition_is_refused(repo):  # noqa: F811
    add(repo, SERIES_FILE, new_function() + new_function("_prom_catalog.other")
        + "GRANT EXECUTE ON FUNCTION prom_api.shiny(timestamptz, int) TO prom_reader;\n")
    assert "GRANT for prom_api.shiny(timestamptz, integer) must follow its definition (line" in problems(repo)
    assert "directly, not after function _prom_catalog.other(timestamptz, integer)" in problems(repo)


def test_grant_before_its_definition_is_refused(repo):  # noqa: F811
    add(repo, SERIES_FILE, "GRANT EXECUTE ON FUNCTION prom_api.shiny(timestamptz, int) TO prom_reader;\n"
        + new_function())
    assert "GRANT for prom_api.shiny(timestamptz, integer) must follow its definition (line" in problems(repo)


def test_grant_in_another_file_is_refused(repo):  # noqa: F811
    add(repo, SERIES_FILE, new_function() + "GRANT EXECUTE ON FUNCTION prom_api.shiny(timestamptz, int) TO prom_reader;\n")
    add(repo, "sql/idempotent/050-sample-chunks.sql",
        "GRANT EXECUTE ON FUNCTION prom_api.shiny(timestamptz, int) TO prom_writer;\n")
    assert ("sql/idempotent/050-sample-chunks.sql:" in problems(repo) and
            "GRANT for prom_api.shiny(timestamptz, integer) must follow its definition in file "
            f"{SERIES_FILE}" in problems(repo))


def test_grant_of_an_undefined_function_is_refused(repo):  # noqa: F811
    add(repo, SERIES_FILE, "GRANT EXECUTE ON FUNCTION prom_api.nowhere(int) TO prom_reader;\n")
    assert "GRANT for prom_api.nowhere(integer): no file defines function prom_api.nowhere(integer)" in problems(repo)


def test_public_function_without_a_grant_is_refused(repo):  # noqa: F811
    add(repo, SERIES_FILE, new_function())
    assert ("function prom_api.shiny(timestamptz, integer) has no privileges decided: follow its definition with "
            "GRANT ... ON FUNCTION prom_api.shiny(timestamptz, integer) TO <role>") in problems(repo)


def test_private_public_function_says_so_with_a_revoke(repo):  # noqa: F811
    add(repo, SERIES_FILE, new_function() + "REVOKE ALL ON FUNCTION prom_api.shiny(timestamptz, int) FROM PUBLIC;\n"
        + new_function("_prom_catalog.internal_needs_nothing"))
    from build_extension import check_contract
    check_contract(repo)


def test_view_without_a_grant_is_refused(repo):  # noqa: F811
    add(repo, SERIES_FILE, "CREATE OR REPLACE VIEW prom_info.shiny AS SELECT 1 AS one;\n")
    assert "view prom_info.shiny has no privileges decided" in problems(repo)


def test_schema_wide_grants_are_refused(repo):  # noqa: F811
    add(repo, SERIES_FILE, "GRANT SELECT ON ALL TABLES IN SCHEMA prom_info TO prom_reader;\n")
    assert "GRANT ON ALL TABLES IN SCHEMA: grant each object right after its definition instead" in problems(repo)


def test_alter_default_privileges_is_refused(repo):  # noqa: F811
    add(repo, SERIES_FILE, "ALTER DEFAULT PRIVILEGES IN SCHEMA prom_api GRANT EXECUTE ON FUNCTIONS TO prom_reader;\n")
    assert "ALTER DEFAULT PRIVILEGES: grant each object right after its definition instead" in problems(repo)


def test_new_migration_grants_its_table(repo):  # noqa: F811
    migration = f"sql/migrations/{next_number(repo)}-shiny.sql"
    add(repo, migration, "CREATE TABLE _prom_catalog.shiny (id int);\n")
    assert (f"{migration}:1: table _prom_catalog.shiny has no privileges decided: follow its definition with "
            "GRANT ... ON TABLE _prom_catalog.shiny TO <role>") in problems(repo)
    add(repo, migration, "GRANT SELECT ON TABLE _prom_catalog.shiny TO prom_reader;\n")
    from build_extension import check_contract
    check_contract(repo)


def test_frozen_table_is_granted_by_one_owner(repo):  # noqa: F811
    add(repo, "sql/idempotent/050-sample-chunks.sql", "GRANT SELECT ON _prom_catalog.series TO prom_writer;\n")
    assert ("table _prom_catalog.series (created by sql/migrations/0003-catalog.sql) is granted in "
            "sql/idempotent/040-series.sql, sql/idempotent/050-sample-chunks.sql") in problems(repo)


def test_frozen_table_without_an_owner_is_refused(repo):  # noqa: F811
    owner = repo / SERIES_FILE
    owner.write_text(owner.read_text().replace("GRANT SELECT ON TABLE _prom_catalog.series TO prom_reader;\n", ""))
    assert ("sql/migrations/0003-catalog.sql:" in problems(repo)
            and "table _prom_catalog.series has no privileges decided: grant them in the idempotent file that "
                "owns it" in problems(repo))


def test_every_schema_is_in_the_default_deny(repo):  # noqa: F811
    migration = f"sql/migrations/{next_number(repo)}-shiny.sql"
    add(repo, migration, "CREATE SCHEMA prom_shiny;\nGRANT USAGE ON SCHEMA prom_shiny TO prom_reader;\n")
    found = problems(repo)
    for kind in ("FUNCTIONS", "PROCEDURES", "SEQUENCES"):
        assert (f"sql/idempotent/900-default-deny.sql: schema prom_shiny (created by {migration}) is missing from "
                f"REVOKE ALL ON ALL {kind} IN SCHEMA ... FROM PUBLIC") in found


@pytest.mark.parametrize("statement", ["GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA prom_api TO prom_reader;",
                                       "REVOKE ALL ON ALL TABLES IN SCHEMA prom_api FROM PUBLIC;"])
def test_default_deny_only_revokes_execute_from_public(repo, statement):  # noqa: F811
    add(repo, "sql/idempotent/900-default-deny.sql", statement + "\n")
    assert "IN SCHEMA: grant each object right after its definition instead" in problems(repo)


def test_functions_after_the_default_deny_are_refused(repo):  # noqa: F811
    add(repo, "sql/idempotent/950-late.sql", new_function("_prom_catalog.late")
        + "GRANT EXECUTE ON FUNCTION _prom_catalog.late(timestamptz, int) TO prom_reader;\n")
    assert ("sql/idempotent/950-late.sql:1: function _prom_catalog.late(timestamptz, integer) is defined after "
            "sql/idempotent/900-default-deny.sql, so PUBLIC could execute it") in problems(repo)
