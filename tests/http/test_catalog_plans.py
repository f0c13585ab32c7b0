"""/api/v1/labels, /api/v1/label/<name>/values and /api/v1/series at 100,000 series: the SQL
behind them (prom_api.*_json) reads the catalog's indexes, never samples, and touches rows in
proportion to its answer (label keys, one key's values, the series matched), with and without
start/end and match[]. The plans are those the calls really run (auto_explain), over enough
calls that PL/Python's prepared plans have switched to their generic form."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import psycopg
import pytest

from support.nested_plans import rows_read, run_explained, scans
from support.scale_catalog import ACTIVE_FROM, BIG_METRIC, STOPPED_AT

CALLS = 7  # PL/Python's plans are custom for 5 executions, then may turn generic
OPEN = (-9.2e12, 9.2e12)  # the far bounds clients send (Prometheus's minTime/maxTime clamp here too)


def seconds(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(timezone.utc).timestamp()


# after the upper half of the big metric's hosts stopped (STOPPED_AT, 02:00) by more than any slack
LATE = (seconds("2024-01-01 03:00:00+00:00"), seconds("2024-01-01 04:00:00+00:00"))
# before anything was written
EARLY = (seconds("2023-12-31 20:00:00+00:00"), seconds("2023-12-31 22:00:00+00:00"))


@pytest.fixture(scope="module")
def conn(scale_db_uri):
    with psycopg.connect(scale_db_uri, autocommit=True) as conn:
        # samples in the head and in compressed storage, so that a plan that reads samples shows it
        conn.execute("SELECT _prom_catalog.insert_samples(array_agg(s.id), array_agg(%s::timestamptz), "
                     "array_agg(1.0::float8)) FROM (SELECT id FROM _prom_catalog.series ORDER BY id LIMIT 1000) s",
                     (ACTIVE_FROM,))
        assert conn.execute("SELECT prom_api.compress_due_chunks()").fetchone()[0] > 0
        conn.execute("SELECT _prom_catalog.insert_samples(array_agg(s.id), array_agg(%s::timestamptz), "
                     "array_agg(1.0::float8)) FROM (SELECT id FROM _prom_catalog.series ORDER BY id LIMIT 1000) s",
                     (STOPPED_AT,))
        yield conn


def call(conn, sql: str, params) -> tuple[list, list[dict]]:
    """The response's data (the same on every call) and the plans of every call."""
    plans: list[dict] = []
    bodies = set()
    for _ in range(CALLS):
        body, run = run_explained(conn, sql, params)
        bodies.add(body)
        plans += run
    assert len(bodies) == 1
    response = json.loads(bodies.pop())
    assert response["status"] == "success", response
    return response["data"], plans


def assert_catalog_only(plans: list[dict]) -> None:
    """No sample storage read; series and labels only through their indexes."""
    assert plans
    for node in scans(plans):
        name = node["Relation Name"]
        assert not name.startswith(("sample", "compressed")), f"reads samples: {node['Node Type']} on {name}"
        if name in ("series", "label"):
            assert node["Node Type"] != "Seq Scan", f"scans every row of {name}"


@pytest.mark.parametrize("window, hosts", [(OPEN, 1000), (LATE, 500), (EARLY, 0)])
def test_label_values_read_one_keys_index_range(conn, window, hosts):
    values, plans = call(conn, "SELECT prom_api.label_values_json('instance', NULL, %s, %s)", window)
    assert values == sorted(f"host-{i}" for i in range(hosts))
    assert_catalog_only(plans)
    # the values of `instance` (1,000 hosts) on each call; not the 100,000 series, not other keys' labels
    assert rows_read(plans, "label") <= CALLS * 1000
    assert rows_read(plans, "series") == 0


@pytest.mark.parametrize("window, names", [(OPEN, ["__name__", "instance", "job", "series"]),
                                           (LATE, ["__name__", "instance", "job", "series"]), (EARLY, [])])
def test_label_names_read_the_keys(conn, window, names):
    got, plans = call(conn, "SELECT prom_api.label_names_json(NULL, %s, %s)", window)
    assert got == names
    assert_catalog_only(plans)
    assert rows_read(plans, "label_key") <= CALLS * 4
    assert rows_read(plans, "label") == rows_read(plans, "series") == 0


# host-7 stays active to the end; host-700 stopped at 02:00: 100 series each in the big metric
@pytest.mark.parametrize("match, window, expected", [
    (f'{BIG_METRIC}{{instance="host-7"}}', OPEN, 100),
    (f'{BIG_METRIC}{{instance="host-7"}}', LATE, 100),
    (f'{BIG_METRIC}{{instance="host-700"}}', LATE, 0),
    (f'{BIG_METRIC}{{instance="host-700"}}', OPEN, 100),
    ("scale_small_0", LATE, 10),
    (f'{BIG_METRIC}{{instance=~"host-7|host-8"}}', OPEN, 200),  # the regex reads the 1,000 values of `instance`
])
def test_series_read_the_series_matched(conn, match, window, expected):
    data, plans = call(conn, "SELECT prom_api.series_json(ARRAY[%s], %s, %s)", (match, *window))
    assert len(data) == expected
    assert data == sorted(data, key=lambda s: sorted(s.items()))
    assert_catalog_only(plans)
    # the candidates of the most selective matcher, each read once per call
    assert rows_read(plans, "series") <= CALLS * 200


@pytest.mark.parametrize("window, expected", [(OPEN, 100), (LATE, 100), (EARLY, 0)])
def test_label_values_with_match(conn, window, expected):
    values, plans = call(conn, "SELECT prom_api.label_values_json('series', ARRAY[%s], %s, %s)",
                         (f'{BIG_METRIC}{{instance="host-7"}}', *window))
    assert values == sorted(f"s{i}" for i in range(7, 100_000, 1000))[:expected]
    assert_catalog_only(plans)
    assert rows_read(plans, "series") <= CALLS * 100
    assert rows_read(plans, "label") <= CALLS * (100 + 2)  # the values, and the matchers' labels


@pytest.mark.parametrize("window, expected", [(LATE, ["__name__", "instance", "job", "series"]), (EARLY, [])])
def test_label_names_with_match(conn, window, expected):
    names, plans = call(conn, "SELECT prom_api.label_names_json(ARRAY[%s], %s, %s)",
                        (f'{BIG_METRIC}{{instance="host-7"}}', *window))
    assert names == expected
    assert_catalog_only(plans)
    assert rows_read(plans, "series") <= CALLS * 100


@pytest.mark.parametrize("window, expected", [(OPEN, ["__name__", "instance", "job", "series"]), (EARLY, [])])
def test_label_names_of_a_metric_read_its_keys(conn, window, expected):
    """labels?match[]=<metric>, Grafana's question once a metric is picked: the metric's keys,
    not its 100,000 series."""
    names, plans = call(conn, "SELECT prom_api.label_names_json(ARRAY[%s], %s, %s)", (BIG_METRIC, *window))
    assert names == expected
    assert_catalog_only(plans)
    assert rows_read(plans, "series") == 0
    assert rows_read(plans, "label_key_position") <= CALLS * 16


@pytest.mark.parametrize("window, hosts", [(OPEN, 1000), (LATE, 500), (EARLY, 0)])
def test_label_values_of_a_metric_read_its_labels_of_that_name(conn, window, hosts):
    """label_values(metric, name) in Grafana: the values of one name in one metric, not the
    metric's 100,000 series."""
    values, plans = call(conn, "SELECT prom_api.label_values_json('instance', ARRAY[%s], %s, %s)",
                         (BIG_METRIC, *window))
    assert values == sorted(f"host-{i}" for i in range(hosts))
    assert_catalog_only(plans)
    assert rows_read(plans, "series") == 0
    assert rows_read(plans, "metric_label") <= CALLS * 1000
