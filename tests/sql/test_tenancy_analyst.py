"""SQL users of one tenant (prom_api.grant_tenant): an analyst of team-a sees team-a's data
through the prom_metric/prom_series/rollup views and the query functions, nothing of team-b
or of series without tenant, and cannot read the catalog tables; revoking takes it back."""

from __future__ import annotations

import json

import psycopg
import pytest

from support.leaks import values_seen

T = "2024-01-01 00:00:00+00"
TS = 1704067200.0
VALUE = {"team-a": 1.0, "team-b": 100.0, "": 1000.0}
SECRET = {"team-a": "a-secret", "team-b": "b-secret", "": "nobody-secret"}


def write(conn, tenant: str) -> None:
    """The same metric and label set for every tenant, plus one label value of its own."""
    with conn.transaction():
        conn.execute("SELECT prom_api.set_request_tenant(%s)", (tenant,))
        tenant_label = {"__tenant__": tenant} if tenant else {}
        for labels in ({"__name__": "m", "job": "api", **tenant_label},
                       {"__name__": "m", "job": "api", "owner": SECRET[tenant], **tenant_label}):
            sid = conn.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)",
                               (json.dumps(labels),)).fetchone()[0]
            conn.execute("SELECT prom_api.put_samples(%s::bigint[], %s::timestamptz[], %s::float8[])",
                         ([sid], [T], [VALUE[tenant]]))
        conn.execute("SELECT prom_api.put_metadata('{m}', '{gauge}', '{\"\"}', %s::text[])",
                     ([f"help of {SECRET[tenant]}"],))


@pytest.fixture
def stored(db):
    for tenant in VALUE:
        write(db, tenant)
    for role in ("tenancy_analyst", "tenancy_stranger"):
        db.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
                   f"THEN CREATE ROLE {role} LOGIN; END IF; END $$")
    db.execute("SELECT prom_api.grant_tenant('tenancy_analyst', 'team-a')")
    yield
    db.execute("SELECT prom_api.revoke_tenant('tenancy_analyst', 'team-a')")


@pytest.fixture
def analyst(pg_cluster, db_name, stored):
    with psycopg.connect(pg_cluster.uri(db_name, "tenancy_analyst"), autocommit=True) as conn:
        yield conn


# every way an analyst reads metric data; each answer as text
READS = [
    "SELECT json_agg(v) FROM prom_metric.m v",
    "SELECT json_agg(v) FROM prom_series.m v",
    "SELECT json_agg(v) FROM prom_rollup_5m.m v",
    "SELECT json_agg(q) FROM prom_api.query('m', '2024-01-01 00:00:10+00') q",
    "SELECT json_agg(q) FROM prom_api.query('count(m)', '2024-01-01 00:00:10+00') q",
    "SELECT json_agg(q) FROM prom_api.query_range('sum(m)', '2024-01-01', '2024-01-01 00:01', '30s') q",
    f"SELECT prom_api.query_json('{{__name__=~\".+\"}}', {TS + 10})",
    f"SELECT prom_api.series_json('{{m}}', {TS - 60}, {TS + 60})",
    f"SELECT prom_api.label_names_json('{{}}', {TS - 60}, {TS + 60})",
    f"SELECT prom_api.label_values_json('owner', '{{}}', {TS - 60}, {TS + 60})",
    f"SELECT prom_api.label_values_json('owner', '{{m}}', {TS - 60}, {TS + 60})",
    f"SELECT prom_api.label_values_json('__tenant__', '{{}}', {TS - 60}, {TS + 60})",
    "SELECT prom_api.metadata_json(NULL, NULL, NULL)",
    f"SELECT json_agg(r) FROM prom_api.get_matching_samples('{{__name__}}', '{{=}}', '{{m}}', 0, "
    f"{int(TS * 1000) + 1}) AS r",
]


@pytest.mark.parametrize("sql", READS)
def test_an_analyst_sees_only_its_tenant(analyst, sql):
    text = str(analyst.execute(sql).fetchone()[0])
    assert "b-secret" not in text and "team-b" not in text and "nobody" not in text
    assert "1000" not in text and "100," not in text


def test_an_analyst_sees_its_tenants_data(analyst):
    rows = analyst.execute("SELECT value, job, owner, labels->>'__tenant__' FROM prom_metric.m "
                           "ORDER BY owner").fetchall()
    assert rows == [(1.0, "api", "a-secret", "team-a"), (1.0, "api", None, "team-a")]
    assert analyst.execute("SELECT count(*) FROM prom_series.m").fetchone()[0] == 2
    count = analyst.execute("SELECT value FROM prom_api.query('count(m)', '2024-01-01 00:00:10+00')").fetchall()
    assert count == [(2.0,)]
    assert json.loads(analyst.execute(f"SELECT prom_api.label_values_json('owner', '{{}}', {TS - 60}, {TS + 60})")
                      .fetchone()[0])["data"] == ["a-secret"]
    assert "help of a-secret" in analyst.execute("SELECT prom_api.metadata_json(NULL, NULL, NULL)").fetchone()[0]
    assert analyst.execute("SELECT count(*) FROM prom_api.get_matching_samples('{__name__}', '{=}', '{m}', 0, "
                           f"{int(TS * 1000) + 1})").fetchone()[0] == 2


@pytest.mark.parametrize("table", ["_prom_catalog.series", "_prom_catalog.label", "_prom_catalog.metadata",
                                   "_prom_catalog.tenant_grant", "prom_data.sample", "prom_data.exemplar",
                                   "prom_info.metric"])
def test_an_analyst_cannot_read_the_tables(analyst, table):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        analyst.execute(f"SELECT * FROM {table} LIMIT 1")


def test_the_request_setting_cannot_widen_an_analysts_view(analyst):
    analyst.execute("SELECT prom_api.set_request_tenant('team-b', false)")
    assert analyst.execute("SELECT count(*) FROM prom_metric.m").fetchone()[0] == 0
    assert analyst.execute("SELECT count(*) FROM prom_api.query('m', '2024-01-01 00:00:10+00')").fetchone()[0] == 0
    analyst.execute("SELECT prom_api.set_request_tenant('', false)")
    assert analyst.execute("SELECT count(*) FROM prom_series.m").fetchone()[0] == 0
    analyst.execute("SELECT prom_api.set_request_tenant(NULL, false)")
    assert analyst.execute("SELECT count(*) FROM prom_series.m").fetchone()[0] == 2


def test_set_role_sees_as_the_role(db, stored):
    with db.transaction():
        db.execute("SET LOCAL ROLE tenancy_analyst")
        assert db.execute("SELECT count(*) FROM prom_series.m").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM prom_api.query('m', '2024-01-01 00:00:10+00')").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM prom_series.m").fetchone()[0] == 6  # the superuser again


def test_readers_and_strangers_are_unchanged(pg_cluster, db_name, stored):
    with psycopg.connect(pg_cluster.uri(db_name, "promscale_reader"), autocommit=True) as reader:
        assert reader.execute("SELECT count(*) FROM prom_series.m").fetchone()[0] == 6
    with psycopg.connect(pg_cluster.uri(db_name, "tenancy_stranger"), autocommit=True) as stranger:
        for sql in ("SELECT * FROM prom_series.m", "SELECT * FROM prom_api.query('m')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                stranger.execute(sql)


def test_revoke_takes_the_views_and_functions_back(pg_cluster, db_name, db, stored):
    db.execute("SELECT prom_api.revoke_tenant('tenancy_analyst', 'team-a')")
    with psycopg.connect(pg_cluster.uri(db_name, "tenancy_analyst"), autocommit=True) as conn:
        for sql in ("SELECT * FROM prom_metric.m", "SELECT * FROM prom_api.query('m')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    db.execute("SELECT prom_api.grant_tenant('tenancy_analyst', 'team-a')")  # for the fixture's revoke


LEAKING_READS = [
    "SELECT count(*) FROM prom_metric.m WHERE pg_temp.leak(value)",
    "SELECT count(*) FROM prom_metric.m WHERE pg_temp.leak(labels::text)",
    "SELECT count(*) FROM prom_metric.m WHERE pg_temp.leak(owner)",
    "SELECT count(*) FROM prom_metric.m WHERE pg_temp.leak(series_id) AND time > '2000-01-01'",
    "SELECT count(*) FROM prom_metric.m WHERE pg_temp.leak(value) AND labels ? ('job' == 'api')",
    "SELECT count(*) FROM prom_series.m WHERE pg_temp.leak(labels::text)",
    "SELECT count(*) FROM prom_series.m WHERE pg_temp.leak(owner)",
    "SELECT count(*) FROM prom_series.m WHERE pg_temp.leak(label_ids)",
]


@pytest.mark.parametrize("sql", LEAKING_READS)
def test_an_analysts_own_function_sees_only_its_tenants_rows(analyst, db, sql):
    """The views are security barriers: a condition of the caller's that is not leakproof is evaluated
    only on rows the visibility filter has let through, so it cannot report other tenants' values."""
    own_ids = [r[0] for r in db.execute("SELECT id FROM _prom_catalog.series "
                                        "WHERE labels @> ARRAY(SELECT id FROM _prom_catalog.label "
                                        "WHERE key = '__tenant__' AND value = 'team-a')").fetchall()]
    other_ids = [r[0] for r in db.execute("SELECT id FROM _prom_catalog.series WHERE NOT (id = ANY(%s))",
                                          (own_ids,)).fetchall()]
    seen = values_seen(analyst, sql)
    text = "\n".join(seen)
    assert seen, "the function ran on no row at all: the test would prove nothing"
    assert "b-secret" not in text and "team-b" not in text and "nobody" not in text
    assert "seen: 100" not in text and "seen: 1000" not in text
    if "series_id" in sql:
        assert not {f"seen: {i}" for i in other_ids} & set(seen)


def test_an_analyst_filters_the_views_by_time(analyst):
    """A time filter goes through the planner library's compressed-row bounds, which must be callable by
    the tenant reader too."""
    assert analyst.execute("SELECT count(*) FROM prom_metric.m WHERE time > '2000-01-01'").fetchone()[0] == 2
    assert analyst.execute("SELECT count(*) FROM prom_rollup_1h.m WHERE time > '2000-01-01'").fetchone()[0] == 0



# Conditions whose error would tell what a row holds: PostgreSQL does not mark casts and divisions
# leakproof, so behind the barrier they see the analyst's rows only (team-b's value is 100, its
# owner label "b-secret", the untenanted series' 1000 and "nobody-secret" (13 characters); team-a's
# rows have value 1 and owner "a-secret" or none).
@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM prom_metric.m WHERE 1 / (value - 100) > 0",
    "SELECT count(*) FROM prom_metric.m WHERE 1 / (value - 1000) > 0",
    "SELECT count(*) FROM prom_series.m WHERE 1 / (length(coalesce(owner, 'x')) - 13) > 0",
    "SELECT count(*) FROM prom_metric.m WHERE (labels->>'owner')::int = 0 OR owner IS NULL",
])
def test_an_error_tells_nothing_of_other_tenants(analyst, sql):
    try:
        analyst.execute(sql)
    except psycopg.Error as exc:
        assert "b-secret" not in str(exc) and "nobody" not in str(exc)
        assert not isinstance(exc, psycopg.errors.DivisionByZero), f"{sql} divided by another tenant's value"


def test_an_analyst_matches_labels_with_the_jsonb_operators(analyst):
    assert analyst.execute("SELECT count(*) FROM prom_series.m WHERE labels ? ('owner' == 'a-secret')"
                           ).fetchone()[0] == 1
    assert analyst.execute("SELECT count(*) FROM prom_metric.m WHERE labels ? ('owner' ==~ '.+-secret')"
                           ).fetchone()[0] == 1
    assert analyst.execute("SELECT count(*) FROM prom_metric.m WHERE labels ? ('owner' !=~ 'a-.*')").fetchone()[0] == 1
    assert analyst.execute("SELECT count(*) FROM prom_series.m WHERE labels ? ('owner' == 'b-secret')"
                           ).fetchone()[0] == 0


def test_every_metric_view_is_a_security_barrier(db, stored):
    """The rollup views hold no row in this fixture (nothing rolled up), so the leak tests above
    cannot try them: they must be barriers as the others are."""
    views = db.execute("SELECT n.nspname, c.relname, coalesce(c.reloptions, '{}') FROM pg_class c "
                       "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'v' AND n.nspname = "
                       "ANY('{prom_series,prom_metric,prom_rollup_5m,prom_rollup_1h}')").fetchall()
    assert len(views) == 4
    assert [v for v in views if "security_barrier=true" not in v[2]] == []
