"""The same rule file evaluated by Prometheus 2.42 and by us, on the same pushed data, gives
the same recorded samples and the same alert transitions.

Every sample is pushed to both (remote_write; Prometheus's receiver) before any evaluation
reads it: the timeline starts a few seconds in the future, so neither side can evaluate
before the data it needs is stored. Both place a group's evaluations at the same slots (the
offset comes from a hash of the file path and group name, and the file path is the same), so
the comparison is made at the evaluation timestamps both produced: same values there, and
the same series (a recorded series that disappears stops in both)."""

from __future__ import annotations

import time

import pytest
import requests

from support.connector import ConnectorProcess
from support.prometheus import Prometheus
from support.remote_write import HEADERS, STALE_NAN, encode, write_request

pytestmark = pytest.mark.slow

RULES = """groups:
- name: differential
  interval: 1s
  rules:
  - record: job:demo_value:sum
    expr: sum by (job) (demo_value)
  - record: demo_value:doubled
    expr: demo_value * 2
    labels:
      source: rule
  - record: demo_requests:rate5s
    expr: rate(demo_requests_total[5s])
  - record: demo_gone:copy
    expr: demo_gone
  - alert: DemoHigh
    expr: demo_value > 5
    for: 3s
    labels:
      severity: warn
    annotations:
      summary: "{{ $labels.job }} at {{ $value }}"
  - alert: DemoTemplates
    expr: demo_value{job="b"} * 1234.5678
    labels:
      team: '{{ $labels.job | toUpper }}'
    annotations:
      numbers: '{{ $value }} {{ humanize $value }} {{ humanize1024 $value }} {{ $value | printf "%.2f" }}'
      small: '{{ humanize 0.000123 }} {{ humanizePercentage 0.4567 }} {{ humanizeDuration 93784.5 }} {{ humanizeDuration 0.05 }}'
      times: '{{ humanizeTimestamp 1700000000.5 }} {{ parseDuration "1h30m" }} {{ toTime 1700000000 }}'
      text: '{{ title "hello wide world" }} {{ toLower "ABC" }} {{ reReplaceAll "(a+)(b)" "${2}-$1" "xaab" }} {{ match "^d" $labels.__name__ }}'
      control: '{{ if gt $value 100.0 }}big{{ else }}small{{ end }} {{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}'
      query: '{{ with query "sum(demo_value)" }}{{ . | first | value }}{{ end }} {{ range query "demo_value" | sortByLabel "job" }}{{ label "job" . }}{{ end }}'
      urls: '{{ $externalURL }} {{ $externalLabels.cluster }} {{ len $labels }} {{ index $labels "job" }}'
"""
START_DELAY_S = 6  # the timeline starts this far in the future: everything is stored first
LENGTH_S = 24


def timeline(start_ms: int) -> list:
    """(labels, samples) of the pushed series, one sample per second."""
    ts = [start_ms + 1000 * i for i in range(LENGTH_S)]
    value_a = [1.0 if i < 6 or i >= 16 else 10.0 for i in range(LENGTH_S)]
    return [
        ({"__name__": "demo_value", "job": "a"}, list(zip(ts, value_a))),
        ({"__name__": "demo_value", "job": "b"}, [(t, 2.0) for t in ts]),
        ({"__name__": "demo_requests_total", "job": "a"}, [(t, float(3 * i * i)) for i, t in enumerate(ts)]),
        # a series that ends with a stale marker: its recorded copy must end in both
        ({"__name__": "demo_gone", "job": "a"}, [(t, 7.0) for t in ts[:8]] + [(ts[8], STALE_NAN)]),
    ]


def push(url: str, series: list) -> None:
    response = requests.post(url + "/api/v1/write", data=encode(write_request(series)), headers=HEADERS, timeout=30)
    assert response.status_code in (200, 204), response.text


def raw_samples(base_url: str, query: str, at_s: float) -> dict[tuple, dict[int, str]]:
    """{labels: {time ms: value}} of a range selector's raw samples (stale markers left out)."""
    body = requests.get(base_url + "/api/v1/query", params={"query": query, "time": at_s}, timeout=30).json()
    assert body["status"] == "success", body
    return {tuple(sorted(s["metric"].items())): {round(float(t) * 1000): v for t, v in s["values"]}
            for s in body["data"]["result"]}


def rfc3339_ms(text: str) -> int:
    """Unix ms of an RFC 3339 UTC time with any fraction (Prometheus has the slot's nanoseconds,
    we keep milliseconds: both are compared truncated to milliseconds)."""
    import datetime
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.datetime.fromisoformat(whole + "+00:00").timestamp()
    return int(seconds) * 1000 + int((fraction + "000")[:3])


def last_evaluation_ms(base_url: str) -> int:
    groups = requests.get(base_url + "/api/v1/rules", timeout=30).json()["data"]["groups"]
    text = groups[0]["lastEvaluation"] if groups else "0001-01-01T00:00:00Z"
    if text.startswith("0001-"):
        return 0
    return rfc3339_ms(text)


def test_rules_evaluate_as_in_prometheus(pg_cluster, db_name, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    prometheus = Prometheus(f"global:\n  evaluation_interval: 1s\n  external_labels:\n    cluster: test\n"
                            f"rule_files:\n- {rules}\n",
                            ["--web.enable-remote-write-receiver", "--web.external-url=http://promscale.example:9090"])
    prometheus.start()
    try:
        with ConnectorProcess(pg_cluster.uri(db_name, "promscale_writer"), workers=1, threads=2,
                              extra_args=["--rules-file", str(rules), "--log-level", "warning",
                                          "--external-url", "http://promscale.example:9090",
                                          "--external-labels", "cluster=test"]) as connector:
            start_ms = (int(time.time()) + START_DELAY_S) * 1000
            series = timeline(start_ms)
            push(prometheus.url, series)
            push(connector.url, series)
            end_ms = start_ms + (LENGTH_S + 2) * 1000
            deadline = time.monotonic() + START_DELAY_S + LENGTH_S + 60
            while min(last_evaluation_ms(prometheus.url), last_evaluation_ms(connector.url)) < end_ms:
                assert time.monotonic() < deadline, "the rule groups were not evaluated through the timeline"
                time.sleep(0.5)
            at_s = end_ms / 1000

            for query in ("job:demo_value:sum", "demo_value:doubled", "demo_requests:rate5s", "demo_gone:copy",
                          "ALERTS", "ALERTS_FOR_STATE"):
                theirs = raw_samples(prometheus.url, f"{query}[2m]", at_s)
                ours = raw_samples(connector.url, f"{query}[2m]", at_s)
                assert set(ours) == set(theirs), query
                for labels, their_samples in theirs.items():
                    # the evaluations both made within the timeline (each started at its own time)
                    common = sorted(set(their_samples) & set(ours[labels]))
                    assert common, (query, labels)
                    # same values at the timestamps both evaluated (a late evaluator may skip a slot)
                    assert {t: ours[labels][t] for t in common} == {t: their_samples[t] for t in common}, \
                        (query, labels)

            # demo_gone's stale marker (at the timeline's 9th second) ends its copy in both
            gone_at = start_ms + 8000
            for base_url in (prometheus.url, connector.url):
                [copy] = raw_samples(base_url, "demo_gone:copy[2m]", at_s).values()
                assert max(copy) < gone_at and max(copy) >= gone_at - 2000, base_url

            # the alert still firing at the end, with its templates expanded alike
            def active(base_url: str) -> list:
                body = requests.get(base_url + "/api/v1/alerts", timeout=30).json()
                alerts = sorted(body["data"]["alerts"], key=lambda a: sorted(a["labels"].items()))
                for a in alerts:
                    a["activeAt"] = rfc3339_ms(a["activeAt"])
                return alerts

            theirs_active = active(prometheus.url)
            assert [a["labels"]["alertname"] for a in theirs_active] == ["DemoTemplates"]
            ours_active = active(connector.url)
            assert ours_active == theirs_active

            # /api/v1/rules alike, but for the times each side measured
            def rules_api(base_url: str) -> list:
                groups = requests.get(base_url + "/api/v1/rules", timeout=30).json()["data"]["groups"]
                for g in groups:
                    for item in [g, *g["rules"]]:
                        item.pop("evaluationTime")
                        item.pop("lastEvaluation")
                    for r in g["rules"]:
                        for a in r.get("alerts", []):
                            a["activeAt"] = rfc3339_ms(a["activeAt"])
                return groups

            theirs_rules = rules_api(prometheus.url)
            assert rules_api(connector.url) == theirs_rules

            # the alert went pending -> firing -> inactive in both
            alerts = raw_samples(prometheus.url, "ALERTS[2m]", at_s)
            states = {dict(k)["alertstate"] for k in alerts}
            assert states == {"pending", "firing"}
    finally:
        prometheus.remove()
