"""Alerts from rules evaluated in the database reach a real Alertmanager 0.25 through the
connector (v2 API), which notifies a webhook receiver this test runs: firing, then resolved.
The connector's /api/v1/alerts and /api/v1/rules show the alert as Prometheus's do."""

from __future__ import annotations

import signal
import time

import pytest
import requests

from support.alertmanager import Alertmanager, WebhookReceiver
from support.connector import ConnectorProcess
from support.remote_write import HEADERS, encode, write_request

pytestmark = pytest.mark.slow

RULES = """groups:
- name: demo
  interval: 1s
  rules:
  - alert: DemoDown
    expr: demo_up == 0
    for: 2s
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.instance }} of {{ $labels.job }} is down (value {{ $value }})"
  - record: demo:up:sum
    expr: sum(demo_up)
"""


def push(url: str, value: float) -> None:
    now_ms = int(time.time() * 1000)
    body = encode(write_request([({"__name__": "demo_up", "job": "api", "instance": "h1:9100"}, [(now_ms, value)])]))
    response = requests.post(url + "/api/v1/write", data=body, headers=HEADERS, timeout=30)
    assert response.status_code == 204, response.text


@pytest.fixture
def alertmanager():
    receiver = WebhookReceiver()
    server = Alertmanager(receiver.url)
    server.start()
    try:
        yield server, receiver
    finally:
        server.remove()
        receiver.close()


def test_alert_fires_and_resolves_through_alertmanager(pg_cluster, db_name, tmp_path, alertmanager):
    am, receiver = alertmanager
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    args = ["--rules-file", str(tmp_path / "*.yml"), "--alertmanager-url", am.url, "--alert-resend-delay", "1s",
            "--external-url", "http://promscale.example:9201", "--external-labels", "cluster=test",
            "--log-level", "warning"]
    with ConnectorProcess(pg_cluster.uri(db_name, "promscale_writer"), workers=2, threads=2,
                          extra_args=args) as connector:
        push(connector.url, 0.0)
        firing = receiver.wait_for(lambda n: n["status"] == "firing")
        alert = firing["alerts"][0]
        assert alert["labels"] == {"alertname": "DemoDown", "cluster": "test", "instance": "h1:9100",
                                   "job": "api", "severity": "page"}
        assert alert["annotations"] == {"summary": "h1:9100 of api is down (value 0)"}
        assert alert["generatorURL"].startswith("http://promscale.example:9201/graph?g0.expr=demo_up+%3D%3D+0")

        body = requests.get(connector.url + "/api/v1/alerts", timeout=10).json()
        assert body["status"] == "success"
        [shown] = body["data"]["alerts"]
        assert shown["state"] == "firing" and shown["value"] == "0e+00"
        assert shown["labels"]["alertname"] == "DemoDown" and "cluster" not in shown["labels"]
        groups = requests.get(connector.url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
        assert [(g["name"], g["file"], g["interval"]) for g in groups] == [("demo", str(rules), 1)]
        alerting, recording = groups[0]["rules"]
        assert (alerting["type"], alerting["state"], alerting["duration"]) == ("alerting", "firing", 2)
        assert (recording["type"], recording["name"], recording["health"]) == ("recording", "demo:up:sum", "ok")
        assert requests.get(connector.url + "/api/v1/rules", params={"type": "record"}, timeout=10
                            ).json()["data"]["groups"][0]["rules"] == [recording]

        # Alertmanager itself holds it
        am_alerts = requests.get(am.url + "/api/v2/alerts", timeout=10).json()
        assert [a["labels"]["alertname"] for a in am_alerts] == ["DemoDown"]

        metrics = requests.get(connector.url + "/metrics", timeout=10).text
        assert "promscale_alerts_sent_total 0" not in metrics and "promscale_alerts_sent_total" in metrics
        assert "promscale_rule_group_evaluations_total 0" not in metrics

        push(connector.url, 1.0)
        resolved = receiver.wait_for(lambda n: n["status"] == "resolved")
        assert resolved["alerts"][0]["labels"]["alertname"] == "DemoDown"
        assert requests.get(connector.url + "/api/v1/alerts", timeout=10).json()["data"]["alerts"] == []


def test_reload_reads_the_rule_files_again(pg_cluster, db_name, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    with ConnectorProcess(pg_cluster.uri(db_name, "promscale_writer"), workers=1, threads=2,
                          extra_args=["--rules-file", str(rules), "--log-level", "warning"]) as connector:
        def names() -> list[str]:
            groups = requests.get(connector.url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
            return [r["name"] for g in groups for r in g["rules"]]

        assert names() == ["DemoDown", "demo:up:sum"]
        rules.write_text(RULES.replace("demo:up:sum", "demo:up:count").replace("sum(demo_up)", "count(demo_up)"))
        assert requests.post(connector.url + "/-/reload", timeout=30).status_code == 200
        assert names() == ["DemoDown", "demo:up:count"]
        rules.write_text("groups:\n- name: demo\n  rules:\n  - record: bad name\n    expr: up\n")
        response = requests.post(connector.url + "/-/reload", timeout=30)
        assert response.status_code == 400
        assert 'invalid recording rule name: bad name' in response.text
        assert names() == ["DemoDown", "demo:up:count"]  # nothing changed
        # SIGHUP: gunicorn restarts its workers, which read the files again
        rules.write_text(RULES.replace("demo:up:sum", "demo:up:max").replace("sum(demo_up)", "max(demo_up)"))
        connector.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while names() != ["DemoDown", "demo:up:max"]:
            assert time.monotonic() < deadline, names()
            time.sleep(0.2)
