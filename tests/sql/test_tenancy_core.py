"""Multitenancy's core in the database (sql/idempotent/012-tenancy.sql): the request tenant,
grants, the one visibility decision (_prom_catalog.visible_tenants) and the write check."""

from __future__ import annotations

import psycopg
import pytest


def series(conn, labels: str) -> int:
    return conn.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (labels,)).fetchone()[0]


def visible(conn) -> list[str] | None:
    return conn.execute("SELECT _prom_catalog.visible_tenants()").fetchone()[0]


@pytest.fixture
def roles(db):
    for role in ("tenancy_analyst_a", "tenancy_analyst_ab", "tenancy_team_a"):
        db.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
                   f"THEN CREATE ROLE {role} LOGIN; END IF; END $$")
    yield
    for role in ("tenancy_analyst_a", "tenancy_analyst_ab", "tenancy_team_a"):
        for (tenant,) in db.execute("SELECT tenant FROM _prom_catalog.tenant_grant WHERE role_name = %s",
                                    (role,)).fetchall():
            db.execute("SELECT prom_api.revoke_tenant(%s, %s)", (role, tenant))


def test_without_grants_or_request_tenant_everything_is_visible(db):
    assert visible(db) is None
    db.execute("SELECT prom_api.set_request_tenant('a', false)")
    assert visible(db) == ["a"]
    db.execute("SELECT prom_api.set_request_tenant('', false)")
    assert visible(db) == [""]
    db.execute("SELECT prom_api.set_request_tenant(NULL, false)")
    assert visible(db) is None


def test_transaction_local_request_tenant_ends_with_the_transaction(db):
    with db.transaction():
        db.execute("SELECT prom_api.set_request_tenant('a')")
        assert visible(db) == ["a"]
    assert visible(db) is None


@pytest.mark.parametrize("name", ["*", ".", "..", "a b", "x" * 151, "a\nb", "ä"])
def test_invalid_tenant_names_are_refused(db, name):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid tenant name"):
        db.execute("SELECT prom_api.set_request_tenant(%s)", (name,))


def test_grants_restrict_a_role_and_the_setting_only_narrows(pg_cluster, db_name, db, roles):
    db.execute("SELECT prom_api.grant_tenant('tenancy_analyst_a', 'a')")
    db.execute("SELECT prom_api.grant_tenant('tenancy_analyst_ab', 'a')")
    db.execute("SELECT prom_api.grant_tenant('tenancy_analyst_ab', 'b')")
    with psycopg.connect(pg_cluster.uri(db_name, "tenancy_analyst_a"), autocommit=True) as conn:
        assert visible(conn) == ["a"]
        conn.execute("SELECT prom_api.set_request_tenant('b', false)")  # cannot widen
        assert visible(conn) == []
        conn.execute("SELECT prom_api.set_request_tenant(NULL, false)")
        assert visible(conn) == ["a"]
    with psycopg.connect(pg_cluster.uri(db_name, "tenancy_analyst_ab"), autocommit=True) as conn:
        assert visible(conn) == ["a", "b"]
        conn.execute("SELECT prom_api.set_request_tenant('b', false)")  # narrows within the grants
        assert visible(conn) == ["b"]
    # SET ROLE: the role set is the caller, also inside SECURITY DEFINER functions
    with db.transaction():
        db.execute("SET LOCAL ROLE tenancy_analyst_a")
        assert visible(db) == ["a"]
        assert db.execute("SELECT _prom_catalog.calling_role()").fetchone()[0] == "tenancy_analyst_a"
    assert visible(db) is None


def test_nobody_learns_another_roles_tenants(pg_cluster, db_name, db, roles):
    db.execute("SELECT prom_api.grant_tenant('tenancy_analyst_a', 'a')")
    db.execute("SELECT prom_api.grant_tenant('tenancy_analyst_ab', 'b')")
    with psycopg.connect(pg_cluster.uri(db_name, "tenancy_analyst_a"), autocommit=True) as conn:
        assert conn.execute("SELECT _prom_catalog.granted_tenants('tenancy_analyst_a')").fetchone()[0] == ["a"]
        assert conn.execute("SELECT _prom_catalog.granted_tenants('tenancy_analyst_ab')").fetchone()[0] is None


def test_grants_reach_members_of_a_granted_role(pg_cluster, db_name, db, roles):
    db.execute("SELECT prom_api.grant_tenant('tenancy_team_a', 'a')")
    db.execute("GRANT tenancy_team_a TO tenancy_analyst_ab")
    try:
        with psycopg.connect(pg_cluster.uri(db_name, "tenancy_analyst_ab"), autocommit=True) as conn:
            assert visible(conn) == ["a"]
    finally:
        db.execute("REVOKE tenancy_team_a FROM tenancy_analyst_ab")


def test_revoke_takes_the_grant_back(pg_cluster, db_name, db, roles):
    db.execute("SELECT prom_api.grant_tenant('tenancy_analyst_a', 'a')")
    assert db.execute("SELECT pg_has_role('tenancy_analyst_a', 'prom_tenant_reader', 'MEMBER')").fetchone()[0]
    assert db.execute("SELECT prom_api.revoke_tenant('tenancy_analyst_a', 'a')").fetchone()[0] is True
    assert db.execute("SELECT prom_api.revoke_tenant('tenancy_analyst_a', 'a')").fetchone()[0] is False
    assert not db.execute("SELECT pg_has_role('tenancy_analyst_a', 'prom_tenant_reader', 'MEMBER')").fetchone()[0]
    assert db.execute("SELECT _prom_catalog.granted_tenants('tenancy_analyst_a')").fetchone()[0] is None
    with psycopg.connect(pg_cluster.uri(db_name, "tenancy_analyst_a"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # back to a role without any grant
            visible(conn)


def test_grant_refuses_roles_that_would_see_every_tenant(db, roles):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="member of prom_reader"):
        db.execute("SELECT prom_api.grant_tenant('promscale_reader', 'a')")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="superuser"):
        db.execute("SELECT prom_api.grant_tenant('postgres', 'a')")
    with pytest.raises(psycopg.errors.UndefinedObject, match="does not exist"):
        db.execute("SELECT prom_api.grant_tenant('no_such_role_here', 'a')")


def test_writes_in_a_tenant_context_must_carry_the_tenant(db):
    with db.transaction():
        db.execute("SELECT prom_api.set_request_tenant('a')")
        sid = series(db, '{"__name__": "m", "__tenant__": "a", "job": "x"}')
        assert sid > 0
    for tenant, labels, message in [
        ("a", '{"__name__": "m", "__tenant__": "b", "job": "x"}', 'must be "a"'),
        ("a", '{"__name__": "m", "job": "x"}', 'must be "a"'),
        ("", '{"__name__": "m", "__tenant__": "a", "job": "x"}', "without tenant may not"),
    ]:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
            with db.transaction():
                db.execute("SELECT prom_api.set_request_tenant(%s)", (tenant,))
                series(db, labels)
    # without a tenant context, anything goes (as before multitenancy)
    assert series(db, '{"__name__": "m", "__tenant__": "b", "job": "x"}') != sid
