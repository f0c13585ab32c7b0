"""Multitenancy at 100,000 series: the tenant filter follows the work asked, not the catalog. A
tenant's one-series lookup (PromQL, /series) and a view query read the series they select and
no others, and the visibility decision is evaluated once per statement, never per series.
Asserted on the plans the calls really run (auto_explain), never on timings."""

from __future__ import annotations

import json

import psycopg
import pytest

from support.nested_plans import rows_read, run_explained, scans
from support.plans import explain, nodes
from support.scale_catalog import BIG_METRIC, build_catalog

CALLS = 7  # PL/Python's plans are custom for 5 executions, then may turn generic
OPEN = (-9.2e12, 9.2e12)


@pytest.fixture(scope="module")
def tenant_db(module_db_uri) -> str:
    """The scale catalog (tests/support/scale_catalog.py) with the big metric's 100,000 series
    split between two tenants: even ids team-a, odd ids team-b (a __tenant__ label at position
    5); the small metrics' series have no tenant. Label hashes are left as they were: only
    reads run here."""
    with psycopg.connect(module_db_uri, autocommit=True) as conn:
        ids = build_catalog(conn)
        big = ids[BIG_METRIC]
        with conn.transaction():
            conn.execute("INSERT INTO _prom_catalog.label_key_position (metric_id, key, pos, column_name) "
                         "VALUES (%s, '__tenant__', 5, _prom_catalog.column_name_for('__tenant__'))", (big,))
            conn.execute("INSERT INTO _prom_catalog.label (key, value) VALUES ('__tenant__', 'team-a'), "
                         "('__tenant__', 'team-b')")
            conn.execute(
                "UPDATE _prom_catalog.series s SET labels = s.labels || (SELECT l.id FROM _prom_catalog.label l "
                "WHERE l.key = '__tenant__' AND l.value = CASE WHEN s.id %% 2 = 0 THEN 'team-a' ELSE 'team-b' END) "
                "WHERE s.metric_id = %s", (big,))
            conn.execute("SELECT _prom_catalog.create_metric_views(%s)", (big,))
        conn.execute("VACUUM ANALYZE _prom_catalog.series")
        conn.execute("ANALYZE _prom_catalog.label")
        assert conn.execute("SELECT count(*) FROM _prom_catalog.series").fetchone()[0] >= 100_000
    return module_db_uri


@pytest.fixture
def conn(tenant_db):
    with psycopg.connect(tenant_db, autocommit=True) as c:
        c.execute("SET max_parallel_workers_per_gather = 0")
        yield c


def call(conn, sql: str, params) -> tuple[str, list[dict]]:
    plans: list[dict] = []
    bodies = set()
    for _ in range(CALLS):
        body, run = run_explained(conn, sql, params)
        bodies.add(body)
        plans += run
    assert len(bodies) == 1
    return bodies.pop(), plans


def series_id_of(conn, i: int) -> int:
    return conn.execute("SELECT s.id FROM _prom_catalog.series s JOIN _prom_catalog.label l ON l.id = s.labels[4] "
                        "WHERE l.key = 'series' AND l.value = %s", (f"s{i}",)).fetchone()[0]


def assert_reads_only(plans: list[dict], most: int) -> None:
    """Series only through indexes, at most ``most`` rows per call."""
    assert plans
    for node in scans(plans):
        if node["Relation Name"] in ("series", "label"):
            assert node["Node Type"] != "Seq Scan", f"scans every row of {node['Relation Name']}"
    assert rows_read(plans, "series") <= CALLS * most


@pytest.mark.parametrize("tenant", ["team-a", "team-b"])
def test_a_tenants_one_series_lookup_reads_that_series(conn, tenant):
    i = next(i for i in range(100) if (series_id_of(conn, i) % 2 == 0) == (tenant == "team-a"))
    conn.execute("SELECT prom_api.set_request_tenant(%s, false)", (tenant,))
    body, plans = call(conn, "SELECT prom_api.series_json(ARRAY[%s], %s, %s)",
                       (f'{BIG_METRIC}{{series="s{i}"}}', *OPEN))
    assert [s["__tenant__"] for s in json.loads(body)["data"]] == [tenant]
    assert_reads_only(plans, 2)
    body, plans = call(conn, "SELECT prom_api.query_json(%s, %s)",
                       (f'count({BIG_METRIC}{{series="s{i}"}})', 1704067200))
    assert json.loads(body)["status"] == "success"
    assert_reads_only(plans, 2)
    # the other tenant's series of the same metric: not there, and not read either
    other = i + 1
    body, plans = call(conn, "SELECT prom_api.series_json(ARRAY[%s], %s, %s)",
                       (f'{BIG_METRIC}{{series="s{other}"}}', *OPEN))
    assert json.loads(body)["data"] == []
    assert_reads_only(plans, 2)


def test_a_request_without_tenant_reads_only_untenanted_series(conn):
    conn.execute("SELECT prom_api.set_request_tenant('', false)")
    body, plans = call(conn, "SELECT prom_api.series_json(ARRAY['scale_small_0'], %s, %s)", OPEN)
    assert len(json.loads(body)["data"]) == 10
    assert_reads_only(plans, 10)
    body, _ = call(conn, "SELECT prom_api.series_json(ARRAY[%s], %s, %s)", (f'{BIG_METRIC}{{series="s1"}}', *OPEN))
    assert json.loads(body)["data"] == []


@pytest.mark.parametrize("view", ["prom_series", "prom_metric"])
def test_a_view_query_reads_the_series_it_selects(conn, view):
    sid = series_id_of(conn, 42)
    tenant = "team-a" if sid % 2 == 0 else "team-b"
    other = "team-b" if tenant == "team-a" else "team-a"
    for who, expected in ((tenant, 1), (other, 0)):
        conn.execute("SELECT prom_api.set_request_tenant(%s, false)", (who,))
        count_sql = (f"SELECT count(*) FROM {view}.{BIG_METRIC} WHERE series_id = %s" if view == "prom_series" else
                     f"SELECT count(DISTINCT series_id) FROM (SELECT series_id FROM prom_series.{BIG_METRIC} "
                     f"WHERE series_id = %s) s")
        assert conn.execute(count_sql, (sid,)).fetchone()[0] == expected
        plan = explain(conn, f"SELECT * FROM {view}.{BIG_METRIC} WHERE series_id = %s", (sid,))
        series_scans = [n for n in nodes(plan) if n.get("Relation Name") == "series"]
        assert series_scans and all(n["Node Type"] != "Seq Scan" for n in series_scans), series_scans
        assert sum(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in series_scans) <= 1
        # the visibility decision: InitPlans run once, not a call per series
        filters = [n for n in nodes(plan) if "visible_label_filter" in n.get("Function Call", "")]
        assert filters and all(n["Actual Loops"] <= 1 for n in filters), filters
