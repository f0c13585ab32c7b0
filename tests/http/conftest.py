"""Fixtures for HTTP API tests: one database per test module, the connector's WSGI app
(as the writer role, like a deployed connector) and helpers to push data."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor
from werkzeug.test import Client

from pyconnector import Config, create_app

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def module_db(pg_cluster, promscale_template) -> Iterator[str]:
    """A database of its own for one test module (cloned from the template)."""
    name = f"promscale_http_{next(_numbers)}"
    janitor = DatabaseJanitor(user="postgres", host=pg_cluster.host, port=pg_cluster.port,
                              dbname=name, template_dbname=promscale_template)
    with janitor:
        yield name


@pytest.fixture(scope="module")
def module_conn(pg_cluster, module_db) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_cluster.uri(module_db), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def api(pg_cluster, module_db, tmp_path_factory) -> Client:
    app = create_app(Config(db_uri=pg_cluster.uri(module_db, "promscale_writer"),
                            telemetry_dir=str(tmp_path_factory.mktemp("telemetry"))))
    return Client(app)
