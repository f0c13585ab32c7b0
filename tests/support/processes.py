"""Real servers for end-to-end tests as context managers yielding their base URL: a Prometheus
2.42 and the connector under gunicorn, each on a free port (support/prometheus.py and
support/connector.py run the processes)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from support.connector import ConnectorProcess
from support.prometheus import Prometheus


@contextmanager
def prometheus(config_yaml: str, *flags: str) -> Iterator[str]:
    """A Prometheus with this configuration; yields its base URL."""
    server = Prometheus(config_yaml, list(flags))
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


@contextmanager
def connector(db_uri: str, *flags: str) -> Iterator[str]:
    """The connector CLI (gunicorn, one worker unless flags say otherwise) against db_uri."""
    with ConnectorProcess(db_uri, workers=1, threads=4, extra_args=["--log-level", "warning", *flags]) as process:
        yield process.url
