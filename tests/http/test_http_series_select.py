"""The SQL behind series selection: matcher semantics (a missing label is "", anchored
regexes), time-range existence checks and the clamped time conversions."""

from __future__ import annotations

import pytest
import snappy

from pyconnector.prometheus.proto import prometheus_remote_pb2 as pb

from support.http_api import push

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def ids(api, module_conn):
    push(api, [
        ({"__name__": "m", "job": "a", "env": "prod"}, [(T0, 1)]),
        ({"__name__": "m", "job": "b"}, [(T0 + 3_600_000, 1)]),
        ({"__name__": "m", "job": "ab", "env": ""}, [(T0, 1)]),  # an empty value is an absent label
        ({"__name__": "other", "job": "a"}, [(T0, 1)]),
    ])
    rows = module_conn.execute("SELECT prom_api.labels(id)->>'__name__' || ':' || (prom_api.labels(id)->>'job'), id "
                               "FROM _prom_catalog.series").fetchall()
    return dict(rows)


def match(conn, ids, *matchers):
    names, ops, values = zip(*matchers) if matchers else ((), (), ())
    got = conn.execute("SELECT _prom_catalog.get_matching_series_ids(%s::text[], %s::text[], %s::text[])",
                       (list(names), list(ops), list(values))).fetchone()[0]
    by_id = {v: k for k, v in ids.items()}
    return sorted(by_id[i] for i in got)


@pytest.mark.parametrize("matchers, expected", [
    ([("__name__", "=", "m")], ["m:a", "m:ab", "m:b"]),
    ([("__name__", "=", "m"), ("env", "=", "")], ["m:ab", "m:b"]),
    ([("__name__", "=", "m"), ("env", "!=", "")], ["m:a"]),
    ([("__name__", "=", "m"), ("env", "!=", "prod")], ["m:ab", "m:b"]),
    ([("job", "=~", "a")], ["m:a", "other:a"]),  # anchored: not "ab"
    ([("job", "=~", "a.*"), ("__name__", "!~", "oth.*")], ["m:a", "m:ab"]),
    ([("__name__", "=", "m"), ("env", "=~", "|prod")], ["m:a", "m:ab", "m:b"]),
    ([("__name__", "=", "m"), ("env", "!~", "")], ["m:a"]),
    ([("__name__", "=", "m"), ("job", "=", "zzz")], []),
    ([("nope", "=", "")], ["m:a", "m:ab", "m:b", "other:a"]),
    ([], ["m:a", "m:ab", "m:b", "other:a"]),
])
def test_matcher_semantics(module_conn, ids, matchers, expected):
    assert match(module_conn, ids, *matchers) == expected


def test_unknown_operator_is_an_error(module_conn):
    with pytest.raises(Exception, match="unknown matcher operator"):
        module_conn.execute("SELECT _prom_catalog.get_matching_series_ids('{a}', '{==}', '{b}')")


def test_active_series_by_activity_bounds(module_conn, ids):
    """A series counts in a range its samples fall in, and up to 40 minutes after its last one."""
    all_ids = [ids["m:a"], ids["m:b"]]

    def within(start_ms, end_ms):
        got = module_conn.execute(
            "SELECT prom_api.get_active_series(%s, _prom_catalog.timestamptz_of_ms(%s), "
            "_prom_catalog.timestamptz_of_ms(%s))", (all_ids, start_ms, end_ms)).fetchone()[0]
        return sorted(got)

    minute = 60_000
    assert within(T0, T0) == [ids["m:a"]]
    assert within(T0 - minute, T0 - 1) == []  # nothing before the first sample
    assert within(T0 + 3_600_000, T0 + 3_600_000) == [ids["m:b"]]
    assert within(T0 + 1, T0 + 19 * minute) == [ids["m:a"]]  # inside the slack after the last sample
    assert within(T0 + 41 * minute, T0 + 59 * minute) == []  # beyond it
    assert within(-(2**62), 2**62) == sorted(all_ids)
    assert within(T0 + 10, T0) == []  # start after end


@pytest.mark.parametrize("seconds, expected", [
    (0, "1970-01-01 00:00:00+00"), (-9223372036.854, "1677-09-21 00:12:43.146+00"), (-1e12, "-infinity"),
    (1.7e12, "55840-11-08 22:13:20+00"),
    (1e300, "infinity"), (1700000000.123, "2023-11-14 22:13:20.123+00"),
])
def test_clamped_timestamptz(module_conn, seconds, expected):
    module_conn.execute("SET timezone = 'UTC'")
    got = module_conn.execute("SELECT _prom_catalog.clamped_timestamptz(%s)::text", (seconds,)).fetchone()[0]
    assert got == expected


def test_compressed_data_counts_for_series_in_range(api, module_conn):
    """Series whose samples maintenance compressed still count for series/labels lookups."""
    old = 1_500_000_000_000  # long past the compression delay
    push(api, [({"__name__": "cold_metric", "job": "old"}, [(old + 15_000 * i, float(i)) for i in range(10)])])
    assert module_conn.execute("SELECT prom_api.compress_due_chunks()").fetchone()[0] > 0
    module_conn.execute("SELECT _prom_catalog.drop_flushed_chunks()")  # as the next maintenance run would
    assert module_conn.execute("SELECT count(*) FROM prom_data.compressed_sample").fetchone()[0] > 0
    assert module_conn.execute("SELECT count(*) FROM prom_data.sample WHERE time < to_timestamp(1600000000)"
                               ).fetchone()[0] == 0

    def series(start, end):
        body = api.get("/api/v1/series", query_string={"match[]": "cold_metric", "start": str(start),
                                                        "end": str(end)}).get_json()
        return body["data"]

    assert series(old / 1000, old / 1000 + 60) == [{"__name__": "cold_metric", "job": "old"}]
    assert series(old / 1000 + 3600, old / 1000 + 7200) == []
    labels = api.get("/api/v1/label/job/values", query_string={"start": str(old / 1000 - 10),
                                                                "end": str(old / 1000 + 10)}).get_json()
    assert labels["data"] == ["old"]
    # remote_read reads through the same read path
    request = pb.ReadRequest()
    query = request.queries.add(start_timestamp_ms=old, end_timestamp_ms=old + 60_000)
    query.matchers.add(type=pb.LabelMatcher.EQ, name="__name__", value="cold_metric")
    response = api.post("/api/v1/read", data=snappy.compress(request.SerializeToString()),
                        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
    (series_read,) = pb.ReadResponse.FromString(snappy.uncompress(response.get_data())).results[0].timeseries
    assert [(x.timestamp, x.value) for x in series_read.samples] == [(old + 15_000 * i, float(i)) for i in range(5)]
