"""remote_read on /read and /api/v1/read: SAMPLES and STREAMED_XOR_CHUNKS through the
connector against a real database, and end to end with a real Prometheus 2.42."""

from __future__ import annotations

import struct
import time

import pytest
import requests
import snappy
from werkzeug.test import Client

from pyconnector import Config, create_app
from support.http_api import push
from pyconnector.prometheus.proto import prometheus_remote_pb2 as pb
from pyconnector.prometheus.remote_read import crc32c
from support.processes import connector, prometheus
from support.remote_write import HEADERS as WRITE_HEADERS, STALE_NAN, bits, encode, write_request
from support.xor_decode import decode

T0 = 1_700_000_000_000
READ_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                "Accept-Encoding": "snappy", "X-Prometheus-Remote-Read-Version": "0.1.0"}
EQ, NEQ, RE, NRE = pb.LabelMatcher.EQ, pb.LabelMatcher.NEQ, pb.LabelMatcher.RE, pb.LabelMatcher.NRE


@pytest.fixture(scope="module", autouse=True)
def data(api):
    push(api, [
        ({"__name__": "node_load1", "instance": "a", "job": "node"},
         [(T0 + 15_000 * i, i * 0.5) for i in range(300)] + [(T0 + 15_000 * 300, STALE_NAN)]),
        ({"__name__": "node_load1", "instance": "b", "job": "node"}, [(T0, 7.0)]),
        ({"__name__": "up", "instance": "a", "job": "node"}, [(T0, 1.0)]),
    ])


def read_request(queries, accepted=()):
    req = pb.ReadRequest()
    for start, end, matchers in queries:
        q = req.queries.add(start_timestamp_ms=start, end_timestamp_ms=end)
        for kind, name, value in matchers:
            q.matchers.add(type=kind, name=name, value=value)
    req.accepted_response_types.extend(accepted)
    return snappy.compress(req.SerializeToString())


def samples(api, queries, path="/api/v1/read"):
    response = api.post(path, data=read_request(queries), headers=READ_HEADERS)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/x-protobuf"
    assert response.headers["Content-Encoding"] == "snappy"
    return pb.ReadResponse.FromString(snappy.uncompress(response.get_data()))


def labels_of(ts):
    return {label.name: label.value for label in ts.labels}


@pytest.mark.parametrize("path", ["/read", "/api/v1/read"])
def test_samples_response_one_result_per_query(api, path):
    result = samples(api, [
        (T0, T0 + 30_000, [(EQ, "__name__", "node_load1")]),
        (T0, T0, [(EQ, "__name__", "up")]),
        (T0, T0, [(EQ, "__name__", "absent")]),
    ], path)
    assert len(result.results) == 3
    first = result.results[0].timeseries
    assert [labels_of(ts) for ts in first] == [
        {"__name__": "node_load1", "instance": "a", "job": "node"},
        {"__name__": "node_load1", "instance": "b", "job": "node"}]
    assert [(s.timestamp, s.value) for s in first[0].samples] == [(T0, 0.0), (T0 + 15_000, 0.5), (T0 + 30_000, 1.0)]
    assert [[label.name for label in ts.labels] for ts in first][0] == ["__name__", "instance", "job"]
    assert len(result.results[1].timeseries) == 1
    assert len(result.results[2].timeseries) == 0


def test_all_matcher_types_and_stale_marker_bits(api):
    result = samples(api, [(T0, T0 + 10**9, [(RE, "__name__", "node_.*"), (NEQ, "instance", "b"),
                                              (NRE, "job", "api|web")])])
    (ts,) = result.results[0].timeseries
    assert labels_of(ts)["instance"] == "a"
    assert len(ts.samples) == 301
    assert bits(ts.samples[-1].value) == 0x7FF0000000000002


def test_streamed_xor_chunks(api):
    response = api.post("/api/v1/read", headers=READ_HEADERS, data=read_request(
        [(T0, T0 + 10**9, [(EQ, "__name__", "node_load1")]), (T0, T0, [(EQ, "__name__", "up")])],
        accepted=[pb.ReadRequest.STREAMED_XOR_CHUNKS, pb.ReadRequest.SAMPLES]))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == \
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    assert "Content-Encoding" not in response.headers
    body, pos, frames = response.get_data(), 0, []
    while pos < len(body):
        length = shift = 0
        while True:
            byte = body[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        checksum = struct.unpack(">I", body[pos:pos + 4])[0]
        message = body[pos + 4:pos + 4 + length]
        pos += 4 + length
        assert crc32c(message) == checksum
        frames.append(pb.ChunkedReadResponse.FromString(message))
    assert [(f.query_index, labels_of(f.chunked_series[0])["instance"]) for f in frames] == [
        (0, "a"), (0, "b"), (1, "a")]
    chunks = frames[0].chunked_series[0].chunks
    assert [len(decode(c.data)) for c in chunks] == [120, 120, 61]
    assert all(c.type == pb.Chunk.XOR for c in chunks)
    decoded = [p for c in chunks for p in decode(c.data)]
    assert decoded[:3] == [(T0, bits(0.0)), (T0 + 15_000, bits(0.5)), (T0 + 30_000, bits(1.0))]
    assert decoded[-1] == (T0 + 15_000 * 300, 0x7FF0000000000002)
    assert (chunks[0].min_time_ms, chunks[0].max_time_ms) == (T0, T0 + 15_000 * 119)


@pytest.mark.parametrize("body, message", [
    (b"not snappy", "snappy"),
    (snappy.compress(b"\xff\xff\xff"), "malformed protobuf ReadRequest"),
])
def test_bad_requests_are_400(api, body, message):
    response = api.post("/read", data=body, headers=READ_HEADERS)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("headers, status, message", [
    ({"Content-Type": "application/json"}, 415, "remote_read needs application/x-protobuf"),
    ({"Content-Type": "application/x-protobuf;proto=prometheus.WriteRequest"}, 415,
     "unsupported remote_read message 'prometheus.WriteRequest'"),
    ({"Content-Encoding": "gzip"}, 415, "remote_read bodies are snappy"),
    ({"Content-Type": "application/x-protobuf;proto=prometheus.ReadRequest"}, 200, ""),
])
def test_the_body_must_be_a_snappy_read_request(api, headers, status, message):
    """The checks remote_write makes of its body, naming remote_read's message."""
    response = api.post("/read", data=read_request([(T0, T0 + 1, [(EQ, "__name__", "up")])]),
                        headers={**READ_HEADERS, **headers})
    assert response.status_code == status, response.get_data(as_text=True)
    if status != 200:
        assert message in response.get_data(as_text=True)
    else:
        result = pb.ReadResponse.FromString(snappy.uncompress(response.get_data()))
        assert [labels_of(ts)["__name__"] for ts in result.results[0].timeseries] == ["up"]


def test_oversized_body_is_413(pg_cluster, module_db, tmp_path):
    app = create_app(Config(db_uri=pg_cluster.uri(module_db, "promscale_writer"), max_body_bytes=64,
                            telemetry_dir=str(tmp_path / "telemetry")))
    response = Client(app).post("/read", data=b"x" * 65, headers=READ_HEADERS)
    assert response.status_code == 413
    assert "over the limit of 64" in response.get_data(as_text=True)


def test_a_read_past_the_query_timeout_is_503(pg_cluster, module_db, tmp_path):
    """A timeout is temporary: 503, where it answered 400 (which says the read will never work)."""
    app = create_app(Config(db_uri=pg_cluster.uri(module_db, "promscale_writer"), query_timeout=1_000_000,
                            telemetry_dir=str(tmp_path / "telemetry")))
    client = Client(app)
    response = client.post("/api/v1/read", data=read_request([(T0, T0 + 10**7, [(RE, "__name__", ".+")])] * 3),
                           headers=READ_HEADERS)
    assert response.status_code == 503
    assert response.get_data(as_text=True) == "remote read timed out after 1 ms (--query-timeout)\n"
    assert 'promscale_errors_total{kind="timeout"} 1' in client.get("/metrics").text


def test_unsupported_response_type_is_400(api):
    response = api.post("/read", data=read_request([(0, 1, [(EQ, "__name__", "up")])], accepted=[7]),
                        headers=READ_HEADERS)
    assert response.status_code == 400


@pytest.mark.slow
def test_prometheus_remote_read_end_to_end(pg_cluster, db_name):
    """Prometheus 2.42 with remote_read to our connector answers its own queries with our data."""
    now_ms = int(time.time() * 1000) // 1000 * 1000
    start = now_ms - 3_600_000
    series = [({"__name__": "e2e_metric", "job": "remote", "instance": f"i{i}"},
               [(start + 15_000 * k, float(k * (i + 1))) for k in range(241)]) for i in range(3)]
    with connector(pg_cluster.uri(db_name, "promscale_writer")) as url:
        r = requests.post(url + "/write", data=encode(write_request(series)), headers=WRITE_HEADERS, timeout=30)
        assert r.status_code == 204, r.text
        config = (f"global:\n  scrape_interval: 1h\nremote_read:\n  - url: {url}/api/v1/read\n"
                  f"    read_recent: true\n")
        with prometheus(config) as prom:
            end_s, start_s = now_ms / 1000, start / 1000
            r = requests.get(prom + "/api/v1/query_range", params={
                "query": "e2e_metric", "start": start_s, "end": end_s, "step": "15"}, timeout=60)
            assert r.status_code == 200, r.text
            result = sorted(r.json()["data"]["result"], key=lambda s: s["metric"]["instance"])
            assert [s["metric"] for s in result] == [
                {"__name__": "e2e_metric", "instance": f"i{i}", "job": "remote"} for i in range(3)]
            for i, s in enumerate(result):
                assert s["values"] == [[(start + 15_000 * k) / 1000, str(k * (i + 1))] for k in range(241)]
            r = requests.get(prom + "/api/v1/query", params={
                "query": 'sum(e2e_metric{instance=~"i[01]"})', "time": end_s}, timeout=60)
            assert r.json()["data"]["result"][0]["value"][1] == str(240 * 1 + 240 * 2)
