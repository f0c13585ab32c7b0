"""ALTER EXTENSION promscale UPDATE: the mechanism every release relies on.

From each release kept in sql/released/ (the latest one at least): an update to the
current version must give the schema of a fresh install, keep data and switch
sessions to the new Python modules. And from the current version to a next one built
from the same sources: migrations must not re-run.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

import build_extension
import pgcluster
from support import privileges
from support.schema import differences, snapshot

NEXT = "99.0.0-upgrade-test"
KEPT_RELEASES = [r.version for r in build_extension.read_releases(build_extension.ROOT)
                 if build_extension.released_script(build_extension.ROOT, r.version).exists()]


def extension_dir(pg_cluster) -> Path:
    return Path(pg_cluster.bindir).parents[3] / Path(pgcluster.pg_config("--sharedir")).relative_to("/usr") / "extension"


@pytest.fixture
def released_installable(pg_cluster):
    """The install scripts of the kept releases, in the test overlay for CREATE EXTENSION ... VERSION."""
    written = []
    for version in KEPT_RELEASES:
        target = extension_dir(pg_cluster) / f"promscale--{version}.sql"
        # (the current version's own script is the built one, equal to the kept one when it is released;
        # any other file of a released version in the overlay is left over from an older build)
        if version != build_extension.control_version():
            target.write_text(build_extension.released_script(build_extension.ROOT, version).read_text())
            target.chmod(0o644)
            written.append(target)
    yield
    for path in written:
        path.unlink()


@pytest.fixture
def empty_db(pg_cluster):
    """A database without the extension, dropped after the test."""
    name = "promscale_upgrade_test"
    with psycopg.connect(pg_cluster.uri(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
        try:
            with psycopg.connect(pg_cluster.uri(name), autocommit=True) as conn:
                yield conn
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_the_latest_release_is_kept():
    releases = build_extension.read_releases(build_extension.ROOT)
    assert releases, "sql/released-versions lists no release"
    assert releases[-1].version in KEPT_RELEASES


@pytest.mark.parametrize("released", KEPT_RELEASES)
def test_update_from_release_gives_the_schema_of_a_fresh_install(released, released_installable, empty_db, db):
    empty_db.execute(f"CREATE EXTENSION promscale VERSION '{released}' CASCADE")
    assert empty_db.execute("SELECT prom_api.python_version()").fetchone()[0] == released
    empty_db.execute("ALTER EXTENSION promscale UPDATE")
    current = build_extension.control_version()
    assert empty_db.execute("SELECT extversion FROM pg_extension WHERE extname = 'promscale'").fetchone()[0] == current
    upgraded, fresh = snapshot(empty_db), snapshot(db)
    assert differences(upgraded, fresh) == []
    # and both grant the reviewed privileges (tests/sql/data/privileges.tsv)
    assert privileges.differences(privileges.read_snapshot(), privileges.privilege_lines(empty_db)) == []
    assert fresh["migrations"] == [(path.stem,) for path in build_extension.migration_files(build_extension.ROOT)]


@pytest.mark.parametrize("released", KEPT_RELEASES)
def test_update_from_release_keeps_data_and_switches_python(released, released_installable, empty_db):
    empty_db.execute(f"CREATE EXTENSION promscale VERSION '{released}' CASCADE")
    sid = empty_db.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"kept\", \"job\": \"a\"}')").fetchone()[0]
    empty_db.execute("SELECT prom_api.put_samples(%s::bigint[], '{2024-01-01 00:00:00+00}', '{42}')", ([sid],))
    assert empty_db.execute("SELECT prom_api.python_version()").fetchone()[0] == released

    empty_db.execute("ALTER EXTENSION promscale UPDATE")

    assert empty_db.execute("SELECT prom_api.python_version()").fetchone()[0] == build_extension.control_version()
    assert empty_db.execute("SELECT value, job FROM prom_metric.kept").fetchall() == [(42.0, "a")]
    assert empty_db.execute(
        "SELECT prom_api.get_or_create_series_id('{\"__name__\": \"kept\", \"job\": \"a\"}')").fetchone()[0] == sid


@pytest.fixture
def next_version_installed(pg_cluster):
    current = build_extension.control_version()
    written = build_extension.build(extension_dir(pg_cluster), NEXT, [current])
    for path in written:
        path.chmod(0o644)
    yield current
    for path in written:
        path.unlink()


def test_update_keeps_data_and_switches_python(pg_cluster, next_version_installed, db):
    current = next_version_installed
    db.execute("DROP EXTENSION promscale CASCADE")
    db.execute(f"CREATE EXTENSION promscale VERSION '{current}'")
    sid = db.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"kept\", \"job\": \"a\"}')").fetchone()[0]
    db.execute("SELECT prom_api.put_samples(%s::bigint[], '{2024-01-01 00:00:00+00}', '{42}')", ([sid],))
    migrations = db.execute("SELECT name, applied_at_version FROM _ps_catalog.migration ORDER BY 1").fetchall()
    assert db.execute("SELECT prom_api.python_version()").fetchone()[0] == current

    db.execute(f"ALTER EXTENSION promscale UPDATE TO '{NEXT}'")

    assert db.execute("SELECT extversion FROM pg_extension WHERE extname = 'promscale'").fetchone()[0] == NEXT
    # this session had the old modules loaded; it must now run the new ones
    assert db.execute("SELECT prom_api.python_version()").fetchone()[0] == NEXT
    assert db.execute("SELECT name, applied_at_version FROM _ps_catalog.migration ORDER BY 1").fetchall() == migrations
    assert db.execute("SELECT value, job FROM prom_metric.kept").fetchall() == [(42.0, "a")]
    assert db.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"kept\", \"job\": \"a\"}')").fetchone()[0] == sid


def test_no_update_path_from_unknown_versions(db):
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        db.execute("ALTER EXTENSION promscale UPDATE TO '0.0.1-never'")


@pytest.mark.parametrize("released", KEPT_RELEASES)
def test_views_made_before_multitenancy_get_the_visibility_filter(released, released_installable, empty_db):
    """An extension script may not replace views it does not own: the update marks them stale,
    maintenance (refresh_metric_views) makes them again with the filter (migration 0016), as security
    barriers (0018)."""
    empty_db.execute(f"CREATE EXTENSION promscale VERSION '{released}' CASCADE")
    empty_db.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"kept\", \"job\": \"a\"}')")
    empty_db.execute("ALTER EXTENSION promscale UPDATE")
    definition = "SELECT definition FROM pg_views WHERE schemaname = 'prom_series' AND viewname = 'kept'"
    assert "visible_label_filter" not in empty_db.execute(definition).fetchone()[0]
    assert empty_db.execute("SELECT views_stale FROM _prom_catalog.metric WHERE metric_name = 'kept'").fetchone()[0]
    assert not empty_db.execute("SELECT has_table_privilege('prom_tenant_reader', 'prom_series.kept', 'SELECT')"
                                ).fetchone()[0]
    assert empty_db.execute("SELECT prom_api.refresh_metric_views()").fetchone()[0] == 1
    assert "visible_label_filter" in empty_db.execute(definition).fetchone()[0]
    assert empty_db.execute("SELECT has_table_privilege('prom_tenant_reader', 'prom_series.kept', 'SELECT')").fetchone()[0]
    barriers = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'kept' AND c.relkind = 'v' AND 'security_barrier=true' = ANY(c.reloptions)")
    assert empty_db.execute(barriers).fetchone()[0] == 4  # prom_series, prom_metric, both rollups (0018)


@pytest.mark.parametrize("released", KEPT_RELEASES)
def test_traces_stored_before_multitenancy_belong_to_no_tenant(released, released_installable, empty_db):
    """Spans, events, operations and packed rows (with their chunk's dictionary) stored before
    migration 0017 get the tenant '' (none): readers without tenant see them whole, packed or not;
    a tenant's readers see none of them; a tenant's identical trace is stored beside them."""
    conn = empty_db
    conn.execute(f"CREATE EXTENSION promscale VERSION '{released}' CASCADE")
    conn.execute("SELECT _ps_trace.ensure_chunks('{2024-01-01 00:00+00, 2024-03-01 00:00+00}')")
    conn.execute("INSERT INTO _ps_trace.operation (service_name, span_name, span_kind) VALUES ('shop', 'op', 2)")
    conn.execute("INSERT INTO _ps_trace.resource (service_name, attributes, dropped_attributes_count, schema_url, "
                 "digest) VALUES ('shop', '{\"service.name\": \"shop\"}', 0, '', '\\x01')")
    conn.execute("INSERT INTO _ps_trace.scope (name, version, attributes, dropped_attributes_count, schema_url, "
                 "digest) VALUES ('lib', '', '{}', 0, '', '\\x01')")
    for month in (1, 3):  # the January chunk is packed, the March one is not
        conn.execute("INSERT INTO _ps_trace.span (trace_id, span_id, start_time, end_time, start_ns, end_ns, "
                     "operation_id, resource_id, scope_id, attributes) "
                     f"VALUES ('00000000-0000-0000-0000-00000000000{month}', 1, '2024-0{month}-01 00:00+00', "
                     f"'2024-0{month}-01 00:01+00', 0, 0, 1, 1, 1, '{{}}')")
        conn.execute("INSERT INTO _ps_trace.event (trace_id, span_id, span_start_time, event_nbr, time, time_ns, name, "
                     f"attributes) VALUES ('00000000-0000-0000-0000-00000000000{month}', 1, "
                     f"'2024-0{month}-01 00:00+00', 0, '2024-0{month}-01 00:00+00', 0, 'e', '{{}}')")
    assert conn.execute("SELECT ps_trace.pack_trace_partitions('2024-02-01')").fetchone()[0] == 1

    conn.execute("ALTER EXTENSION promscale UPDATE")

    spans = "SELECT trace_id::text, tenant, service_name FROM ps_trace.span ORDER BY 1"
    assert conn.execute(spans).fetchall() == [("00000000-0000-0000-0000-000000000001", "", "shop"),
                                             ("00000000-0000-0000-0000-000000000003", "", "shop")]
    assert conn.execute("SELECT count(*) FROM ps_trace.event WHERE tenant = ''").fetchone()[0] == 2
    assert conn.execute("SELECT tenant FROM _ps_trace.operation").fetchall() == [("",)]
    assert conn.execute("SELECT tenant FROM _ps_trace.pack_dictionary").fetchall() == [("",)]
    both = "'{00000000-0000-0000-0000-000000000001, 00000000-0000-0000-0000-000000000003}'"
    assert conn.execute(f"SELECT count(*) FROM ps_trace.get_trace_spans({both})").fetchone()[0] == 2
    with conn.transaction():
        conn.execute("SELECT prom_api.set_request_tenant('team-a')")
        assert conn.execute(spans).fetchall() == []
        assert conn.execute("SELECT count(*) FROM ps_trace.get_services()").fetchone()[0] == 0
        # the same span (trace, span id, start) of a tenant: a span of its own, not a retry of the old one
        written = conn.execute(
            "SELECT ps_trace.put_spans('{shop}', '{\"{}\"}', '{0}', '{\"\"}', '{lib}', '{\"\"}', '{\"{}\"}', '{0}', "
            "'{\"\"}', '{1}', '{1}', '{00000000-0000-0000-0000-000000000003}', '{1}', '{0}', '{\"\"}', '{0}', "
            "'{op}', '{2}', '{2024-03-01 00:00+00}', '{0}', '{2024-03-01 00:01+00}', '{0}', '{\"{}\"}', '{0}', '{0}', "
            "'{0}', '{0}', '{\"\"}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', "
            "'{}', '{}')").fetchone()[0]
        assert written == 1
        assert conn.execute(spans).fetchall() == [("00000000-0000-0000-0000-000000000003", "team-a", "shop")]
    assert conn.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == 2
