"""format_query and parse errors compared with a real Prometheus 2.42 (/usr/bin/prometheus)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import json

import psycopg
import pytest

QUERIES = [
    "foo", '{__name__="foo"}', 'foo{a="b", c!~"d.*"}', "sum(rate(x[5m])) by (job)", "sum without (a) (x)",
    "sum by () (x)", "x offset -1h30m", "x offset 5m @ 1.5", "rate(x[5m] @ end())", "x[1h:5m] @ start()",
    "max_over_time(rate(x[1m])[10m:])", "a + on(b) group_left(c) d", "a * ignoring(b) group_right d",
    "a > bool 1", "-x", "- -1", "2 ^ 3 ^ 2", "-2 ^ 2", "1e6", "0x10", "Inf", "NaN", "'single'", "`raw\\n`",
    "x[90s]", "x[7d]", "x[365d]", 'label_join(x, "a", ",", "b", "c")', "topk(3, x) by (a)", "(((x)))",
    'sum by (job, instance) (rate(http_requests_total{job="api-server",handler="/api/v1/query"}[5m])) '
    '/ on (job) group_left sum by (job) (rate(http_requests_total{job="api-server"}[5m])) * 100',
    'histogram_quantile(0.99, sum by (le, job, instance, handler) (rate(http_request_duration_seconds_bucket'
    '{job="api-server",handler=~"/api/v1/query.*"}[5m]))) > bool on (job) group_left (instance) avg(x) by (job)',
    'quantile_over_time(0.9, (sum by (le, job, instance) (rate(some_long_metric_name_total{job="api-server"}[5m])) '
    '+ sum by (le, job, instance) (rate(other_long_metric_name_total[5m])))[30m:1m])',
]

BAD = [
    "sum(", "", "{}", 'foo{__name__="bar"}', "rate(x)", "abs(x[5m])", "nosuchfn(x)", "round()", "time(1)",
    "1 > 2", "x + bool 1", "1 and x", "sum(x[5m])", "topk(x, y)", "(x)[5m]", "x offset 5m offset 5m",
    "x @ 1 @ 2", "sum(x) offset 5m", "x[5m][5m]", 'x{a=~"("}', "-x[5m]", "x[0s]", "foo{", "foo[5m",
    "sum by (a (x)", "1 +", "x @ -Inf", "a and on(a) group_left b", '"a" + 1',
]


@pytest.fixture(scope="module")
def prometheus():
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    tmp = tempfile.mkdtemp(prefix="promql-prom-")
    with open(f"{tmp}/prometheus.yml", "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def prom_get(url: str, path: str, **params) -> dict:
    try:
        with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


@pytest.mark.parametrize("query", QUERIES)
def test_format_query_matches_prometheus(prometheus, db, query):
    expected = prom_get(prometheus, "/api/v1/format_query", query=query)
    assert expected["status"] == "success"
    ours = db.execute("SELECT prom_api.format_query(%s)", (query,)).fetchone()[0]
    assert ours == expected["data"]


@pytest.mark.parametrize("query", BAD)
def test_parse_errors_match_prometheus(prometheus, db, query):
    expected = prom_get(prometheus, "/api/v1/query", query=query, time="100")
    assert expected["status"] == "error"
    ours = json.loads(db.execute("SELECT prom_api.query_json(%s, 100)", (query,)).fetchone()[0])
    assert (ours["errorType"], ours["error"]) == (expected["errorType"], expected["error"])


def test_format_query_error_is_raised_with_prometheus_message(prometheus, db):
    expected = prom_get(prometheus, "/api/v1/format_query", query="sum(")
    with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
        db.execute("SELECT prom_api.format_query('sum(')")
    assert expected["error"].endswith(err.value.diag.message_primary)
