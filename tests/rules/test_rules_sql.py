"""Rule groups in SQL: storing with promtool's validation, evaluation of recording and
alerting rules (ALERTS series, pending -> firing -> resolved, stale markers), the
/api/v1/rules and /api/v1/alerts bodies. Against a real database."""

from __future__ import annotations

import json
import math
import struct

import psycopg
import pytest

T0 = 1_700_000_000  # seconds; data and evaluations start here


def load(db, labels: dict, values: list[float], step_s: int = 10) -> None:
    sid = db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (json.dumps(labels),)).fetchone()[0]
    db.execute("SELECT prom_api.put_samples(%s::bigint[], ARRAY(SELECT to_timestamp(x) FROM unnest(%s::float8[]) x), "
               "%s::float8[])", ([sid] * len(values), [T0 + i * step_s for i in range(len(values))], values))


def evaluate(db, name: str, t: float, file: str = "", **kw) -> list:
    args = ", ".join(f"{k} => %({k})s" for k in kw)
    return db.execute(f"SELECT prom_api.evaluate_rule_group(%(file)s, %(name)s, to_timestamp(%(t)s)"
                      f"{', ' + args if args else ''})", {"file": file, "name": name, "t": t, **kw}).fetchone()[0]


def samples(db, metric: str) -> list[tuple[dict, float, int]]:
    """(labels, unix seconds, value bits) of every stored sample of a metric."""
    rows = db.execute("SELECT prom_api.labels(s.series_id)::text, extract(epoch FROM x.t)::float8, float8send(x.v) "
                      "FROM prom_api.get_samples(ARRAY(SELECT id FROM _prom_catalog.series "
                      "WHERE metric_id = (SELECT id FROM _prom_catalog.metric WHERE metric_name = %s)), "
                      "'-infinity', 'infinity') s, unnest(s.times, s.vals) AS x(t, v) ORDER BY 2, 1",
                      (metric,)).fetchall()
    return [(json.loads(l), t, struct.unpack(">q", bytes(v))[0]) for l, t, v in rows]


def bits(v: float) -> int:
    return struct.unpack("<q", struct.pack("<d", v))[0]


STALE = 0x7FF0000000000002


def test_put_rule_group_refuses_invalid_rules_with_promtools_messages(db):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
        db.execute("SELECT prom_api.put_rule_group('g', %s)", ("rules:\n- record: 'bad name'\n  expr: up\n"
                                                                "- alert: A\n  expr: up ==\n"
                                                                "- alert: B\n  expr: up\n  annotations:\n"
                                                                "    s: '{{ $labels.job | nope }}'\n",))
    msg = err.value.diag.message_primary
    assert 'group "g", rule 1, "bad name": invalid recording rule name: bad name' in msg
    assert 'group "g", rule 2, "A": could not parse expression: 1:6: parse error: unexpected end of input' in msg
    assert 'group "g", rule 3, "B": annotation "s": template: __alert_B:1: function "nope" not defined' in msg
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="field bogus not found"):
        db.execute("SELECT prom_api.put_rule_group('g', 'rules:\n- record: x\n  expr: up\n  bogus: 1\n')")
    assert db.execute("SELECT count(*) FROM _prom_catalog.rule_group").fetchone()[0] == 0


def test_recording_rule_writes_series_and_stale_markers(db):
    load(db, {"__name__": "req", "job": "a"}, [float(i) for i in range(30)])
    load(db, {"__name__": "req", "job": "b"}, [float(2 * i) for i in range(3)])
    db.execute("SELECT prom_api.put_rule_group('g', %s)", (
        "interval: 10s\nrules:\n- record: job:req:sum\n  expr: sum by (job) (req)\n  labels:\n    team: x\n",))
    assert evaluate(db, "g", T0 + 20) == []
    assert evaluate(db, "g", T0 + 30) == []
    # job b's last sample is at T0+20: still within the 5m lookback at T0+30; at T0+400 only a is left
    assert evaluate(db, "g", T0 + 400) == []
    got = samples(db, "job:req:sum")
    a = {"__name__": "job:req:sum", "job": "a", "team": "x"}
    b = {"__name__": "job:req:sum", "job": "b", "team": "x"}
    assert (a, T0 + 20, bits(2.0)) in got and (b, T0 + 20, bits(4.0)) in got
    assert (a, T0 + 400, bits(29.0)) in got
    assert (b, T0 + 400, STALE) in got  # stale marker: b disappeared from the result
    rules = json.loads(db.execute("SELECT prom_api.rules_json()").fetchone()[0])["data"]["groups"]
    assert rules[0]["name"] == "g" and rules[0]["interval"] == 10
    rule = rules[0]["rules"][0]
    assert (rule["name"], rule["query"], rule["health"], rule["type"]) == \
        ("job:req:sum", "sum by (job) (req)", "ok", "recording")


def test_alert_goes_pending_firing_resolved_with_alerts_series(db):
    load(db, {"__name__": "temp", "room": "a"}, [10.0] * 3 + [50.0] * 6 + [10.0] * 3, step_s=10)
    db.execute("SELECT prom_api.put_rule_group('g', %s)", (
        "interval: 10s\nrules:\n- alert: Hot\n  expr: temp > 40\n  for: 20s\n  labels:\n    severity: page\n"
        "  annotations:\n    summary: '{{ $labels.room }} is {{ $value | humanize }} degrees'\n",))
    states = []
    sent = []
    for i in range(3, 13):
        sent.append(evaluate(db, "g", T0 + 10 * i, resend_delay="1 minute"))
        alerts = json.loads(db.execute("SELECT prom_api.alerts_json()").fetchone()[0])["data"]["alerts"]
        states.append(alerts[0]["state"] if alerts else "inactive")
    assert states == ["pending", "pending", "firing", "firing", "firing", "firing", "inactive", "inactive",
                      "inactive", "inactive"]
    # sent when it fires, not again within the resend delay, then once resolved
    # sent when it fires (T0+50) and when it resolves (T0+90); not again within the resend delay
    assert [i for i, s in enumerate(sent) if s] == [2, 6]
    first = sent[2][0]
    assert first["labels"] == {"alertname": "Hot", "room": "a", "severity": "page"}
    assert first["annotations"] == {"summary": "a is 50 degrees"}
    assert sent[6][0]["endsAt"] == "2023-11-14T22:14:50.000Z"  # resolved at T0 + 90
    assert first["startsAt"] == "2023-11-14T22:14:10.000Z"  # fired at T0 + 50
    assert first["endsAt"] == "2023-11-14T22:18:10.000Z"  # valid for 4 resend delays
    # with a resend delay below the interval: sent again at every evaluation while firing
    db.execute("SELECT prom_api.put_rule_group('h', %s)", (
        "interval: 10s\nrules:\n- alert: Hot\n  expr: temp > 40\n",))
    again = [evaluate(db, "h", T0 + 10 * i, resend_delay="5 seconds") for i in range(3, 7)]
    assert [len(a) for a in again] == [1, 1, 1, 1]
    alerts = samples(db, "ALERTS")
    labels = {"__name__": "ALERTS", "alertname": "Hot", "room": "a", "severity": "page"}
    assert (dict(labels, alertstate="pending"), T0 + 30, bits(1.0)) in alerts
    assert (dict(labels, alertstate="firing"), T0 + 50, bits(1.0)) in alerts
    assert (dict(labels, alertstate="firing"), T0 + 90, STALE) in alerts
    for_state = samples(db, "ALERTS_FOR_STATE")
    assert ({"__name__": "ALERTS_FOR_STATE", "alertname": "Hot", "room": "a", "severity": "page"},
            T0 + 30, bits(float(T0 + 30))) in for_state


def test_replacing_and_deleting_groups(db):
    load(db, {"__name__": "up", "job": "a"}, [1.0] * 3)
    db.execute("SELECT prom_api.put_rule_group('g', 'rules:\n- record: r1\n  expr: up\n- record: r2\n  expr: up\n')")
    evaluate(db, "g", T0 + 20)
    db.execute("SELECT prom_api.put_rule_group('g', 'rules:\n- record: r2\n  expr: up\n')")
    evaluate(db, "g", T0 + 30)
    assert samples(db, "r1")[-1][1:] == (T0 + 30, STALE)  # r1 went away with the new version
    assert samples(db, "r2")[-1][1:] == (T0 + 30, bits(1.0))
    assert db.execute("SELECT prom_api.delete_rule_group('g')").fetchone()[0] is True
    assert samples(db, "r2")[-1][2] == STALE
    assert db.execute("SELECT prom_api.delete_rule_group('g')").fetchone()[0] is False


def test_rule_files_replace_file_groups_all_or_nothing(db):
    ok = "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n"
    assert db.execute("SELECT prom_api.put_rule_files(%s, %s)", (["/r/1.yml"], [ok])).fetchone()[0] == 1
    with pytest.raises(psycopg.errors.InvalidParameterValue, match='/r/2.yml: groupname: "b" is repeated'):
        db.execute("SELECT prom_api.put_rule_files(%s, %s)",
                   (["/r/1.yml", "/r/2.yml"], [ok, "groups:\n- name: b\n  rules: []\n- name: b\n  rules: []\n"]))
    assert db.execute("SELECT file, name FROM _prom_catalog.rule_group").fetchall() == [("/r/1.yml", "a")]
    db.execute("SELECT prom_api.put_rule_files(%s, %s)", (["/r/2.yml"], ["groups:\n- name: b\n  rules: []\n"]))
    assert db.execute("SELECT file, name FROM _prom_catalog.rule_group").fetchall() == [("/r/2.yml", "b")]
    schedule = db.execute("SELECT * FROM prom_api.rule_group_schedule()").fetchall()
    assert schedule[0][:3] == ("/r/2.yml", "b", 60000) and 0 <= schedule[0][3] < 60_000_000_000


def test_a_new_evaluator_restores_the_for_state_as_prometheus(db):
    load(db, {"__name__": "temp", "room": "a"}, [50.0] * 40, step_s=10)
    db.execute("SELECT prom_api.put_rule_group('g', %s)",
               ("interval: 10s\nrules:\n- alert: Hot\n  expr: temp > 40\n  for: 30m\n",))
    evaluate(db, "g", T0)
    evaluate(db, "g", T0 + 20)
    # the evaluator stopped at T0+20; another takes over 5 minutes later: the alert keeps the
    # 29m40s it had left (Prometheus shifts activeAt by the pause)
    evaluate(db, "g", T0 + 320, restore=True)
    for_state = {t: v for _, t, v in samples(db, "ALERTS_FOR_STATE")}
    assert for_state[T0 + 20] == bits(float(T0)) and for_state[T0 + 320] == bits(float(T0 + 300))
    alerts = json.loads(db.execute("SELECT prom_api.alerts_json()").fetchone()[0])["data"]["alerts"]
    assert alerts[0]["state"] == "pending" and alerts[0]["activeAt"] == "2023-11-14T22:18:20Z"


def test_a_failing_rule_reports_its_error_and_keeps_its_series(db):
    load(db, {"__name__": "x", "k": "a"}, [1.0] * 3)
    load(db, {"__name__": "x", "k": "b"}, [1.0] * 3)
    db.execute("SELECT prom_api.put_rule_group('g', 'rules:\n- record: r\n  expr: x\n  labels:\n    k: same\n')")
    evaluate(db, "g", T0 + 20)  # two series, one label set after the rule's labels: an error
    rule = json.loads(db.execute("SELECT prom_api.rules_json()").fetchone()[0])["data"]["groups"][0]["rules"][0]
    assert rule["health"] == "err"
    assert rule["lastError"] == "vector contains metrics with the same labelset after applying rule labels"
    assert samples(db, "r") == []


def test_evaluating_a_group_that_does_not_exist_is_refused(db):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
        db.execute("SELECT prom_api.evaluate_rule_group('', 'nope', now())")
    assert err.value.diag.message_primary == 'no rule group "nope" in file ""'


def test_an_alert_whose_value_is_nan(db):
    load(db, {"__name__": "ratio", "k": "a"}, [float("nan")] * 3)
    db.execute("SELECT prom_api.put_rule_group('g', 'rules:\n- alert: Odd\n  expr: ratio != 0\n')")
    evaluate(db, "g", T0 + 20)
    alerts = json.loads(db.execute("SELECT prom_api.alerts_json()").fetchone()[0])["data"]["alerts"]
    assert [(a["state"], a["value"]) for a in alerts] == [("firing", "NaN")]
