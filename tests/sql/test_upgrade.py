"""ALTER EXTENSION promscale UPDATE: the mechanism every release relies on.

Builds a next version from the current sources into the test overlay, installs
the current version, stores data, and updates: migrations must not re-run, data
must survive, and sessions must switch to the new Python modules.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

import build_extension
import pgcluster

NEXT = "99.0.0-upgrade-test"


@pytest.fixture
def next_version_installed(pg_cluster):
    extension_dir = Path(pg_cluster.bindir).parents[3] / Path(pgcluster.pg_config("--sharedir")).relative_to("/usr") / "extension"
    current = build_extension.control_version()
    written = build_extension.build(extension_dir, NEXT, [current])
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
