"""Fixtures for trace tests: the connector served over real HTTP and gRPC sockets, so the
OpenTelemetry SDK's exporters talk to it exactly as they would in production."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from pyconnector import Config, create_app
from pyconnector.otlp.grpc_server import create_server


@pytest.fixture
def trace_config(pg_cluster, db_name, tmp_path) -> Config:
    return Config(db_uri=pg_cluster.uri(db_name, "promscale_writer"), telemetry_dir=str(tmp_path / "telemetry"),
                  max_body_bytes=1 << 20, max_decoded_bytes=4 << 20, otlp_grpc_listen="127.0.0.1:0", threads=4)


@pytest.fixture
def connector(trace_config):
    return create_app(trace_config)


@pytest.fixture
def http_url(connector) -> Iterator[str]:
    """Base URL of the connector served by a threaded werkzeug server."""
    server = make_server("127.0.0.1", 0, connector, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def grpc_endpoint(trace_config) -> Iterator[str]:
    server, port = create_server(trace_config)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None).wait()
