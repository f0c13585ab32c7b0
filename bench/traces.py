"""Trace ingest and query, end to end: OTLP/HTTP and OTLP/gRPC → connector → PostgreSQL, then
the Jaeger API. Prints spans/s per transport, connector CPU per span, bytes per stored span, and
the latency of a Jaeger trace search and a trace fetch; then packs the (closed) partitions with
``CALL prom_api.execute_maintenance()`` and prints bytes per span and the query latencies again.

Load: traces of 10 spans over 4 services (frontend → cart → db, payment), each span with 10-20
attributes of realistic shape (http.*, db.*, net.*, ids that vary per span) and 0-3 events;
512 spans per request (the OTel SDK BatchSpanProcessor's batch), several concurrent senders.
Requests are encoded before the clock starts, so the figures measure the receiving side.
There is no reference implementation to run here (no Jaeger/Tempo/Collector is installable); the
original Promscale's published figures are printed for comparison.

    make bench-traces [BENCH_ARGS="--requests 60 --senders 4"]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import grpc
import psycopg
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".")]

from support.connector import ConnectorProcess  # noqa: E402
from support.postgres import free_port, remove_cluster, start_cluster  # noqa: E402

SPANS_PER_REQUEST = 512
SPANS_PER_TRACE = 10
SERVICES = {
    "frontend": {"service.version": "2.3.1", "host.name": "web-7f9c", "k8s.pod.name": "frontend-7f9c-x2x1",
                 "k8s.namespace.name": "shop", "telemetry.sdk.language": "python", "telemetry.sdk.version": "1.45.2"},
    "cart": {"service.version": "1.9.0", "host.name": "cart-2b4a", "k8s.pod.name": "cart-2b4a-p9q8",
             "k8s.namespace.name": "shop", "telemetry.sdk.language": "go", "telemetry.sdk.version": "1.21.0"},
    "payment": {"service.version": "0.4.2", "host.name": "pay-19ee", "k8s.pod.name": "payment-19ee-aa01",
                "k8s.namespace.name": "shop", "telemetry.sdk.language": "java", "telemetry.sdk.version": "1.32.0"},
    "db": {"service.version": "15.4", "host.name": "pg-0", "k8s.pod.name": "postgres-0",
           "k8s.namespace.name": "data", "telemetry.sdk.language": "cpp", "telemetry.sdk.version": "1.11.0"},
}
# (service, span name, kind, parent position in the trace)
TRACE_SHAPE = [
    ("frontend", "GET /cart/checkout", 2, None),
    ("frontend", "POST cart/checkout", 3, 0),
    ("cart", "POST /checkout", 2, 1),
    ("cart", "SELECT cart_items", 3, 2),
    ("db", "SELECT shop.cart_items", 2, 3),
    ("cart", "POST payment/charge", 3, 2),
    ("payment", "POST /charge", 2, 5),
    ("payment", "fraud check", 1, 6),
    ("cart", "UPDATE orders", 3, 2),
    ("db", "UPDATE shop.orders", 2, 8),
]


def set_value(value_message, value) -> None:
    if isinstance(value, bool):
        value_message.bool_value = value
    elif isinstance(value, int):
        value_message.int_value = value
    elif isinstance(value, float):
        value_message.double_value = value
    else:
        value_message.string_value = value


def span_attributes(rng: random.Random, service: str, kind: int, n: int) -> dict:
    user = rng.randrange(100_000)
    attrs: dict = {
        "http.method": rng.choice(["GET", "POST", "PUT"]), "http.status_code": rng.choice([200] * 18 + [404, 500]),
        "http.url": f"https://shop.example.com/cart/{user}/checkout?session={rng.getrandbits(48):012x}",
        "http.route": "/cart/{user}/checkout", "http.scheme": "https", "http.flavor": "1.1",
        "net.peer.name": f"{service}.shop.svc.cluster.local", "net.peer.port": 8080,
        "user.id": user, "enduser.role": rng.choice(["guest", "member", "vip"]),
        "request.size": rng.randrange(200, 20_000), "response.time_ms": round(rng.uniform(0.5, 250.0), 3),
        "thread.name": f"worker-{rng.randrange(32)}", "code.function": "handle_checkout",
        "code.namespace": f"shop.{service}.handlers", "sampled": True,
        "db.system": "postgresql", "db.statement": f"SELECT * FROM cart_items WHERE user_id = {user}",
        "messaging.system": "kafka", "feature.flags": "new-checkout,fast-pay",
    }
    keys = list(attrs)[:n]
    return {k: attrs[k] for k in keys}


def build_requests(count: int, seed: int, start_ns: int) -> list[bytes]:
    """``count`` encoded ExportTraceServiceRequests of SPANS_PER_REQUEST spans each."""
    rng = random.Random(seed)
    bodies = []
    t = start_ns
    for _ in range(count):
        request = ExportTraceServiceRequest()
        by_service = {}
        for service, resource in SERVICES.items():
            rs = request.resource_spans.add()
            for key, value in {"service.name": service, **resource}.items():
                kv = rs.resource.attributes.add()
                kv.key = key
                set_value(kv.value, value)
            ss = rs.scope_spans.add()
            ss.scope.name, ss.scope.version = f"opentelemetry.instrumentation.{service}", "0.45b0"
            by_service[service] = ss
        for _trace in range(SPANS_PER_REQUEST // SPANS_PER_TRACE + 1):
            trace_id = rng.getrandbits(128).to_bytes(16, "big")
            ids = [rng.getrandbits(64).to_bytes(8, "big") for _ in TRACE_SHAPE]
            t += 2_000_000
            for position, (service, name, kind, parent) in enumerate(TRACE_SHAPE):
                if sum(len(ss.spans) for ss in by_service.values()) >= SPANS_PER_REQUEST:
                    break
                span = by_service[service].spans.add()
                span.trace_id, span.span_id, span.name, span.kind = trace_id, ids[position], name, kind
                if parent is not None:
                    span.parent_span_id = ids[parent]
                span.start_time_unix_nano = t + position * 1_000_000 + rng.randrange(1000)
                span.end_time_unix_nano = span.start_time_unix_nano + rng.randrange(100_000, 50_000_000)
                for key, value in span_attributes(rng, service, kind, rng.randrange(10, 21)).items():
                    kv = span.attributes.add()
                    kv.key = key
                    set_value(kv.value, value)
                if rng.random() < 0.05:
                    span.status.code, span.status.message = 2, "upstream timed out"
                for n in range(rng.randrange(4)):
                    event = span.events.add()
                    event.name = ["cache miss", "retry", "exception"][n]
                    event.time_unix_nano = span.start_time_unix_nano + 1000 * n
                    for key, value in (("attempt", n + 1), ("cache.key", f"cart:{rng.randrange(10**6)}")):
                        kv = event.attributes.add()
                        kv.key = key
                        set_value(kv.value, value)
        bodies.append(request.SerializeToString())
    return bodies


def send_http(url: str, per_sender: list[list[bytes]]) -> float:
    parts = urlsplit(url)
    failures: list[str] = []

    def sender(bodies: list[bytes]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        for body in bodies:
            if failures:
                break
            conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            text = response.read()
            if response.status != 200:
                failures.append(f"{response.status} {text[:300]!r}")
        conn.close()

    return _run(sender, per_sender, failures)


def send_grpc(target: str, per_sender: list[list[bytes]]) -> float:
    failures: list[str] = []

    def sender(bodies: list[bytes]) -> None:
        with grpc.insecure_channel(target) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            for body in bodies:
                try:
                    stub.Export(ExportTraceServiceRequest.FromString(body), timeout=120)
                except grpc.RpcError as exc:
                    failures.append(f"{exc.code()} {exc.details()}")
                    break

    return _run(sender, per_sender, failures)


def _run(sender, per_sender, failures) -> float:
    threads = [threading.Thread(target=sender, args=(bodies,)) for bodies in per_sender]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, first: {failures[0]}")
    return elapsed


def process_tree_cpu(root_pid: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [root_pid]
    ticks = os.sysconf("SC_CLK_TCK")
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        todo.extend(children.get(pid, []))
    return total


def split(bodies: list[bytes], senders: int) -> list[list[bytes]]:
    return [bodies[i::senders] for i in range(senders)]


def timed_get(url: str, repeats: int) -> tuple[float, float]:
    """(median, p90) milliseconds of GET url."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = requests.get(url, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def report_storage(conn: psycopg.Connection, stored: int, label: str) -> None:
    """Bytes per span of everything the spans occupy, after VACUUM."""
    conn.execute("VACUUM ANALYZE")
    sizes = dict(conn.execute(
        "SELECT p.relname, sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relnamespace = '_ps_trace'::regnamespace "
        "GROUP BY 1").fetchall())
    interned = conn.execute(
        "SELECT pg_total_relation_size('_ps_trace.resource') + pg_total_relation_size('_ps_trace.scope')"
        " + pg_total_relation_size('_ps_trace.operation') + pg_total_relation_size('_ps_trace.chunk')"
        # the packing dictionaries, one per chunk and tenant since multitenancy (before: in chunk)
        " + coalesce(pg_total_relation_size(to_regclass('_ps_trace.pack_dictionary')), 0)").fetchone()[0]
    events = conn.execute("SELECT count(*) FROM ps_trace.event").fetchone()[0]
    total = sum(sizes.values()) + interned
    print(f"storage {label}: {total / stored:.0f} bytes/span in total ({stored} spans, {events} events): "
          f"span rows+indexes {sizes.get('span', 0) / stored:.0f}, events {sizes.get('event', 0) / stored:.0f}, "
          f"links {sizes.get('link', 0) / stored:.0f}, packed rows+indexes {sizes.get('span_packed', 0) / stored:.0f}, "
          f"interned resources/scopes/operations/chunks (with dictionaries) {interned / stored:.1f}")


def query_latencies(url: str, start_ns: int, sample: list[str], label: str, warmup: int) -> None:
    """Jaeger search and fetch latencies; `warmup` requests first, so that every database
    connection of the connector has loaded its PL/Python modules (a one-time cost per
    connection, ~50-100 ms, that unpacking packed rows pays on its first call)."""
    end_us = (start_ns + 3 * 10**12) // 1000
    start_us = start_ns // 1000 - 10**6
    search = f"{url}/api/traces?service=frontend&limit=20&start={start_us}&end={end_us}"
    timed_get(search, warmup)
    med, p90 = timed_get(search, 20)
    print(f"[{label}] Jaeger search (service, limit 20): median {med:.1f} ms, p90 {p90:.1f} ms")
    tags = quote(json.dumps({"http.status_code": "500"}))
    med, p90 = timed_get(f"{search}&operation={quote('GET /cart/checkout')}&tags={tags}", 20)
    print(f"[{label}] Jaeger search (service, operation, tag, limit 20): median {med:.1f} ms, p90 {p90:.1f} ms")
    rng = random.Random(4)
    fetch_times = []
    for _ in range(50):
        started = time.perf_counter()
        response = requests.get(f"{url}/api/traces/{rng.choice(sample)}", timeout=60)
        fetch_times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and len(response.json()["data"][0]["spans"]) >= 1
    fetch_times.sort()
    print(f"[{label}] Jaeger trace fetch (10 spans): median {statistics.median(fetch_times):.1f} ms, "
          f"p90 {fetch_times[44]:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60, help="requests per transport (512 spans each)")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    # two days ago: the spans fall in closed partitions that maintenance packs (pack delay 1 hour)
    start_ns = (int(time.time()) - 2 * 86400) * 10**9
    print(f"building {2 * args.requests + 4} requests of {SPANS_PER_REQUEST} spans ...", flush=True)
    warmup = build_requests(4, 1, start_ns)
    http_bodies = build_requests(args.requests, 2, start_ns + 10**12)
    grpc_bodies = build_requests(args.requests, 3, start_ns + 2 * 10**12)
    spans = args.requests * SPANS_PER_REQUEST
    print(f"load: {spans} spans per transport, {sum(map(len, http_bodies)) / spans:.0f} protobuf bytes/span, "
          f"{args.senders} concurrent senders; connector {args.workers} workers x {args.threads} threads")

    cluster = start_cluster({"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"})
    try:
        cluster.create_promscale_database("promscale")
        grpc_port = free_port()
        with ConnectorProcess(cluster.uri("promscale", "promscale"), workers=args.workers, threads=args.threads,
                              extra_args=["--otlp-grpc-listen", f"127.0.0.1:{grpc_port}"]) as connector:
            send_http(connector.url, split(warmup[:2], 2))  # resources, operations, first partitions
            time.sleep(1.0)
            send_grpc(f"127.0.0.1:{grpc_port}", split(warmup[2:], 2))
            results = {}
            for name, send, target, bodies in (("OTLP/HTTP", send_http, connector.url, http_bodies),
                                               ("OTLP/gRPC", send_grpc, f"127.0.0.1:{grpc_port}", grpc_bodies)):
                cpu_before = process_tree_cpu(connector.process.pid)
                elapsed = send(target, split(bodies, args.senders))
                cpu = process_tree_cpu(connector.process.pid) - cpu_before
                results[name] = (spans / elapsed, spans / cpu if cpu else float("inf"))
                print(f"{name:10}: {spans} spans in {elapsed:.2f}s = {spans / elapsed:,.0f} spans/s; "
                      f"connector CPU {cpu:.2f}s = {spans / cpu:,.0f} spans per connector CPU-second")

            with psycopg.connect(cluster.uri("promscale"), autocommit=True) as conn:
                expected = (2 * args.requests + 4) * SPANS_PER_REQUEST
                stored = conn.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0]
                assert stored == expected, f"stored {stored} spans, sent {expected}"
                sample = [row[0].hex for row in conn.execute(
                    "SELECT DISTINCT trace_id FROM _ps_trace.span LIMIT 200").fetchall()]
                report_storage(conn, stored, "rows   ")
                query_latencies(connector.url, start_ns, sample, "rows", 2 * args.workers * args.threads)

                started = time.perf_counter()
                conn.execute("CALL prom_api.execute_maintenance(log_steps => false)")
                packing = time.perf_counter() - started
                packed = conn.execute("SELECT count(*), sum(span_count) FROM _ps_trace.span_packed").fetchone()
                assert packed[1] == expected, f"packed {packed[1]} spans of {expected}"
                assert conn.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == expected
                print(f"packing   : maintenance packed {expected} spans into {packed[0]} rows in {packing:.1f}s "
                      f"= {expected / packing:,.0f} spans/s")
                report_storage(conn, stored, "packed ")
                query_latencies(connector.url, start_ns, sample, "packed", 2 * args.workers * args.threads)
    finally:
        remove_cluster(cluster)
    print("reference (original Promscale, published): ~20-25k spans/s per connector core, ~250 bytes/span")
    return 0


if __name__ == "__main__":
    sys.exit(main())
