"""--db-read-uri against a real streaming replica (pg_basebackup of a primary of its own): writes
land on the primary, every read endpoint answers from the replica (with replay paused, what was
just written is not there yet; once replayed, it is), and a stopped replica leaves the queries
to the primary. The read-your-write lag is measured and printed, not asserted."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import psycopg
import pytest
import requests
import snappy

import pgcluster
from pyconnector.prometheus.proto import prometheus_remote_pb2 as pb
from pyconnector.replicas import REPLICA_APPLICATION_NAME, ReplicatedDatabase
from support.connector import ConnectorProcess
from support.postgres import free_port, remove_cluster, start_cluster
from support.remote_write import HEADERS, encode, write_request
from support.traces import PB_HEADERS, S, request_of

pytestmark = pytest.mark.slow

DB = "promscale"
READER = "promscale_reader"
T0_MS = int(time.time() * 1000) - 60_000
READ_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                "X-Prometheus-Remote-Read-Version": "0.1.0"}


@pytest.fixture(scope="module")
def primary() -> Iterator[pgcluster.Cluster]:
    """A primary of this module's own (a replica of the shared cluster would copy every test's databases),
    committing as production servers do: with synchronous_commit off (the test clusters' setting) WAL
    reaches the replica only when the WAL writer flushes it, every wal_writer_delay (200 ms)."""
    cluster = start_cluster({"synchronous_commit": "on", "fsync": "on"})
    cluster.create_promscale_database(DB)
    # queries need no more than prom_reader (roles reach the replica with the WAL)
    cluster.psql(f"CREATE ROLE {READER} LOGIN IN ROLE prom_reader", dbname=DB)
    yield cluster
    remove_cluster(cluster)


def make_replica(primary: pgcluster.Cluster) -> pgcluster.Cluster:
    """A hot standby streaming from ``primary``: pg_basebackup -R (standby.signal, primary_conninfo);
    initdb -A trust allows replication connections from 127.0.0.1."""
    base = Path(tempfile.mkdtemp(prefix="promscale-test-pg-", dir="/tmp"))
    base.chmod(0o755)
    replica = pgcluster.Cluster(primary.bindir, base / "data", free_port(), base / "run")
    pgcluster.give_to_server_user(replica.datadir)
    pgcluster.give_to_server_user(replica.socket_dir)
    replica.socket_dir.chmod(0o755)
    basebackup = Path(pgcluster.pg_config("--bindir")) / "pg_basebackup"  # a client tool: the system's
    subprocess.run(pgcluster.as_server_user(
        [str(basebackup), "-D", str(replica.datadir), "-R", "-X", "stream", "-c", "fast",
         "-h", primary.host, "-p", str(primary.port), "-U", pgcluster.SERVER_USER]),
        check=True, capture_output=True, text=True)
    # the copied postgresql.conf names the primary's port and socket directory: the last setting wins
    subprocess.run(pgcluster.as_server_user(["sh", "-c", f"cat >> '{replica.datadir}/postgresql.conf'"]),
                   input=f"port = {replica.port}\nunix_socket_directories = '{replica.socket_dir}'\n",
                   text=True, check=True)
    replica.start()
    replica.wait_ready()
    return replica


@pytest.fixture(scope="module")
def replica(primary) -> Iterator[pgcluster.Cluster]:
    cluster = make_replica(primary)
    yield cluster
    remove_cluster(cluster)


def wait_replayed(primary: pgcluster.Cluster, replica: pgcluster.Cluster, timeout: float = 60) -> None:
    with psycopg.connect(primary.uri(DB), autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica.uri(DB), autocommit=True) as conn:
        while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
            assert time.monotonic() < deadline, f"the replica did not replay up to {lsn}"
            time.sleep(0.05)


def replay(replica: pgcluster.Cluster, paused: bool) -> None:
    replica.psql("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")


# --- what is written under a marker, and how each read endpoint finds it ----------------------

def trace_of(marker: str) -> int:
    return int.from_bytes(marker.encode()[:15], "big") + 1


def write(url: str, marker: str) -> None:
    """Samples, an exemplar and metadata of metric rr_<marker> (label l_<marker>), and a trace from
    service svc_<marker>_a calling svc_<marker>_b."""
    labels = {"__name__": f"rr_{marker}", "job": "replica-test", f"l_{marker}": "x"}
    body = encode(write_request([(labels, [(T0_MS, 1.0), (T0_MS + 15_000, 2.0)])],
                                metadata=[(f"rr_{marker}", 1, "replica test", "")],
                                exemplars=[(labels, {"trace_id": "abc"}, 1.5, T0_MS)]))
    response = requests.post(url + "/api/v1/write", data=body, headers=HEADERS, timeout=30)
    assert response.status_code == 204, response.text
    trace = trace_of(marker)
    spans = [S(trace, 1, None, "call", f"svc_{marker}_a", 0, 50, kind=3),
             S(trace, 2, 1, "serve", f"svc_{marker}_b", 5, 40, kind=2)]
    base_ns = (T0_MS - 1000) * 1_000_000
    response = requests.post(url + "/v1/traces", data=request_of(spans, base_ns).SerializeToString(),
                             headers=PB_HEADERS, timeout=30)
    assert response.status_code == 200, response.text


def get_json(url: str, path: str, **params: object) -> Any:
    response = requests.get(url + path, params=params, timeout=30)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


def api(url: str, path: str, **params: object) -> Any:
    return get_json(url, path, **params)["data"]


def remote_read(url: str, marker: str) -> int:
    req = pb.ReadRequest()
    q = req.queries.add(start_timestamp_ms=T0_MS - 60_000, end_timestamp_ms=T0_MS + 60_000)
    q.matchers.add(type=pb.LabelMatcher.EQ, name="__name__", value=f"rr_{marker}")
    response = requests.post(url + "/api/v1/read", data=snappy.compress(req.SerializeToString()),
                             headers=READ_HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    return sum(len(ts.samples) for r in pb.ReadResponse.FromString(snappy.uncompress(response.content)).results
               for ts in r.timeseries)


def jaeger_trace_id(url: str, marker: str) -> str | None:
    traces = api(url, "/api/traces", service=f"svc_{marker}_a", start=(T0_MS - 3_600_000) * 1000,
                 end=(T0_MS + 3_600_000) * 1000)
    return traces[0]["traceID"] if traces else None


def jaeger_trace_found(url: str, marker: str) -> bool:
    response = requests.get(url + f"/api/traces/{trace_of(marker):032x}", timeout=30)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200 and bool(response.json()["data"])


ENDPOINTS: dict[str, Callable[[str, str], bool]] = {
    "query": lambda url, m: bool(api(url, "/api/v1/query", query=f"rr_{m}", time=T0_MS / 1000 + 20)["result"]),
    "query_range": lambda url, m: bool(api(url, "/api/v1/query_range", query=f"rr_{m}", start=T0_MS / 1000,
                                           end=T0_MS / 1000 + 30, step=15)["result"]),
    "query_exemplars": lambda url, m: bool(api(url, "/api/v1/query_exemplars", query=f"rr_{m}",
                                               start=T0_MS / 1000 - 60, end=T0_MS / 1000 + 60)),
    "series": lambda url, m: bool(api(url, "/api/v1/series", **{"match[]": f"rr_{m}"})),
    "labels": lambda url, m: f"l_{m}" in api(url, "/api/v1/labels"),
    "label_values": lambda url, m: f"rr_{m}" in api(url, "/api/v1/label/__name__/values"),
    "metadata": lambda url, m: f"rr_{m}" in api(url, "/api/v1/metadata", metric=f"rr_{m}"),
    "remote_read": lambda url, m: remote_read(url, m) == 2,
    "jaeger services": lambda url, m: f"svc_{m}_a" in (api(url, "/api/services") or []),
    "jaeger service operations": lambda url, m: bool(api(url, f"/api/services/svc_{m}_a/operations")),
    "jaeger operations": lambda url, m: bool(api(url, "/api/operations", service=f"svc_{m}_a")),
    "jaeger traces": lambda url, m: jaeger_trace_id(url, m) is not None,
    "jaeger trace": lambda url, m: jaeger_trace_found(url, m),
    "jaeger dependencies": lambda url, m: any(d["parent"] == f"svc_{m}_a" for d in api(
        url, "/api/dependencies", endTs=T0_MS + 3_600_000, lookback=7_200_000) or []),
    "ui status": lambda url, m: any(x["metric"] == f"rr_{m}"
                                    for x in get_json(url, "/ui/api/status")["metrics"]["shown"]),
    "ui metric storage": lambda url, m: any(x["metric"] == f"rr_{m}"
                                            for x in get_json(url, "/ui/api/metric-storage")["metrics"]),
}


def seen(url: str, marker: str) -> dict[str, bool]:
    return {name: found(url, marker) for name, found in ENDPOINTS.items()}


def primary_has(primary: pgcluster.Cluster, marker: str) -> bool:
    return primary.psql(f"SELECT count(*) FROM _prom_catalog.metric WHERE metric_name = 'rr_{marker}'",
                        dbname=DB) == "1"


@pytest.fixture(scope="module")
def connector_process(primary, replica) -> Iterator[ConnectorProcess]:
    args = ["--db-read-uri", replica.uri(DB, READER), "--maintenance-interval", "0"]
    with ConnectorProcess(primary.uri(DB, "promscale"), workers=1, threads=2, extra_args=args) as process:
        yield process


@pytest.fixture(scope="module")
def connector(connector_process) -> str:
    return connector_process.url


# --- tests ------------------------------------------------------------------------------------

def test_every_read_endpoint_reads_the_replica_and_writes_go_to_the_primary(primary, replica, connector):
    write(connector, "first")
    wait_replayed(primary, replica)
    assert seen(connector, "first") == dict.fromkeys(ENDPOINTS, True)
    assert api(connector, "/api/v1/format_query", query="sum(rr_first)") == "sum(rr_first)"
    with psycopg.connect(replica.uri(DB), autocommit=True) as conn:
        sessions = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                (REPLICA_APPLICATION_NAME,)).fetchone()[0]
    assert sessions >= 1

    # replay paused: the primary has what is written next, queries (answered by the replica) not yet
    replay(replica, paused=True)
    try:
        write(connector, "second")
        assert primary_has(primary, "second")
        assert seen(connector, "second") == dict.fromkeys(ENDPOINTS, False)
    finally:
        replay(replica, paused=False)
    wait_replayed(primary, replica)
    assert seen(connector, "second") == dict.fromkeys(ENDPOINTS, True)


def test_read_your_write_lag_is_measured(connector):
    """How long after a remote_write's 204 a query through the replica sees the sample (printed;
    docs/operations.md, "Read replicas", quotes it). Asserted only: it does see it."""
    lags = []
    for n in range(10):
        labels = {"__name__": "rr_lag", "round": str(n)}
        body = encode(write_request([(labels, [(T0_MS, float(n))])]))
        assert requests.post(connector + "/api/v1/write", data=body, headers=HEADERS, timeout=30).status_code == 204
        written = time.perf_counter()
        while not api(connector, "/api/v1/query", query=f'rr_lag{{round="{n}"}}', time=T0_MS / 1000)["result"]:
            assert time.perf_counter() - written < 60, "the replica never showed the write"
        lags.append(time.perf_counter() - written)
    print(f"read-your-write lag through the replica: median {statistics.median(lags) * 1000:.1f} ms, "
          f"max {max(lags) * 1000:.1f} ms over {len(lags)} writes")


def test_a_stopped_replica_leaves_queries_to_the_primary(primary, replica, connector_process):
    connector = connector_process.url
    replica.stop()
    try:
        write(connector, "third")
        assert seen(connector, "third") == dict.fromkeys(ENDPOINTS, True)
        assert seen(connector, "first") == dict.fromkeys(ENDPOINTS, True)
        assert f"read replica 127.0.0.1:{replica.port}/{DB} unavailable" in connector_process.log_tail(200)
    finally:
        replica.start()
        replica.wait_ready()


def test_a_resting_replica_is_tried_again_after_the_rest(primary, replica):
    """In process, with a clock of the test's: a replica that failed is skipped until its rest is
    over, then answers again."""
    now = [0.0]
    db = ReplicatedDatabase(primary.uri(DB, "promscale"), [replica.uri(DB, READER)], connect_timeout=5,
                            rest_seconds=30, clock=lambda: now[0])
    in_recovery = "SELECT pg_is_in_recovery()"
    assert db.call(in_recovery, ()) is True  # the replica answered
    replica.stop()
    try:
        assert db.call(in_recovery, ()) is False  # the primary answered
        assert db.series_epoch() is not None  # writes' calls: the primary's, as before
    finally:
        replica.start()
        replica.wait_ready()
    now[0] = 29.0
    assert db.call(in_recovery, ()) is False  # still resting
    now[0] = 31.0
    assert db.call(in_recovery, ()) is True
    db.discard()
    db.replicas[0].discard()
