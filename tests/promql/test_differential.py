"""The engine against a real Prometheus 2.42 on the same data: instant and range queries through
prom_api.query_json / query_range_json compared with Prometheus's /api/v1/query(_range).

Data: counters with resets and gaps, gauges with a staleness marker, classic histograms; pushed
to Prometheus by remote_write and into the database through put_samples. Values must agree
within 1e-5 relative, timestamps and label sets exactly.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import pytest
import requests

from support.processes import prometheus
from support.remote_write import HEADERS, STALE_NAN, encode, write_request

QUERIES = sorted({l.strip() for l in (Path(__file__).parent / "differential_queries.txt").read_text().splitlines()
                  if l.strip() and not l.startswith("#")})
STEP_MS = 15_000
POINTS = 720  # 3 hours


def make_series(t0: int) -> list:
    rnd = random.Random(1)
    series = []
    for job in ["api", "web"]:
        for inst in ["0", "1", "2"]:
            v, pts = 0.0, []
            for k in range(POINTS):
                if rnd.random() < 0.02:
                    continue
                v += rnd.randint(0, 10)
                if rnd.random() < 0.005:
                    v = float(rnd.randint(0, 5))
                pts.append((t0 + k * STEP_MS + (k % 3) * 7, v))
            series.append(({"__name__": "req_total", "job": job, "instance": inst}, pts))
            g = [(t0 + k * STEP_MS, math.sin(k / 20) * 10 + int(inst)) for k in range(POINTS)]
            if inst == "2":
                g = g[:300] + [(t0 + 300 * STEP_MS, STALE_NAN)] + g[400:]
            series.append(({"__name__": "temp", "job": job, "instance": inst}, g))
            counts = {le: 0.0 for le in ["0.1", "0.5", "1", "5", "+Inf"]}
            hist = {le: [] for le in counts}
            for k in range(POINTS):
                x = rnd.expovariate(1.0)
                for le in counts:
                    if le == "+Inf" or x <= float(le):
                        counts[le] += 1
                    hist[le].append((t0 + k * STEP_MS, counts[le]))
            for le in counts:
                series.append(({"__name__": "lat_bucket", "job": job, "instance": inst, "le": le}, hist[le]))
    return series


@pytest.fixture(scope="module")
def setup(pg_cluster, promscale_template):
    import psycopg

    t0 = (int(time.time()) - 3 * 3600) // 60 * 60 * 1000
    series = make_series(t0)
    name = "promql_differential"
    with psycopg.connect(pg_cluster.uri("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{promscale_template}"')
    db = psycopg.connect(pg_cluster.uri(name), autocommit=True)
    for labels, pts in series:
        sid = db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (json.dumps(labels),)).fetchone()[0]
        db.execute("SELECT prom_api.put_samples(%b::bigint[], ARRAY(SELECT to_timestamp(x) FROM unnest(%b::float8[]) x), "
                   "%b::float8[])", ([sid] * len(pts), [t / 1000 for t, _ in pts], [v for _, v in pts]))
    with prometheus("global:\n  scrape_interval: 1h\n", "--web.enable-remote-write-receiver") as url:
        r = requests.post(url + "/api/v1/write", data=encode(write_request(series)), headers=HEADERS, timeout=60)
        assert r.status_code == 204, r.text
        yield db, url, t0
    db.close()


def _close(a: str, b: str) -> bool:
    if a == b:
        return True
    fa, fb = float(a), float(b)
    if math.isnan(fa) and math.isnan(fb):
        return True
    return abs(fa - fb) <= 1e-5 * max(abs(fa), abs(fb))


def _same(ours: str, theirs: str, instant: bool) -> str | None:
    a, b = json.loads(ours), json.loads(theirs)
    if a["status"] != b["status"]:
        return "status differs"
    if a["status"] == "error":
        return None if (a["errorType"], a["error"]) == (b["errorType"], b["error"]) else "error differs"
    if a["data"]["resultType"] != b["data"]["resultType"]:
        return "result type differs"
    ra, rb = a["data"]["result"], b["data"]["result"]
    if a["data"]["resultType"] == "scalar":
        return None if ra[0] == rb[0] and _close(ra[1], rb[1]) else "scalar differs"
    key = "value" if a["data"]["resultType"] == "vector" else "values"
    sa = {json.dumps(s["metric"], sort_keys=True): s[key] for s in ra}
    sb = {json.dumps(s["metric"], sort_keys=True): s[key] for s in rb}
    if set(sa) != set(sb):
        return f"series differ: ours only {set(sa) - set(sb)}, theirs only {set(sb) - set(sa)}"
    for k in sa:
        x, y = ([sa[k]], [sb[k]]) if key == "value" else (sa[k], sb[k])
        if len(x) != len(y) or any(p[0] != q[0] or not _close(p[1], q[1]) for p, q in zip(x, y)):
            return f"points of {k} differ"
    return None


@pytest.mark.parametrize("query", QUERIES)
def test_same_results_as_prometheus(setup, query):
    db, url, t0 = setup
    start, end = t0 / 1000 + 600, t0 / 1000 + 3 * 3600 - 100
    problems = []
    for step in (60, 137):
        ours = db.execute("SELECT prom_api.query_range_json(%s, %s, %s, %s)", (query, start, end, step)).fetchone()[0]
        theirs = requests.get(url + "/api/v1/query_range",
                              params={"query": query, "start": start, "end": end, "step": step}, timeout=60).text
        diff = _same(ours, theirs, False)
        if diff:
            problems.append(f"range step {step}: {diff}")
    t = end - 1234.567
    ours = db.execute("SELECT prom_api.query_json(%s, %s)", (query, t)).fetchone()[0]
    theirs = requests.get(url + "/api/v1/query", params={"query": query, "time": t}, timeout=60).text
    diff = _same(ours, theirs, True)
    if diff:
        problems.append(f"instant: {diff}")
    assert not problems, problems
