"""The connector's rule evaluator against a real database: of several evaluators (one per
worker of each connector) exactly one holds the lease and evaluates; when it stops, another
takes over; each group is evaluated once per slot."""

from __future__ import annotations

import json
import time

import psycopg

from pyconnector.rules import RuleEvaluator
from pyconnector.rules.alertmanager import AlertmanagerClient


def wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def recorded_times(conn) -> list[float]:
    rows = conn.execute("SELECT extract(epoch FROM x.t)::float8 FROM prom_api.get_samples(ARRAY(SELECT id FROM "
                        "_prom_catalog.series WHERE metric_id = (SELECT id FROM _prom_catalog.metric "
                        "WHERE metric_name = 'one')), '-infinity', 'infinity') s, unnest(s.times) x(t) "
                        "ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def test_one_evaluator_at_a_time_and_takeover(pg_cluster, db_name):
    with psycopg.connect(pg_cluster.uri(db_name), autocommit=True) as conn:
        conn.execute("SELECT prom_api.put_rule_group('g', 'interval: 1s\nrules:\n- record: one\n  expr: vector(1)\n')")
        uri = pg_cluster.uri(db_name, "promscale_writer")
        evaluators = [RuleEvaluator(uri, AlertmanagerClient([])) for _ in range(2)]
        for e in evaluators:
            e.start()
        try:
            wait_until(lambda: sum(e.evaluations for e in evaluators) >= 3)
            holders = [e for e in evaluators if e.holding]
            assert len(holders) == 1
            [other] = [e for e in evaluators if e is not holders[0]]
            assert other.evaluations == 0
            holders[0].stop()
            wait_until(lambda: other.evaluations >= 2)
            assert other.holding
        finally:
            for e in evaluators:
                e.stop()
        times = recorded_times(conn)
        assert len(times) >= 5
        assert len(set(times)) == len(times)  # one evaluation per slot
        steps = {round(b - a, 3) for a, b in zip(times, times[1:])}
        assert all(s >= 1 and s == int(s) for s in steps), steps  # on the group's 1s slots
        state = json.loads(conn.execute("SELECT state::text FROM _prom_catalog.rule_group").fetchone()[0])
        assert state["rules"][0]["health"] == "ok"


def test_pg_cron_style_evaluation_of_due_groups(db):
    db.execute("SELECT prom_api.put_rule_group('g', 'interval: 10s\nrules:\n- record: one\n  expr: vector(1)\n')")
    assert db.execute("SELECT prom_api.evaluate_rule_groups(to_timestamp(1700000000))").fetchone()[0] == 1
    # the same slot again: nothing due
    assert db.execute("SELECT prom_api.evaluate_rule_groups(to_timestamp(1700000000.5))").fetchone()[0] == 0
    assert db.execute("SELECT prom_api.evaluate_rule_groups(to_timestamp(1700000011))").fetchone()[0] == 1
    times = recorded_times(db)
    assert len(times) == 2 and times[1] - times[0] == 10
