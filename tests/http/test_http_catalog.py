"""/api/v1/series, labels, label values, metadata, status endpoints: shapes, bytes and errors
as Prometheus 2.42 answers them (Grafana's request shapes from protocols.md §3.4)."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from pyconnector import Config, create_app

from support.http_api import push

T0 = 1_700_000_000_000  # ms
HOUR = 3_600_000


@pytest.fixture(scope="module", autouse=True)
def data(api):
    # two hours apart so that start/end can tell the series apart
    push(api, [
        ({"__name__": "up", "job": "node", "instance": "a:9100"}, [(T0, 1), (T0 + 15_000, 1)]),
        ({"__name__": "up", "job": "node", "instance": "b:9100"}, [(T0, 0)]),
        ({"__name__": "up", "job": "api", "instance": "c:80"}, [(T0 + 2 * HOUR, 1)]),
        ({"__name__": "http_requests_total", "job": "api", "code": "200", "path": "/a<b>&c"}, [(T0 + 2 * HOUR, 5)]),
    ], metadata=[("up", 2, "1 if the target is up", ""), ("http_requests_total", 1, "Requests.", "")])


def get(api, path, **kwargs):
    response = api.get(path, **kwargs)
    return response.status_code, response.get_data(as_text=True)


def test_series_returns_sorted_label_sets_byte_exact(api):
    status, body = get(api, "/api/v1/series", query_string={"match[]": "up"})
    assert status == 200
    assert body == ('{"status":"success","data":['
                    '{"__name__":"up","instance":"a:9100","job":"node"},'
                    '{"__name__":"up","instance":"b:9100","job":"node"},'
                    '{"__name__":"up","instance":"c:80","job":"api"}]}')


def test_series_honours_start_end(api):
    t = (T0 + HOUR) / 1000
    _, body = get(api, "/api/v1/series", query_string={"match[]": "up", "start": str(t), "end": str(t + 7200)})
    assert [s["instance"] for s in json.loads(body)["data"]] == ["c:80"]
    _, body = get(api, "/api/v1/series", query_string={"match[]": "up", "start": "0", "end": str(t)})
    assert [s["instance"] for s in json.loads(body)["data"]] == ["a:9100", "b:9100"]


def test_series_union_of_several_match_and_go_escaping(api):
    _, body = get(api, "/api/v1/series?match[]=up{job=\"api\"}&match[]=http_requests_total")
    assert body == ('{"status":"success","data":['
                    '{"__name__":"http_requests_total","code":"200","job":"api","path":"/a\\u003cb\\u003e\\u0026c"},'
                    '{"__name__":"up","instance":"c:80","job":"api"}]}')


def test_series_post_form_and_grafana_limit(api):
    response = api.post("/api/v1/series", data={"match[]": ["{job=~\"no.*\"}"], "start": "1699990000",
                                               "end": "1700010000", "limit": "40000"})
    assert response.status_code == 200
    assert len(response.get_json()["data"]) == 2


def test_series_limit_truncates_with_warning(api):
    body = api.get("/api/v1/series", query_string={"match[]": "up", "limit": "1"}).get_json()
    assert body == {"status": "success", "data": [{"__name__": "up", "instance": "a:9100", "job": "node"}],
                    "warnings": ["results truncated due to limit"]}


def test_series_negative_matchers_and_regex(api):
    _, body = get(api, "/api/v1/series", query_string={"match[]": '{__name__=~"u.", instance!~"a.*", job!="api"}'})
    assert [s["instance"] for s in json.loads(body)["data"]] == ["b:9100"]


@pytest.mark.parametrize("query, message", [
    ({}, "no match[] parameter provided"),
    ({"match[]": '{a=""}'}, 'invalid parameter "match[]": match[] must contain at least one non-empty matcher'),
    ({"match[]": "up", "start": "abc"},
     'invalid parameter "start": Invalid time value for \'start\': cannot parse "abc" to a valid timestamp'),
    ({"match[]": "up", "limit": "x"}, 'invalid parameter "limit": cannot parse "x" to a valid number'),
])
def test_series_errors(api, query, message):
    status, body = get(api, "/api/v1/series", query_string=query)
    assert status == 400
    assert json.loads(body) == {"status": "error", "errorType": "bad_data", "error": message}


def test_series_parse_error_is_bad_data(api):
    status, body = get(api, "/api/v1/series", query_string={"match[]": "up{"})
    assert status == 400
    error = json.loads(body)
    assert error["errorType"] == "bad_data" and error["error"].startswith('invalid parameter "match[]": 1:')


def test_labels_all_and_matched(api):
    _, body = get(api, "/api/v1/labels")
    assert body == '{"status":"success","data":["__name__","code","instance","job","path"]}'
    _, body = get(api, "/api/v1/labels", query_string={"match[]": "up"})
    assert json.loads(body)["data"] == ["__name__", "instance", "job"]


def test_labels_grafana_editor_start_shape(api):
    # integer seconds snapped to the cache window, start/end covering only the first hour
    _, body = get(api, f"/api/v1/labels?start={T0 // 1000 - 600}&end={T0 // 1000 + 600}")
    assert json.loads(body)["data"] == ["__name__", "instance", "job"]


def test_label_values(api):
    _, body = get(api, "/api/v1/label/__name__/values")
    assert body == '{"status":"success","data":["http_requests_total","up"]}'
    _, body = get(api, "/api/v1/label/instance/values", query_string={"match[]": 'up{job="node"}'})
    assert json.loads(body)["data"] == ["a:9100", "b:9100"]
    _, body = get(api, "/api/v1/label/nope/values")
    assert body == '{"status":"success","data":[]}'


def test_label_values_honours_range_and_limit(api):
    t = (T0 + HOUR) / 1000
    body = api.get(f"/api/v1/label/job/values?start={t}").get_json()
    assert body["data"] == ["api"]
    body = api.get("/api/v1/label/instance/values?limit=2").get_json()
    assert body == {"status": "success", "data": ["a:9100", "b:9100"], "warnings": ["results truncated due to limit"]}


def test_label_values_errors(api):
    status, body = get(api, "/api/v1/label/1a/values")
    assert (status, json.loads(body)) == (400, {"status": "error", "errorType": "bad_data",
                                                "error": 'invalid label name: "1a"'})
    status, body = get(api, "/api/v1/label/job/values", query_string={"match[]": "{}"})
    assert status == 400 and json.loads(body)["error"].endswith("parse error: unexpected end of input") or \
        json.loads(body)["error"] == "match[] must contain at least one non-empty matcher"
    assert api.post("/api/v1/label/job/values").status_code == 405


def test_metadata(api):
    _, body = get(api, "/api/v1/metadata")
    assert body == ('{"status":"success","data":{"http_requests_total":[{"type":"counter","help":"Requests.",'
                    '"unit":""}],"up":[{"type":"gauge","help":"1 if the target is up","unit":""}]}}')
    assert api.get("/api/v1/metadata?metric=up").get_json()["data"] == {
        "up": [{"type": "gauge", "help": "1 if the target is up", "unit": ""}]}
    assert api.get("/api/v1/metadata?limit=1").get_json()["data"] == {
        "http_requests_total": [{"type": "counter", "help": "Requests.", "unit": ""}]}
    assert api.get("/api/v1/metadata?limit=0").get_json()["data"] == {}
    assert api.get("/api/v1/metadata?metric=nope").get_data(as_text=True) == '{"status":"success","data":{}}'
    status, body = get(api, "/api/v1/metadata?limit=x")
    assert (status, json.loads(body)["error"]) == (400, "limit must be a number")


def test_buildinfo_has_no_features_so_grafana_sees_prometheus(api):
    body = api.get("/api/v1/status/buildinfo").get_json()
    assert body["status"] == "success"
    assert set(body["data"]) == {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}
    assert body["data"]["version"] == "2.42.0"
    assert api.get("/api/v1/status/flags").status_code == 404  # else Grafana alerting says "Thanos"


def test_rules_alerts_runtimeinfo(api):
    assert api.get("/api/v1/rules").get_data(as_text=True) == '{"status":"success","data":{"groups":[]}}'
    assert api.get("/api/v1/alerts").get_data(as_text=True) == '{"status":"success","data":{"alerts":[]}}'
    assert api.get("/api/v1/status/runtimeinfo").get_json()["data"]["reloadConfigSuccess"] is True


def test_no_cors_unless_configured(api):
    """Off by default: any web page could otherwise read the metrics through a user's browser."""
    response = api.get("/api/v1/labels", headers={"Origin": "http://evil.example"})
    assert response.status_code == 200
    assert not [h for h in response.headers.keys() if h.startswith("Access-Control")]
    assert api.open("/api/v1/query", method="OPTIONS").status_code == 204


@pytest.mark.parametrize("origins, origin, allowed", [
    ("http://grafana,https://g.example", "http://grafana", "http://grafana"),
    ("http://grafana,https://g.example", "https://g.example", "https://g.example"),
    ("http://grafana", "http://evil.example", None),
    ("*", "http://anyone", "*"),
])
def test_cors_for_the_configured_origins(pg_cluster, module_db, tmp_path, origins, origin, allowed):
    client = Client(create_app(Config(db_uri=pg_cluster.uri(module_db, "promscale_writer"), cors_origins=origins,
                                      telemetry_dir=str(tmp_path / "telemetry"))))
    for response in (client.get("/api/v1/labels", headers={"Origin": origin}),
                     client.get("/api/v1/query", headers={"Origin": origin}),  # an error answer (no query) too
                     client.open("/api/v1/query", method="OPTIONS", headers={"Origin": origin})):
        assert response.headers.get("Access-Control-Allow-Origin") == allowed
        if allowed:
            assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
        if allowed and allowed != "*":
            assert "Origin" in response.headers["Vary"]


def test_gzip_when_accepted(api):
    import gzip

    small = api.get("/api/v1/series", query_string={"match[]": "up"}, headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in small.headers  # under 1 KiB: not worth it
    plain = api.get("/api/v1/query_range", query_string={"query": "vector(1)", "start": "0", "end": "10000",
                                                         "step": "1"})
    assert "Content-Encoding" not in plain.headers
    big = api.get("/api/v1/query_range", query_string={"query": "vector(1)", "start": "0", "end": "10000", "step": "1"},
                  headers={"Accept-Encoding": "gzip"})
    assert big.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(big.get_data()) == plain.get_data()
