"""The SQL contract that tools/build_extension.py enforces (docs/development.md), on copies
of this repository's sources: each rule broken once, and the repository itself keeping it."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

import build_extension
from build_extension import ContractError, check_contract, check_version_sources

ROOT = build_extension.ROOT


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of the sources the build reads, with only released migrations: the tests add
    their own after the last released one (the working tree's unreleased ones are left out)."""
    for name in ("sql", "extension"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    released = (tmp_path / "sql" / "released-versions").read_text()
    for migration in (tmp_path / "sql" / "migrations").glob("*.sql"):
        if f" {migration.name} " not in released:
            migration.unlink()
    for name in ("promscale.control", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def migrations(repo: Path) -> list[Path]:
    return sorted((repo / "sql" / "migrations").glob("*.sql"))


def last_released_migration(repo: Path) -> Path:
    """The newest migration a release lists (unreleased ones may follow it on a development branch)."""
    released = [name for release in build_extension.read_releases(repo) for name in release.migrations]
    return repo / "sql" / "migrations" / max(released)


def unreleased_migrations(repo: Path) -> list[str]:
    released = {name for release in build_extension.read_releases(repo) for name in release.migrations}
    return [p.name for p in migrations(repo) if p.name not in released]


def next_number(repo: Path) -> str:
    return f"{len(migrations(repo)) + 1:04d}"


def set_version(repo: Path, version: str) -> None:
    control = repo / "promscale.control"
    control.write_text(re.sub(r"default_version = '[^']*'", f"default_version = '{version}'", control.read_text()))
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(re.sub(r'^version = "[^"]*"', f'version = "{version}"', pyproject.read_text(), flags=re.M))


def problems(repo: Path, version: str | None = None) -> str:
    with pytest.raises(ContractError) as raised:
        check_contract(repo, version)
    return "\n".join(raised.value.problems)


# --- the repository ---

def test_the_repository_keeps_the_contract():
    check_contract(ROOT, check_version_sources(ROOT))


def test_one_version_source():
    """promscale.control's default_version is the version; the build checks pyproject.toml
    against it and stamps it into the PL/Python package; the connector accepts it."""
    version = build_extension.control_version()
    with (ROOT / "pyproject.toml").open("rb") as f:
        assert tomllib.load(f)["project"]["version"] == version
    assert f'__version__ = "{version}"' in dict(
        (name, source) for name, _, source in build_extension.python_modules(ROOT, version))["promscale"]
    import pyconnector

    assert pyconnector.__version__ == version  # what /healthz reports as connector_version
    assert version.startswith(pyconnector.COMPATIBLE_EXTENSION + ".")


def test_connector_version_without_package_metadata(monkeypatch):
    """A checkout run without installing the package reads pyproject.toml."""
    import importlib.metadata

    import pyconnector

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert pyconnector._version() == build_extension.control_version()


def test_every_migration_of_the_repository_runs_in_number_order():
    names = [path.name for path in build_extension.migration_files(ROOT)]
    assert names == sorted(names)
    assert [int(name[:4]) for name in names] == list(range(1, len(names) + 1))


# --- names and numbers ---

@pytest.mark.parametrize("name", ["13-x.sql", "0013_x.sql", "0013-X.sql", "0013-x.SQL", "0013-.sql", "x.sql",
                                  "0013-x-.sql", "0013-x"])
def test_badly_named_migration_is_refused(repo, name):
    (repo / "sql" / "migrations" / name).write_text("SELECT 1;\n")
    assert f"sql/migrations/{name}: not a valid name" in problems(repo)


def test_badly_named_idempotent_file_is_refused(repo):
    (repo / "sql" / "idempotent" / "0500-x.sql").write_text("SELECT 1;\n")
    assert "sql/idempotent/0500-x.sql: not a valid name" in problems(repo)


@pytest.mark.parametrize("statement", ["CREATE TYPE prom_api.t AS (a int);", "    create operator prom_api.=== (",
                                       "CREATE UNIQUE INDEX i ON t (a);", "CREATE TABLE t (a int);"])
def test_state_created_by_an_idempotent_file_is_refused(repo, statement):
    labels = repo / "sql" / "idempotent" / "020-labels.sql"
    labels.write_text(labels.read_text() + "\nDO $$\nBEGIN\n" + statement + "\nEND\n$$;\n")
    assert "sql/idempotent/020-labels.sql:" in problems(repo)
    assert "in a file that reruns on every upgrade: state belongs in a migration" in problems(repo)


def test_duplicate_migration_number_is_refused(repo):
    number = next_number(repo)
    (repo / "sql" / "migrations" / f"{number}-one.sql").write_text("SELECT 1;\n")
    (repo / "sql" / "migrations" / f"{number}-two.sql").write_text("SELECT 2;\n")
    assert f"number {number} is also sql/migrations/{number}-one.sql" in problems(repo)


def test_duplicate_idempotent_number_is_refused(repo):
    (repo / "sql" / "idempotent" / "020-more-labels.sql").write_text("SELECT 1;\n")
    assert "number 020 is also sql/idempotent/020-labels.sql" in problems(repo)


def test_gap_in_the_migration_sequence_is_refused(repo):
    number = int(next_number(repo))
    (repo / "sql" / "migrations" / f"{number + 1:04d}-skipped-one.sql").write_text("SELECT 1;\n")
    assert f"without gaps; missing [{number}]" in problems(repo)


def test_a_new_migration_takes_the_next_number(repo):
    set_version(repo, "99.0.0")
    (repo / "sql" / "migrations" / f"{next_number(repo)}-new-table.sql").write_text("SELECT 1;\n")
    check_contract(repo, "99.0.0")


def test_unreleased_migration_numbered_before_a_released_one_is_refused(repo):
    """The case of the old per-domain numbers: it would run earlier on install than on upgrade."""
    for name in unreleased_migrations(repo):  # this case is about released ones only
        (repo / "sql" / "migrations" / name).unlink()
    last = last_released_migration(repo)
    shifted = last.with_name(f"{next_number(repo)}-{last.name[5:]}")
    last.rename(shifted)
    released = repo / "sql" / "released-versions"
    released.write_text(released.read_text().replace(last.name, shifted.name))
    (repo / "sql" / "migrations" / last.name.replace(last.name[5:], "sneaked-in.sql")).write_text("SELECT 1;\n")
    found = problems(repo)
    assert "sneaked-in.sql" in found and f"numbered before released migration {shifted.name[:4]}" in found


# --- released migrations and scripts are frozen ---

def test_edited_released_migration_is_refused(repo):
    first = migrations(repo)[0]
    first.write_text(first.read_text() + "-- a harmless comment is still an edit\n")
    assert f"sql/migrations/{first.name}: released in 0.1.0, but edited since" in problems(repo)


@pytest.mark.parametrize("change", ["delete", "rename"])
def test_deleted_or_renamed_released_migration_is_refused(repo, change):
    last = last_released_migration(repo)
    if change == "delete":
        last.unlink()
    else:
        last.rename(last.with_name(last.name.replace(".sql", "-renamed.sql")))
    assert f"sql/migrations/{last.name}: released in 0.1.0, but missing or renamed" in problems(repo)


def test_edited_released_install_script_is_refused(repo):
    script = repo / "sql" / "released" / "promscale--0.1.0.sql"
    script.write_text(script.read_text() + "\n")
    assert "sql/released/promscale--0.1.0.sql: edited since its release" in problems(repo)


def test_missing_install_script_of_the_latest_release_is_refused(repo):
    (repo / "sql" / "released" / "promscale--0.1.0.sql").unlink()
    assert "sql/released/promscale--0.1.0.sql: the install script of the latest release is missing" in problems(repo)


def test_malformed_released_versions_line_is_refused(repo):
    released = repo / "sql" / "released-versions"
    released.write_text(released.read_text() + "0.2.0\n")
    assert "sql/released-versions:" in problems(repo)
    assert "expected 'VERSION SHA256'" in problems(repo)


# --- versions ---

def test_building_a_version_older_than_a_release_is_refused(repo):
    assert "version 0.0.9 must be newer than the latest release, 0.1.0" in problems(repo, "0.0.9")


def test_malformed_version_is_refused(repo):
    assert "is not MAJOR.MINOR.PATCH" in problems(repo, "v1")


def test_pyproject_at_another_version_is_refused(repo):
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(re.sub(r'^version = "[^"]*"', 'version = "9.9.9"', pyproject.read_text(), flags=re.M))
    with pytest.raises(ContractError, match="pyproject.toml has version '9.9.9'"):
        check_version_sources(repo)


def test_release_freezes_the_version_and_its_migrations(repo, tmp_path):
    set_version(repo, "0.2.0")
    unreleased = unreleased_migrations(repo)  # those of the development version, if any
    new = repo / "sql" / "migrations" / f"{next_number(repo)}-new-table.sql"
    new.write_text("CREATE TABLE _prom_catalog.new_table (id int);\nGRANT SELECT ON _prom_catalog.new_table TO prom_reader;\n")

    frozen = build_extension.release(repo)

    assert frozen.version == "0.2.0" and list(frozen.migrations) == [*unreleased, new.name]
    assert [r.version for r in build_extension.read_releases(repo)] == ["0.1.0", "0.2.0"]
    script = repo / "sql" / "released" / "promscale--0.2.0.sql"
    assert f"-- migration {new.stem}" in script.read_text()
    # the release build of 0.2.0 is its frozen script; upgrade scripts come from 0.1.0
    written = build_extension.build(tmp_path / "out", "0.2.0", build_extension.released_versions(repo), repo)
    assert [p.name for p in written] == ["promscale--0.2.0.sql", "promscale--0.1.0--0.2.0.sql"]
    assert written[0].read_text() == script.read_text()

    with pytest.raises(SystemExit, match="0.2.0 is already released"):
        build_extension.release(repo)
    new.write_text(new.read_text() + "-- edited\n")
    assert f"sql/migrations/{new.name}: released in 0.2.0, but edited since" in problems(repo)


def test_changing_a_released_version_without_bumping_is_refused(repo, tmp_path):
    set_version(repo, "0.2.0")
    build_extension.release(repo)
    (repo / "sql" / "migrations" / f"{next_number(repo)}-after.sql").write_text("SELECT 1;\n")
    assert "0.2.0 is released; set a new default_version" in problems(repo, "0.2.0")
    (repo / "sql" / "migrations" / f"{int(next_number(repo)) - 1:04d}-after.sql").unlink()
    (repo / "sql" / "idempotent" / "998-more.sql").write_text("SELECT 1;\n")
    with pytest.raises(ContractError, match="0.2.0 is released and its install script"):
        build_extension.build(tmp_path / "out", "0.2.0", [], repo)
    set_version(repo, "0.2.1")
    build_extension.build(tmp_path / "out", "0.2.1", ["0.1.0", "0.2.0"], repo)
