"""The real `promscale-connector` command with --otlp-grpc-listen: gunicorn with two workers
serves OTLP/HTTP and the Jaeger API, a separate process serves OTLP/gRPC."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

from support.otel_workload import run_workload


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_connector_command_serves_both_transports(pg_cluster, db_name, db, tmp_path):
    http_port, grpc_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pyconnector", "--listen", f"127.0.0.1:{http_port}",
         "--otlp-grpc-listen", f"127.0.0.1:{grpc_port}", "--workers", "2", "--threads", "2",
         "--db-uri", pg_cluster.uri(db_name, "promscale_writer"), "--telemetry-dir", str(tmp_path / "t")],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "connector.log", "wb"), start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("connector did not start: " + (tmp_path / "connector.log").read_text())
        while time.monotonic() < deadline:  # the gRPC process starts on its own
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", grpc_port)) == 0:
                    break
            time.sleep(0.2)
        run_workload(HttpExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/traces", timeout=10), tag="http")
        run_workload(GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=30), tag="grpc")
        assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 14
        services = requests.get(f"http://127.0.0.1:{http_port}/api/services", timeout=10).json()["data"]
        assert "frontend-grpc" in services and "frontend-http" in services
        metrics = requests.get(f"http://127.0.0.1:{http_port}/metrics", timeout=10).text
        assert 'promscale_trace_spans_received_total{transport="grpc"} 7' in metrics
        assert 'promscale_trace_spans_received_total{transport="http"} 7' in metrics
    finally:
        process.send_signal(signal.SIGTERM)  # only the main process: it must take the gRPC process along
        try:
            process.wait(30)
        finally:
            time.sleep(0.5)
            listing = subprocess.run(["ps", "-o", "stat=,pid=,args=", "-g", str(process.pid)],
                                     capture_output=True, text=True).stdout.splitlines()
            left = [line for line in listing if not line.strip().startswith("Z")]  # zombies await their reaper
            try:
                os.killpg(process.pid, signal.SIGKILL)  # never leak processes, even on failure
            except ProcessLookupError:
                pass
    assert not left, f"processes of the connector outlived it: {left}"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", grpc_port)) != 0
