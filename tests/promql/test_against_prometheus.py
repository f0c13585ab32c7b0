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
from datetime import datetime, timezone

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
                             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver"],
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


# Queries needing no data: our JSON body must equal Prometheus's byte for byte.
NO_DATA = [
    ("vector(1)", 1000), ("time()", 1000.5), ("time()", -3.25), ('"str"', 12), ("1/0", 5), ("-1/0", 5),
    ("0/0", 5), ("vector(0.1) + 0.2", 7.001), ('label_replace(vector(1), "a", "<&>", "", "")', 100),
    ("vector(1)[5m:1m]", 600), ("vector(time())[2m:30s]", 599.999), ("sum(vector(1)) by (x)", 1),
    ('count_values("v", vector(1e21))', 1), ("vector(-0.0000001)", 1), ("vector(123456789012)", 1),
    ('label_replace(vector(1), "1a", "", "", "")', 1), ("absent(nosuch)", 10), ("scalar(vector(2))", 3),
]


def prom_raw(url: str, path: str, **params) -> bytes:
    try:
        with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=10) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        return e.read()


@pytest.mark.parametrize("query,t", NO_DATA)
def test_query_json_is_byte_identical(prometheus, db, query, t):
    expected = prom_raw(prometheus, "/api/v1/query", query=query, time=repr(t)).decode()
    ours = db.execute("SELECT prom_api.query_json(%s, %s)", (query, t)).fetchone()[0]
    assert ours == expected


@pytest.mark.parametrize("query,start,end,step", [
    ("vector(time())", 0, 300, 60), ("time()", -120, 120, 30), ("vector(1) > 2", 0, 100, 10),
    ("vector(time()) > 50", 0, 100, 10.5), ("label_replace(vector(time()), \"t\", \"x\", \"\", \"\")", 1.5, 4.5, 1),
    ('"str"', 0, 10, 1), ("vector(1)[5m:]", 0, 10, 1), ("vector(1)", 10, 0, 1), ("vector(1)", 0, 10, 0),
    ("vector(1)", 0, 100000, 1),
])
def test_query_range_json_is_byte_identical(prometheus, db, query, start, end, step):
    expected = prom_raw(prometheus, "/api/v1/query_range", query=query, start=repr(start), end=repr(end),
                        step=repr(step)).decode()
    ours = db.execute("SELECT prom_api.query_range_json(%s, %s, %s, %s)", (query, start, end, step)).fetchone()[0]
    assert ours == expected


# Sums whose rounding depends on the order of the additions: Prometheus 2.42 adds each series'
# value to the first in the vector's order (its head's series order: the order they were
# written, here the label order ours uses too), without compensation.
SUMMED = {
    "tenths": [0.1] * 20,                 # 2.0000000000000004 in order, 2 pairwise
    "big_first": [1e16] + [1.0] * 19,     # each 1 is rounded away in order
    "neg_zeros": [-0.0] * 3,              # -0 stays -0
    "mixed": [1e-3 * (i % 7) - 2.5e-3 * (i % 3) + 1e5 * (i == 4) for i in range(30)],
}


@pytest.fixture(scope="module")
def summed(prometheus):
    """SUMMED's series written to Prometheus by remote write, at a whole second of now."""
    from support.remote_write import HEADERS, encode, write_request
    t_ms = int(time.time()) * 1000
    series = [({"__name__": name, "i": f"{i:02d}"}, [(t_ms, v)]) for name, values in SUMMED.items()
              for i, v in enumerate(values)]
    request = urllib.request.Request(f"{prometheus}/api/v1/write", data=encode(write_request(series)),
                                     headers=HEADERS, method="POST")
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 204
    return series, t_ms // 1000


@pytest.mark.parametrize("query", [f"{op}({name})" for op in ("sum", "avg", "stdvar", "stddev") for name in SUMMED]
                         + ["sum by (i) (tenths)", "sum(tenths) + 0"])
def test_sums_are_byte_identical(prometheus, summed, db, query):
    series, t = summed
    for labels, samples in series:
        sid = db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (json.dumps(labels),)).fetchone()[0]
        db.execute("SELECT prom_api.put_samples(%s, %s, %s)",
                   ([sid], [datetime.fromtimestamp(samples[0][0] / 1000, timezone.utc)], [samples[0][1]]))
    expected = prom_raw(prometheus, "/api/v1/query", query=query, time=str(t)).decode()
    assert '"result":[]' not in expected, expected
    assert db.execute("SELECT prom_api.query_json(%s, %s)", (query, t)).fetchone()[0] == expected


# Series whose over-time results depend on how the additions are compensated: Prometheus 2.42
# sums with Kahan-Neumaier steps (sum_over_time, avg_over_time's incremental mean, the Welford
# recurrences of stdvar/stddev_over_time, deriv's and predict_linear's least squares).
OVER_TIME = {
    "cancelling": [1, 1e100, 1, -1e100],
    "tenths_in_time": [0.1] * 30,
    "drifting": [1e8 + 0.1 * i + (0.37 if i % 3 else -0.21) for i in range(40)],
    "jittered": [1.5990505637277868 * (1 + (i % 5) * 1e-9) for i in range(25)],
    "counter": [3.3 * i * i + 0.7 for i in range(40)],
    "with_inf": [1, 2, float("inf"), 4],
}
OVER_TIME_FUNCTIONS = ["sum_over_time", "avg_over_time", "stdvar_over_time", "stddev_over_time", "deriv"]


@pytest.fixture(scope="module")
def over_time(prometheus):
    """OVER_TIME's series, a sample every 10 s ending at a whole second of now, written to
    Prometheus by remote write."""
    from support.remote_write import HEADERS, encode, write_request
    end_ms = int(time.time()) * 1000
    series = [({"__name__": name}, [(end_ms - 10_000 * (len(values) - 1 - i), float(v)) for i, v in enumerate(values)])
              for name, values in OVER_TIME.items()]
    request = urllib.request.Request(f"{prometheus}/api/v1/write", data=encode(write_request(series)),
                                     headers=HEADERS, method="POST")
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 204
    return series, end_ms // 1000


@pytest.mark.parametrize("query", [f"{f}({name}[10m])" for f in OVER_TIME_FUNCTIONS for name in OVER_TIME]
                         + [f"predict_linear({name}[10m], 600)" for name in OVER_TIME])
def test_over_time_results_are_byte_identical(prometheus, over_time, db, query):
    series, t = over_time
    for labels, samples in series:
        sid = db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (json.dumps(labels),)).fetchone()[0]
        db.execute("SELECT prom_api.put_samples(%s, %s, %s)",
                   ([sid] * len(samples), [datetime.fromtimestamp(ms / 1000, timezone.utc) for ms, _ in samples],
                    [v for _, v in samples]))
    expected = prom_raw(prometheus, "/api/v1/query", query=query, time=str(t)).decode()
    assert '"result":[]' not in expected, expected
    assert db.execute("SELECT prom_api.query_json(%s, %s)", (query, t)).fetchone()[0] == expected
