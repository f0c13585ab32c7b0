"""The real `promscale-connector` serving TLS (with client certificates) and authentication,
driven by the real clients: Prometheus 2.42's remote_write (basic_auth, tls_config) and
remote_read (authorization with a bearer token, tls_config), and the OpenTelemetry SDK's
OTLP/HTTP and OTLP/gRPC exporters (headers, TLS). Certificates are made by the test."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from support.certs import Certificates, make_certificates
from support.connector import ConnectorProcess
from support.otel_workload import run_workload
from support.postgres import free_port
from support.prometheus import NodeExporter, Prometheus
from support.remote_write import encode, write_request

pytestmark = pytest.mark.slow

PASSWORD = "remote-write-password-0123"
READ_TOKEN = "read-token-0123456789abcdef"
WRITE_TOKEN = "write-token-0123456789abcdef"
SECRETS = (PASSWORD, READ_TOKEN, WRITE_TOKEN)


def secured_connector(db_uri: str, directory: Path, certs: Certificates, grpc_port: int | None = None,
                      client_certificates: bool = True) -> ConnectorProcess:
    (directory / "password").write_text(PASSWORD + "\n")
    (directory / "tokens").write_text(f"{READ_TOKEN} read\n{WRITE_TOKEN} write team-a\n")
    args = ["--auth-username", "prometheus", "--auth-password-file", str(directory / "password"),
            "--auth-token-file", str(directory / "tokens"),
            "--tls-cert-file", str(certs.server_cert), "--tls-key-file", str(certs.server_key)]
    if client_certificates:
        args += ["--tls-client-ca-file", str(certs.ca)]
    if grpc_port is not None:
        args += ["--otlp-grpc-listen", f"127.0.0.1:{grpc_port}"]
    return ConnectorProcess(db_uri, workers=1, threads=4, extra_args=args, https=True, verify=str(certs.ca),
                            client_cert=(str(certs.client_cert), str(certs.client_key)) if client_certificates
                            else None)


def prometheus_config(url: str, target: str, directory: Path, certs: Certificates) -> str:
    (directory / "read-token").write_text(READ_TOKEN + "\n")
    (directory / "password").write_text(PASSWORD + "\n")
    (directory / "wrong-password").write_text("not-the-password\n")
    tls = (f"    tls_config:\n      ca_file: {certs.ca}\n      cert_file: {certs.client_cert}\n"
           f"      key_file: {certs.client_key}\n")
    queue = "    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n      max_backoff: 1s\n"
    return f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: secure
    static_configs:
      - targets: ["{target}"]
remote_write:
  - url: {url}/api/v1/write
    name: right
    basic_auth:
      username: prometheus
      password_file: {directory / "password"}
{tls}{queue}  - url: {url}/api/v1/write
    name: wrong
    basic_auth:
      username: prometheus
      password_file: {directory / "wrong-password"}
{tls}{queue}remote_read:
  - url: {url}/api/v1/read
    read_recent: true
    authorization:
      type: Bearer
      credentials_file: {directory / "read-token"}
{tls}"""


def metric_value(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{name}\{{[^}}]*{labels}[^}}]*\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def scraped_up_samples(db) -> int:
    """Samples of the scraped job's `up` in PostgreSQL (its view exists once the metric does)."""
    if db.execute("SELECT to_regclass('prom_metric.up')").fetchone()[0] is None:
        return 0
    return db.execute("SELECT count(*) FROM prom_metric.up WHERE labels ->> 'job' = 'secure'"
                      ).fetchone()[0]


def wait_for(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_prometheus_remote_write_and_read_over_tls_with_credentials(pg_cluster, db_name, db, tmp_path):
    certs = make_certificates(tmp_path / "certs")
    node = NodeExporter()
    node.start()
    try:
        with secured_connector(pg_cluster.uri(db_name, "promscale_writer"), tmp_path, certs) as connector:
            tls = {"verify": str(certs.ca), "cert": (str(certs.client_cert), str(certs.client_key))}
            # a series only the connector holds: Prometheus can only answer it through remote_read
            now_ms = int(time.time() * 1000)
            body = encode(write_request([({"__name__": "secure_only_here", "job": "direct"},
                                          [(now_ms - 60_000 + 15_000 * k, float(k)) for k in range(4)])]))
            write_headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                             "X-Prometheus-Remote-Write-Version": "0.1.0"}
            denied = requests.post(connector.url + "/api/v1/write", data=body, timeout=30, **tls,
                                   headers={**write_headers, "Authorization": "Bearer " + READ_TOKEN})
            assert denied.status_code == 403
            response = requests.post(connector.url + "/api/v1/write", data=body, timeout=30, **tls,
                                     headers={**write_headers, "Authorization": "Bearer " + WRITE_TOKEN})
            assert response.status_code == 204, response.text
            # without a client certificate the TLS handshake fails: no request reaches the connector
            with pytest.raises(requests.exceptions.SSLError):
                requests.get(connector.url + "/healthz", verify=str(certs.ca), timeout=10)
            # a client that does not trust the connector's CA refuses it
            with pytest.raises(requests.exceptions.SSLError):
                requests.get(connector.url + "/healthz", verify=str(certs.other_ca), timeout=10,
                             cert=tls["cert"])

            prom = Prometheus(prometheus_config(connector.url, f"127.0.0.1:{node.port}", tmp_path, certs))
            prom.start()
            try:
                # remote_write with basic_auth: the scraped samples arrive
                wait_for(lambda: scraped_up_samples(db) >= 3, "scraped samples in PostgreSQL")
                # the entry with the wrong password is refused (401, which Prometheus does not retry)
                metrics = wait_for(lambda: (lambda t: t if metric_value(
                    t, "prometheus_remote_storage_samples_failed_total", 'remote_name="wrong"') > 0 else None)(
                    requests.get(prom.url + "/metrics", timeout=10).text), "the wrong entry's failures")
                assert metric_value(metrics, "prometheus_remote_storage_samples_failed_total",
                                    'remote_name="right"') == 0
                # remote_read with a bearer token: Prometheus answers from the connector's data
                result = prom.api("query", query="secure_only_here[5m]", time=f"{now_ms / 1000:.3f}")["result"]
                assert [[float(v) for _, v in s["values"]] for s in result] == [[0.0, 1.0, 2.0, 3.0]]
            finally:
                prom.remove()
            log = connector.log_tail(400)
    finally:
        node.remove()
    assert not any(secret in log for secret in SECRETS)


def exporter_session() -> requests.Session:
    """A session that keeps the exporter's certificate_file: with trust_env, requests lets
    REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's verify (psf/requests#3829)."""
    session = requests.Session()
    session.trust_env = False
    return session


def wait_for_port(port: int) -> None:
    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_for(listening, f"port {port}", timeout=30)


def test_otel_exporters_over_tls_with_tokens(pg_cluster, db_name, db, tmp_path):
    certs = make_certificates(tmp_path / "certs")
    grpc_port = free_port()
    with secured_connector(pg_cluster.uri(db_name, "promscale_writer"), tmp_path, certs, grpc_port) as connector:
        wait_for_port(grpc_port)
        client_tls = {"certificate_file": str(certs.ca), "client_certificate_file": str(certs.client_cert),
                      "client_key_file": str(certs.client_key)}
        http_url = connector.url + "/v1/traces"
        run_workload(HttpExporter(endpoint=http_url, headers={"Authorization": "Bearer " + WRITE_TOKEN},
                                  timeout=10, session=exporter_session(), **client_tls), tag="http")

        def grpc_credentials() -> grpc.ChannelCredentials:
            return grpc.ssl_channel_credentials(certs.ca.read_bytes(), certs.client_key.read_bytes(),
                                                certs.client_cert.read_bytes())

        sent = run_workload(GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", credentials=grpc_credentials(),
                                         headers={"authorization": "Bearer " + WRITE_TOKEN}, timeout=30), tag="grpc")
        assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 14

        # a wrong token, a role that may not write, no token: refused on both transports, nothing stored
        for headers in ({"authorization": "Bearer " + WRITE_TOKEN + "x"}, {"authorization": "Bearer " + READ_TOKEN},
                        {}):
            http = HttpExporter(endpoint=http_url, headers=headers, timeout=10, session=exporter_session(),
                                **client_tls)
            assert http.export(sent) == SpanExportResult.FAILURE
            over_grpc = GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", credentials=grpc_credentials(),
                                     headers=headers, timeout=10)
            assert over_grpc.export(sent) == SpanExportResult.FAILURE
        assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 14

        # the Jaeger API needs the read role
        tls = {"verify": str(certs.ca), "cert": (str(certs.client_cert), str(certs.client_key))}
        assert requests.get(connector.url + "/api/services", timeout=10, **tls).status_code == 401
        assert requests.get(connector.url + "/api/services", timeout=10, **tls,
                            headers={"Authorization": "Bearer " + WRITE_TOKEN}).status_code == 403
        services = requests.get(connector.url + "/api/services", timeout=10, **tls,
                                headers={"Authorization": "Bearer " + READ_TOKEN}).json()["data"]
        assert "frontend-grpc" in services and "frontend-http" in services
        # gRPC without a client certificate: the handshake fails, the export with it
        no_client_cert = GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", timeout=5,
                                      credentials=grpc.ssl_channel_credentials(certs.ca.read_bytes()),
                                      headers={"authorization": "Bearer " + WRITE_TOKEN})
        assert no_client_cert.export(sent) == SpanExportResult.FAILURE
        metrics = requests.get(connector.url + "/metrics", timeout=10, **tls,
                               headers={"Authorization": "Bearer " + READ_TOKEN}).text
        log = connector.log_tail(400)
    assert not any(secret in metrics or secret in log for secret in SECRETS)
    assert metric_value(metrics, "promscale_errors_total", 'kind="unauthorized"') >= 1
