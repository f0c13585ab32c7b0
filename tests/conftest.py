"""Fixtures for tests that need PostgreSQL: one cluster per run, one database per test.

A database test that cannot reach its database fails; nothing here skips.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor

from support.postgres import remove_cluster, start_cluster
from support.scale_catalog import build_catalog

TEMPLATE_DB = "promscale_template"
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = start_cluster()
    yield cluster
    remove_cluster(cluster)


def create_extension(host: str, port: int, user: str, dbname: str, password: str | None = None, **_: object) -> None:
    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION promscale CASCADE")
        conn.execute("CREATE ROLE promscale_writer LOGIN IN ROLE prom_writer")
        conn.execute("CREATE ROLE promscale_reader LOGIN IN ROLE prom_reader")


@pytest.fixture(scope="session")
def promscale_template(pg_cluster) -> Iterator[str]:
    janitor = DatabaseJanitor(user="postgres", host=pg_cluster.host, port=pg_cluster.port,
                              dbname=TEMPLATE_DB, as_template=True)
    with janitor:
        janitor.load(create_extension)
        yield TEMPLATE_DB


def _database_from_template(pg_cluster, template: str) -> Iterator[str]:
    name = f"promscale_test_{next(_db_numbers)}"
    janitor = DatabaseJanitor(user="postgres", host=pg_cluster.host, port=pg_cluster.port,
                              dbname=name, template_dbname=template)
    with janitor:
        # CREATE DATABASE ... TEMPLATE does not copy per-database settings; give the clone
        # the ones CREATE EXTENSION set on the template (search_path)
        with psycopg.connect(pg_cluster.uri(name), autocommit=True) as conn:
            settings = conn.execute(
                "SELECT unnest(setconfig) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                "WHERE d.datname = %s AND s.setrole = 0", (template,)).fetchall()
            for (setting,) in settings:
                key, value = setting.split("=", 1)
                conn.execute(f'ALTER DATABASE "{name}" SET {key} = {value}')
        yield name


@pytest.fixture
def db_name(pg_cluster, promscale_template) -> Iterator[str]:
    """A fresh database with the extension installed, dropped after the test."""
    yield from _database_from_template(pg_cluster, promscale_template)


@pytest.fixture(scope="module")
def module_db_uri(pg_cluster, promscale_template) -> Iterator[str]:
    """A database with the extension shared by one test module, for data costly to build."""
    for name in _database_from_template(pg_cluster, promscale_template):
        yield pg_cluster.uri(name)


@pytest.fixture(scope="module")
def scale_db_uri(pg_cluster, promscale_template) -> Iterator[str]:
    """A database shared by one test module, holding a catalog of 100,000 series built in SQL
    (tests/support/scale_catalog.py). Tests must not change what the catalog holds."""
    for name in _database_from_template(pg_cluster, promscale_template):
        uri = pg_cluster.uri(name)
        with psycopg.connect(uri, autocommit=True) as conn:
            build_catalog(conn)
        yield uri


@pytest.fixture
def db_uri(pg_cluster, db_name) -> str:
    """Superuser URI of the test database."""
    return pg_cluster.uri(db_name)


@pytest.fixture
def db(db_uri) -> Iterator[psycopg.Connection]:
    """Autocommit superuser connection to a fresh promscale database."""
    with psycopg.connect(db_uri, autocommit=True) as conn:
        yield conn
