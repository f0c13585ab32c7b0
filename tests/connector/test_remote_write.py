"""remote_write through the connector's WSGI app into a real database."""

from __future__ import annotations

import math
import struct

import pytest
import snappy
from werkzeug.test import Client

import build_extension
from pyconnector import Config, create_app
from pyconnector.prometheus.proto import prometheus_remote_pb2 as pb
from support.remote_write import HEADERS, STALE_NAN, bits, encode, write_request

NOW = 1_700_000_000_000


@pytest.fixture
def connector(pg_cluster, db_name, tmp_path):
    app = create_app(Config(db_uri=pg_cluster.uri(db_name, "promscale_writer"), telemetry_dir=str(tmp_path),
                            max_body_bytes=1 << 20, max_decoded_bytes=4 << 20))
    return app


@pytest.fixture
def client(connector):
    return Client(connector)


def post(client, body, headers=None, path="/write"):
    return client.post(path, data=body, headers=HEADERS if headers is None else headers)


def stored(db, metric):
    """(labels, time_ms, value bits) rows of a metric, through its view (deduplicating)."""
    return db.execute(
        f"SELECT labels, (extract(epoch FROM time) * 1000)::bigint, value FROM prom_metric.{metric} ORDER BY labels::text, time"
    ).fetchall()


def sample_count(db):
    return db.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0]


def test_samples_are_committed_before_204(client, db):
    req = write_request([
        ({"__name__": "node_load1", "instance": "a:9100", "job": "node"}, [(NOW, 0.5), (NOW + 15000, 0.75)]),
        ({"__name__": "node_load1", "instance": "b:9100", "job": "node"}, [(NOW, 1.25)]),
    ])
    response = post(client, encode(req))
    assert response.status_code == 204
    assert response.data == b""
    rows = stored(db, "node_load1")
    assert [(r[0]["instance"], r[1], r[2]) for r in rows] == [
        ("a:9100", NOW, 0.5), ("a:9100", NOW + 15000, 0.75), ("b:9100", NOW, 1.25)]
    assert rows[0][0] == {"__name__": "node_load1", "instance": "a:9100", "job": "node"}


@pytest.mark.parametrize("path", ["/write", "/api/v1/write"])
def test_both_paths_accept_writes(client, db, path):
    assert post(client, encode(write_request([({"__name__": "up"}, [(NOW, 1)])])), path=path).status_code == 204
    assert len(stored(db, "up")) == 1


def test_stale_markers_and_special_values_are_stored_bit_exact(client, db):
    normal_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
    values = [STALE_NAN, normal_nan, math.inf, -math.inf, 5e-324, -1.7976931348623157e308, 0.1]
    req = write_request([({"__name__": "m"}, [(NOW + i, v) for i, v in enumerate(values)])])
    assert post(client, encode(req)).status_code == 204
    got = db.execute("SELECT float8send(value) FROM prom_data.sample ORDER BY time").fetchall()
    assert [int.from_bytes(r[0], "big") for r in got] == [bits(v) for v in values]


def test_retried_batch_never_shows_duplicates(client, db):
    body = encode(write_request([({"__name__": "retry_me", "job": "x"}, [(NOW, 1), (NOW + 1000, 2)])]))
    for _ in range(3):
        assert post(client, body).status_code == 204
    assert [(r[1], r[2]) for r in stored(db, "retry_me")] == [(NOW, 1), (NOW + 1000, 2)]
    series = db.execute("SELECT series_id, times, vals FROM prom_api.get_samples("
                        "(SELECT array_agg(id) FROM _prom_catalog.series), '-infinity', 'infinity')").fetchall()
    assert len(series) == 1 and len(series[0][1]) == 2


def test_one_timeseries_per_sample_as_prometheus_sends(client, db):
    # Prometheus 2.42 puts every sample in its own TimeSeries, repeating the label set
    labels = {"__name__": "repeated", "job": "node"}
    req = write_request([(labels, [(NOW + i * 1000, float(i))]) for i in range(50)])
    assert post(client, encode(req)).status_code == 204
    assert db.execute("SELECT count(*) FROM _prom_catalog.series").fetchone()[0] == 1
    assert [r[2] for r in stored(db, "repeated")] == [float(i) for i in range(50)]


def test_metadata_and_exemplars(client, db):
    req = write_request(
        metadata=[("http_requests", pb.MetricMetadata.COUNTER, "Requests served.", ""),
                  ("temp", pb.MetricMetadata.GAUGE, "Temperature.", "celsius")],
        exemplars=[({"__name__": "http_requests_total", "job": "api"}, {"trace_id": "abc123"}, 1.0, NOW)],
    )
    assert post(client, encode(req)).status_code == 204
    meta = db.execute("SELECT metric_family, type, unit, help FROM _prom_catalog.metadata ORDER BY 1").fetchall()
    assert meta == [("http_requests", "counter", "", "Requests served."), ("temp", "gauge", "celsius", "Temperature.")]
    ex = db.execute("SELECT prom_api.labels(series_id), (extract(epoch FROM time)*1000)::bigint, value, labels "
                    "FROM prom_data.exemplar").fetchall()
    assert ex == [({"__name__": "http_requests_total", "job": "api"}, NOW, 1.0, {"trace_id": "abc123"})]
    # metadata again only bumps last_seen
    assert post(client, encode(req)).status_code == 204
    assert db.execute("SELECT count(*) FROM _prom_catalog.metadata").fetchone()[0] == 2


def test_empty_label_values_mean_absent_labels(client, db):
    req = write_request([({"__name__": "m", "job": "x", "empty": ""}, [(NOW, 1)])])
    assert post(client, encode(req)).status_code == 204
    assert stored(db, "m")[0][0] == {"__name__": "m", "job": "x"}


def test_native_histograms_are_dropped_and_counted_while_floats_are_kept(client, connector, db):
    req = write_request([({"__name__": "floats"}, [(NOW, 1)])])
    ts = req.timeseries.add()
    ts.labels.add(name="__name__", value="native")
    ts.histograms.add(count_int=3, sum=1.5, schema=0, timestamp=NOW)
    assert post(client, encode(req)).status_code == 204
    assert len(stored(db, "floats")) == 1
    assert 'promscale_ingest_histograms_dropped_total 1' in client.get("/metrics").text


# --- errors: status, message, and nothing written ---

def assert_rejected(client, db, response, status, words):
    assert response.status_code == status, response.text
    assert all(w in response.text for w in words), response.text
    assert sample_count(db) == 0
    assert db.execute("SELECT count(*) FROM _prom_catalog.series").fetchone()[0] == 0


def test_bad_snappy_is_400(client, db):
    assert_rejected(client, db, post(client, b"\x10not snappy at all"), 400, ["snappy"])


def test_framed_snappy_is_400(client, db):
    framed = snappy.StreamCompressor().compress(write_request([({"__name__": "m"}, [(NOW, 1)])]).SerializeToString())
    assert_rejected(client, db, post(client, framed), 400, ["snappy"])


def test_bad_protobuf_is_400(client, db):
    assert_rejected(client, db, post(client, snappy.compress(b"\x0a\xff\xff\xff\x0fgarbage")), 400, ["protobuf"])


def test_invalid_utf8_is_400(client, db):
    req = write_request([({"__name__": "m", "job": "PLACEHOLDER"}, [(NOW, 1)])])
    raw = req.SerializeToString().replace(b"PLACEHOLDER", b"\xff\xfeACEHOLDER")
    assert_rejected(client, db, post(client, snappy.compress(raw)), 400, ["UTF-8"])


def test_missing_metric_name_is_400(client, db):
    good = ({"__name__": "fine"}, [(NOW, 1)])
    bad = ({"job": "x"}, [(NOW, 1)])
    assert_rejected(client, db, post(client, encode(write_request([good, bad]))), 400, ["__name__"])


@pytest.mark.parametrize("labels, words", [
    ({"__name__": "m", "bad-name": "x"}, ["invalid label name", "bad-name"]),
    ({"__name__": "m", "0digit": "x"}, ["invalid label name", "0digit"]),
    ({"__name__": "bad-metric"}, ["invalid metric name", "bad-metric"]),
])
def test_invalid_names_are_400(client, db, labels, words):
    assert_rejected(client, db, post(client, encode(write_request([(labels, [(NOW, 1)])]))), 400, words)


def test_duplicate_label_names_are_400(client, db):
    req = pb.WriteRequest()
    ts = req.timeseries.add()
    for name, value in [("__name__", "m"), ("job", "a"), ("job", "b")]:
        ts.labels.add(name=name, value=value)
    ts.samples.add(timestamp=NOW, value=1)
    assert_rejected(client, db, post(client, encode(req)), 400, ["duplicate label name", "job"])


def test_out_of_range_timestamp_is_400(client, db):
    req = write_request([({"__name__": "m"}, [(NOW, 1), (2**62, 2)])])
    assert_rejected(client, db, post(client, encode(req)), 400, ["timestamp"])


def test_body_over_limit_is_413(client, db):
    assert_rejected(client, db, post(client, b"\x00" * ((1 << 20) + 1)), 413, ["limit"])


def test_decoded_size_over_limit_is_413(client, db):
    big = write_request([({"__name__": "m", "pad": "x" * 1000}, [(NOW + i, 1)]) for i in range(5000)])
    body = encode(big)
    assert len(body) < 1 << 20
    assert_rejected(client, db, post(client, body), 413, ["decompressed"])


@pytest.mark.parametrize("content_type", ["application/json", "text/plain",
                                          "application/x-protobuf;proto=io.prometheus.write.v2.Request"])
def test_wrong_content_type_is_415(client, db, content_type):
    headers = {**HEADERS, "Content-Type": content_type}
    body = encode(write_request([({"__name__": "m"}, [(NOW, 1)])]))
    assert_rejected(client, db, post(client, body, headers), 415, ["Content-Type" if "v2" not in content_type else "v2"])


def test_a_write_without_content_type_is_415(client, db):
    """A web page may POST a body without a content type to any site, with no CORS preflight."""
    headers = {k: v for k, v in HEADERS.items() if k != "Content-Type"}
    body = encode(write_request([({"__name__": "m"}, [(NOW, 1)])]))
    assert_rejected(client, db, post(client, body, headers), 415, ["unsupported Content-Type none"])


def test_wrong_content_encoding_is_415(client, db):
    headers = {**HEADERS, "Content-Encoding": "gzip"}
    assert_rejected(client, db, post(client, b"x", headers), 415, ["Content-Encoding"])


def test_get_on_write_is_405(client):
    response = client.get("/write")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_healthz_reports_extension_version(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["extension_version"] == build_extension.control_version()


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    from support.postgres import free_port

    app = create_app(Config(db_uri=f"postgresql://nobody@127.0.0.1:{free_port()}/none", telemetry_dir=str(tmp_path),
                            db_connect_timeout=2))
    response = Client(app).get("/healthz")
    assert response.status_code == 503
    assert "database unavailable" in response.text


def test_metrics_count_samples_series_and_errors(client):
    post(client, encode(write_request([({"__name__": "m", "i": str(i)}, [(NOW, 1)]) for i in range(3)])))
    post(client, encode(write_request([({"__name__": "m", "i": str(i)}, [(NOW + 1, 1)]) for i in range(3)])))
    post(client, b"garbage")
    text = client.get("/metrics").text
    assert "promscale_ingest_samples_total 6" in text
    assert "promscale_ingest_series_total 6" in text
    assert "promscale_series_cache_misses_total 3" in text
    assert "promscale_series_cache_hits_total 3" in text
    assert 'promscale_errors_total{kind="bad_request"} 1' in text
    assert 'promscale_http_request_duration_seconds_count{handler="write"} 3' in text


def test_backfill_spanning_many_partitions_is_stored(client, db):
    # 90 one-hour-apart samples, 90 partitions: the connector creates them ahead, 50 per transaction
    hour = 3_600_000
    req = write_request([({"__name__": "backfilled"}, [(NOW - h * hour, float(h)) for h in range(90)])])
    assert post(client, encode(req)).status_code == 204
    assert db.execute("SELECT count(*) FROM _prom_catalog.sample_chunk").fetchone()[0] >= 90
    assert sorted(r[2] for r in stored(db, "backfilled")) == [float(h) for h in range(90)]


def test_a_write_needing_too_many_partitions_is_400_and_creates_none(client, db):
    # 2,000 samples an hour apart (20 KB) once made 2,000 partitions in 19 s
    hour = 3_600_000
    req = write_request([({"__name__": "too_sparse"}, [(NOW - h * hour, float(h)) for h in range(2000)])])
    response = post(client, encode(req))
    assert response.status_code == 400
    assert "samples span 2000 time ranges without a head partition" in response.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM _prom_catalog.sample_chunk").fetchone()[0] == 0
    assert stored(db, "too_sparse") == []


def test_every_route_has_its_own_duration_label(client):
    """Prometheus API and remote_read requests were all counted under handler="other"."""
    client.get("/api/v1/query", query_string={"query": "vector(1)"})
    client.get("/api/v1/query_range", query_string={"query": "vector(1)", "start": 0, "end": 60, "step": 15})
    client.get("/api/v1/labels")
    client.get("/api/services")
    client.get("/nowhere")
    text = client.get("/metrics").text
    for handler in ("query", "query_range", "labels", "jaeger", "other"):
        assert f'promscale_http_request_duration_seconds_count{{handler="{handler}"}} 1' in text, handler
    assert 'promscale_http_request_duration_seconds_count{handler="read"} 0' in text
