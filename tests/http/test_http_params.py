"""Parameter parsing as Prometheus 2.42 (values observed from the real binary) and the
Go-compatible JSON, both the extension's (promscale.httpapi); the connector's form merging."""

from __future__ import annotations

import math

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from promscale.httpapi import gojson
from promscale.httpapi.params import MAX_TIME_MS, MIN_TIME_MS, BadData, parse_duration_ns, parse_time
from promscale.promql.gofmt import format_float_f, go_quote
from pyconnector.prometheus.query_api import form


@pytest.mark.parametrize("text, millis", [
    ("1", 1000), ("1.5", 1500), ("-1.5", -1500), ("1.0015", 1002), ("1.0005", 1000), ("0", 0),
    ("1e3", 1_000_000), ("1700000000000", 1_700_000_000_000_000),  # Grafana's ms read as seconds
    ("1e20", 0), ("nan", MIN_TIME_MS), ("+Inf", MIN_TIME_MS),  # Go's int64 conversions
    ("2020-01-01T00:00:00.123456789Z", 1_577_836_800_123), ("2020-01-01T01:00:00+01:00", 1_577_836_800_000),
    ("1969-12-31T23:59:59.5Z", -500),
    ("-292273086-05-16T16:47:06Z", MIN_TIME_MS), ("292277025-08-18T07:12:54.999999999Z", MAX_TIME_MS),
])
def test_parse_time(text, millis):
    assert parse_time(text) == millis


@pytest.mark.parametrize("text", ["", "abc", "1_000", " 1", "2020-01-01", "2020-13-01T00:00:00Z", "1h"])
def test_parse_time_errors(text):
    with pytest.raises(BadData, match="to a valid timestamp"):
        parse_time(text)


@pytest.mark.parametrize("text, nanos", [
    ("15", 15 * 10**9), ("0.5", 5 * 10**8), ("1h30m", 5400 * 10**9), ("1d2h", 93600 * 10**9), ("5m", 300 * 10**9),
    ("1y", 365 * 86400 * 10**9), ("10ms", 10**7), ("1e3", 10**12), ("0", 0), ("-1", -10**9),
])
def test_parse_duration(text, nanos):
    assert parse_duration_ns(text) == nanos


@pytest.mark.parametrize("text", ["", "x", "1.5ms", "1ns", "1m1h", "5 m", "1e300"])
def test_parse_duration_errors(text):
    with pytest.raises(BadData, match="to a valid duration"):
        parse_duration_ns(text)


def test_go_quote():
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'


def test_form_merges_body_before_url():
    request = Request(EnvironBuilder(method="POST", query_string="query=2&match[]=u&time=5",
                                     data={"query": "1", "match[]": "b"}).get_environ())
    merged = form(request)
    assert merged.get("query") == "1" and merged.get("time") == "5"
    assert merged.getlist("match[]") == ["b", "u"]


@pytest.mark.parametrize("value, text", [
    (1.0, "1"), (0.1, "0.1"), (1e-7, "1e-07"), (1e21, "1e+21"), (123456789012345678901.0, "123456789012345680000"),
    (-0.0, "-0"), (math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (1e-6, "0.000001"),
    (0.30000000000000004, "0.30000000000000004"), (1.5e300, "1.5e+300"), (2.5e-300, "2.5e-300"),
])
def test_go_float_format(value, text):
    assert gojson.format_value(value) == text


def test_scalar_format_never_uses_exponent():
    assert format_float_f(1e-7) == "0.0000001"
    assert format_float_f(1e21) == "1000000000000000000000"


@pytest.mark.parametrize("millis, text", [(1500, "1.500"), (1_435_781_451_781, "1435781451.781"),
                                          (1000, "1"), (-1500, "-1.500"), (5, "0.005")])
def test_timestamp_format(millis, text):
    assert gojson.format_timestamp_ms(millis) == text


def test_go_json_escaping():
    assert gojson.dumps({"a": "<&>\u2028\b\x01é"}) == '{"a":"\\u003c\\u0026\\u003e\\u2028\\u0008\\u0001é"}'


def test_query_flags_from_command_line_and_environment():
    from pyconnector import config

    assert config.load(["--query-timeout", "30s"], environ={}).query_timeout == 30 * 10**9
    assert config.load([], environ={"PROMSCALE_QUERY_TIMEOUT": "1m30s"}).query_timeout == 90 * 10**9
    assert config.load([], environ={}).query_timeout == 120 * 10**9  # Prometheus's --query.timeout default
    assert config.load(["--read-max-bytes-in-frame", "2MiB"], environ={}).read_max_bytes_in_frame == 2 << 20
    with pytest.raises(SystemExit):
        config.load([], environ={"PROMSCALE_QUERY_TIMEOUT": "soon"})


def test_unreachable_database_is_a_json_503(tmp_path):
    from werkzeug.test import Client

    from pyconnector import Config, create_app
    from support.postgres import free_port

    app = create_app(Config(db_uri=f"postgresql://nobody@127.0.0.1:{free_port()}/none", db_connect_timeout=2,
                            telemetry_dir=str(tmp_path)))
    response = Client(app).get("/api/v1/query", query_string={"query": "up", "time": "1"})
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["errorType"] == "unavailable"
    assert "database unavailable" in body["error"]
