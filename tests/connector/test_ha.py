"""Prometheus HA pairs through the connector's WSGI app (--high-availability, prometheus/ha.py)
into a real database: the leader's samples are stored, the follower's answered 204 and dropped,
__replica__ is not stored, a follower takes over once the lease has expired in sample time."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from pyconnector import Config, create_app
from support.remote_write import HEADERS, encode, write_request

T0 = 1_700_000_000_000
SERIES = [{"__name__": "node_load1", "instance": "a:9100", "job": "node"},
          {"__name__": "up", "instance": "a:9100", "job": "node"}]


def make_app(pg_cluster, db_name, tmp_path, high_availability=True):
    return create_app(Config(db_uri=pg_cluster.uri(db_name, "promscale_writer"), telemetry_dir=str(tmp_path),
                             high_availability=high_availability))


@pytest.fixture
def app(pg_cluster, db_name, tmp_path):
    return make_app(pg_cluster, db_name, tmp_path)


@pytest.fixture
def short_lease(db):
    """Lease timeout 5 s, refresh 1 s (as the end-to-end test sets them)."""
    db.execute("SELECT prom_api.set_ha_lease_refresh('1s'), prom_api.set_ha_lease_timeout('5s')")


def replica_request(replica: str, times_ms: list[int], cluster: str = "c1", series=SERIES) -> bytes:
    """One request of ``replica``: every series with a sample (value: its time in s) at each time."""
    return encode(write_request([({**labels, "cluster": cluster, "__replica__": replica},
                                  [(t, t / 1000) for t in times_ms]) for labels in series]))


def post(app, body) -> int:
    response = Client(app).post("/write", data=body, headers=HEADERS)
    assert response.status_code in (204, 400), response.data
    return response.status_code


def stored(db, metric="node_load1") -> list[tuple]:
    return db.execute(f"SELECT labels, (extract(epoch FROM time) * 1000)::bigint FROM prom_metric.{metric} "
                      "ORDER BY time").fetchall()


def stored_times(db, metric="node_load1") -> list[int]:
    return [t for _, t in stored(db, metric)]


def lease_history(db) -> list[tuple]:
    return db.execute("SELECT leader_name, _prom_catalog.unix_ms(lease_start, true), "
                      "_prom_catalog.unix_ms(lease_until, true) FROM prom_info.ha_lease_history "
                      "ORDER BY lease_start").fetchall()


def test_leader_stored_follower_dropped_replica_label_not_stored(app, db):
    assert post(app, replica_request("r1", [T0, T0 + 1000])) == 204
    assert post(app, replica_request("r2", [T0 + 500, T0 + 1500])) == 204
    rows = stored(db)
    assert [t for _, t in rows] == [T0, T0 + 1000]
    assert rows[0][0] == {"__name__": "node_load1", "instance": "a:9100", "job": "node", "cluster": "c1"}
    assert db.execute("SELECT count(*) FROM _prom_catalog.label WHERE key = '__replica__'").fetchone()[0] == 0
    assert db.execute("SELECT cluster_name, leader_name FROM prom_info.ha_leader").fetchall() == [("c1", "r1")]
    metrics = Client(app).get("/metrics").get_data(as_text=True)
    assert "promscale_ha_samples_dropped_total 4" in metrics


def test_failover_after_the_lease_expires_without_overlap_or_gap(app, db, short_lease):
    """r1 and r2 write every second, 300 ms apart; r1 stops at 10 s. r2 takes over where r1's
    lease ends: stored are r1's samples before that point and r2's from it, nothing twice, and
    the gap is no longer than the lease timeout plus one scrape."""
    for k in range(30):
        if k <= 10:
            post(app, replica_request("r1", [T0 + 1000 * k]))
        post(app, replica_request("r2", [T0 + 1000 * k + 300]))
    history = lease_history(db)
    assert [leader for leader, _, _ in history] == ["r1", "r2"]
    (_, _, r1_until), (_, r2_start, _) = history
    assert r2_start == r1_until
    expected = [T0 + 1000 * k for k in range(11) if T0 + 1000 * k < r1_until] + [
        T0 + 1000 * k + 300 for k in range(30) if T0 + 1000 * k + 300 >= r1_until]
    for metric in ("node_load1", "up"):
        times = stored_times(db, metric)
        assert times == expected
        assert len(set(times)) == len(times)
        assert max(b - a for a, b in zip(times, times[1:])) <= 5000 + 1000


def test_leader_extends_its_lease_without_a_round_trip_per_request(app, db, short_lease, monkeypatch):
    calls = []
    update = app.db.update_ha_lease
    monkeypatch.setattr(app.db, "update_ha_lease", lambda *args: calls.append(args) or update(*args))
    for k in range(40):
        post(app, replica_request("r1", [T0 + 250 * k]))  # 10 s of sample time, 4 requests a second
    # the first request takes the lease; then one extension per second (the refresh) of sample time
    assert 2 <= len(calls) <= 1 + 10 + 1, calls
    assert len(stored_times(db)) == 40


def test_backfill_is_accepted_for_the_ranges_the_replica_led(app, db, short_lease):
    post(app, replica_request("r1", [T0, T0 + 1000]))             # r1 leads [T0, T0 + 6 s)
    post(app, replica_request("r2", [T0 + 20_000]))                # r2 leads from T0 + 6 s
    # r1 resends what it had not delivered: its own range is taken, r2's is not
    post(app, replica_request("r1", [T0 + 2000, T0 + 3000, T0 + 7000]))
    # r2's backfill of r1's range is dropped
    post(app, replica_request("r2", [T0 + 2500]))
    assert stored_times(db) == [T0, T0 + 1000, T0 + 2000, T0 + 3000, T0 + 20_000]


def test_two_connectors_agree_through_the_database(pg_cluster, db_name, tmp_path, db, short_lease):
    first = make_app(pg_cluster, db_name, tmp_path / "a")
    second = make_app(pg_cluster, db_name, tmp_path / "b")
    for k in range(20):
        if k < 8:
            post(first, replica_request("r1", [T0 + 1000 * k]))
        post(second, replica_request("r2", [T0 + 1000 * k + 300]))
        post(first, replica_request("r2", [T0 + 1000 * k + 300]))  # a retry landing elsewhere: same verdict
    history = lease_history(db)
    assert [leader for leader, _, _ in history] == ["r1", "r2"]
    times = stored_times(db)
    assert len(set(times)) == len(times)
    until = history[0][2]
    assert all(t % 1000 == 0 for t in times if t < until) and all(t % 1000 == 300 for t in times if t >= until)


def test_series_without_ha_labels_pass_and_a_replica_needs_a_cluster(app, db):
    plain = {"__name__": "node_load1", "instance": "b:9100", "job": "node"}
    only_cluster = {"__name__": "node_load1", "instance": "c:9100", "job": "node", "cluster": "c9"}
    assert post(app, encode(write_request([(plain, [(T0, 1.0)]), (only_cluster, [(T0, 2.0)])]))) == 204
    assert sorted(labels["instance"] for labels, _ in stored(db)) == ["b:9100", "c:9100"]
    response = Client(app).post("/write", headers=HEADERS, data=encode(write_request(
        [({**plain, "__replica__": "r1"}, [(T0, 1.0)])])))
    assert response.status_code == 400
    assert b"__replica__='r1' but no cluster label" in response.data


def test_a_request_mixing_replicas_judges_each_series(app, db):
    post(app, replica_request("r1", [T0]))
    mixed = encode(write_request([({**SERIES[0], "cluster": "c1", "__replica__": "r1"}, [(T0 + 1000, 1.0)]),
                                  ({**SERIES[0], "cluster": "c1", "__replica__": "r2"}, [(T0 + 1500, 1.0)]),
                                  ({**SERIES[0], "instance": "b:9100"}, [(T0 + 1500, 1.0)])]))
    assert post(app, mixed) == 204
    assert [(labels["instance"], t) for labels, t in stored(db)] == [
        ("a:9100", T0), ("a:9100", T0 + 1000), ("b:9100", T0 + 1500)]


def test_without_the_flag_replica_labels_are_stored(pg_cluster, db_name, tmp_path, db):
    app = make_app(pg_cluster, db_name, tmp_path, high_availability=False)
    post(app, replica_request("r1", [T0]))
    post(app, replica_request("r2", [T0]))
    assert sorted(labels["__replica__"] for labels, _ in stored(db)) == ["r1", "r2"]
    assert db.execute("SELECT count(*) FROM _prom_catalog.ha_lease").fetchone()[0] == 0


def test_exemplars_follow_their_replica(app, db):
    post(app, replica_request("r1", [T0]))
    series = {"__name__": "http_requests_total", "job": "api", "cluster": "c1"}
    req = write_request(exemplars=[({**series, "__replica__": "r1"}, {"trace_id": "aa"}, 1.0, T0 + 1000),
                                   ({**series, "__replica__": "r2"}, {"trace_id": "bb"}, 2.0, T0 + 1000)])
    assert post(app, encode(req)) == 204
    assert db.execute("SELECT prom_api.labels(series_id), labels FROM prom_data.exemplar").fetchall() == [
        ({"__name__": "http_requests_total", "job": "api", "cluster": "c1"}, {"trace_id": "aa"})]
