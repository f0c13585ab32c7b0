"""Real clients against the connector under gunicorn: promtool 2.42 (POST with GET
fallback, its time formatting, -o json) and requests replaying Grafana's calls."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from support.processes import connector
from support.remote_write import HEADERS, encode, write_request

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def server(pg_cluster, module_db):
    with connector(pg_cluster.uri(module_db, "promscale_writer")) as url:
        body = encode(write_request([
            ({"__name__": "up", "job": "node", "instance": f"h{i}"}, [(T0 + 15_000 * k, float(i)) for k in range(20)])
            for i in range(3)]))
        assert requests.post(url + "/write", data=body, headers=HEADERS, timeout=30).status_code == 204
        yield url


def promtool(*args: str) -> str:
    done = subprocess.run(["promtool", "query", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_promtool_instant_range_series_labels(server):
    at = str(T0 / 1000 + 60)
    instant = json.loads(promtool("instant", "-o", "json", "--time", at, server, "sum(up)"))
    assert instant == [{"metric": {}, "value": [T0 / 1000 + 60, "3"]}]
    ranged = json.loads(promtool("range", "-o", "json", "--start", str(T0 / 1000), "--end", at, "--step", "30s",
                                 server, 'up{instance="h2"}'))
    assert ranged[0]["values"] == [[T0 / 1000 + s, "2"] for s in (0, 30, 60)]
    series = json.loads(promtool("series", "-o", "json", "--match", 'up{instance=~"h[01]"}', "--start", str(T0 / 1000),
                                 "--end", at, server))
    assert series == [{"__name__": "up", "instance": "h0", "job": "node"},
                      {"__name__": "up", "instance": "h1", "job": "node"}]
    labels = promtool("labels", "-o", "json", "--start", str(T0 / 1000), "--end", at, server, "instance")
    assert json.loads(labels) == ["h0", "h1", "h2"]


@pytest.mark.slow
def test_grafana_data_source_calls(server):
    """Save & test, editor start-up, metrics browser and an exemplar probe, as Grafana sends them."""
    s = requests.Session()
    health = s.post(server + "/api/v1/query", data={"query": "1+1", "time": "4"}, timeout=30)
    assert health.status_code == 200 and health.json()["data"] == {"resultType": "scalar", "result": [4, "2"]}
    assert "features" not in s.get(server + "/api/v1/status/buildinfo", timeout=30).json()["data"]
    start, end = T0 // 1000 - 3600, T0 // 1000 + 3600
    names = s.get(server + f"/api/v1/label/__name__/values?start={start}&end={end}", timeout=30).json()
    assert names == {"status": "success", "data": ["up"]}
    assert s.get(server + "/api/v1/metadata", timeout=30).json() == {"status": "success", "data": {}}
    labels = s.post(server + "/api/v1/labels", data={"match[]": "up", "start": start, "end": end}, timeout=30)
    assert labels.json()["data"] == ["__name__", "instance", "job"]
    series = s.post(server + "/api/v1/series", data={"match[]": "up", "start": start, "end": end, "limit": 40000},
                    timeout=30)
    assert len(series.json()["data"]) == 3
    probe = s.post(server + f"/api/v1/query_exemplars?query=test&start={T0}&end={T0 + 3_600_000}", timeout=30)
    assert probe.json()["status"] == "success"
    ranged = s.post(server + "/api/v1/query_range", timeout=30, data={
        "query": "sum by (job) (up)", "start": str(T0 / 1000), "end": str(T0 / 1000 + 60.5), "step": "15"})
    assert ranged.headers["Content-Type"] == "application/json"
    assert ranged.json()["data"]["result"] == [{"metric": {"job": "node"}, "values": [
        [T0 / 1000 + t, "3"] for t in (0, 15, 30, 45, 60)]}]
    assert s.get(server + "/api/v1/rules", timeout=30).json() == {"status": "success", "data": {"groups": []}}
