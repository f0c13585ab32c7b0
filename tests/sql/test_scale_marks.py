"""Marking activity at 100,000 series (sql/idempotent/045-activity.sql): the catalog rows a mark
moves are found by their whole key (plans asserted, not timings). A probe of metric_label on
(metric_id, label_id) without the key once read a metric's every label per pair: marking the
100,000 series of one metric took six minutes."""

from __future__ import annotations

import re

import psycopg

from test_series_resolution import nested_plans

MARK = ("SELECT count(*) FROM (SELECT array_agg(s.id) AS ids, array_agg(now() + interval '1 day') AS times "
        "                       FROM (SELECT s.id FROM _prom_catalog.series s ORDER BY s.id LIMIT %(n)s) s) a, "
        "prom_api.mark_series_activity(a.ids, a.times, a.times)")


def metric_label_probes(text: str) -> list[str]:
    return re.findall(r"Index (?:Only )?Scan using metric_label_pkey on metric_label \w+.*\n\s+Index Cond: (.*)", text)


def test_a_mark_of_a_few_series_probes_what_it_moves_by_whole_keys(scale_db_uri):
    with psycopg.connect(scale_db_uri, autocommit=True) as conn, conn.transaction(force_rollback=True):
        # a day past every bound: the series, their labels, metric keys and metric labels move
        text = "\n".join(nested_plans(conn, MARK, {"n": 200}))
        probes = metric_label_probes(text)
        assert probes, text
        assert all("metric_id =" in cond and "key =" in cond and "label_id =" in cond for cond in probes), text
        assert not re.search(r"(Seq Scan|Bitmap Heap Scan) on (metric_label|label|series)\b", text), text
        assert conn.execute("SELECT count(*) FROM _prom_catalog.metric_label WHERE last_seen > now() + interval '1 day'"
                            ).fetchone()[0] >= 200


def test_a_mark_of_every_series_never_probes_metric_labels_without_their_key(scale_db_uri):
    with psycopg.connect(scale_db_uri, autocommit=True) as conn, conn.transaction(force_rollback=True):
        text = "\n".join(nested_plans(conn, MARK, {"n": 200_000}))
        # a scan of all metric labels is fine for a mark that moves them all; a probe per pair
        # on part of the key is not
        assert all("key =" in cond for cond in metric_label_probes(text)), text
        assert conn.execute("SELECT count(*) FROM _prom_catalog.metric_label WHERE last_seen > now() + interval '1 day'"
                            ).fetchone()[0] >= 100_000
