#!/usr/bin/env python3
"""Build the promscale extension's install and upgrade scripts.

The extension is one SQL script per version, assembled from three sources:

* ``sql/migrations/NNNN-*.sql``: run-once DDL (types, operators, tables, indexes,
  data changes), numbered in one global sequence. Each file runs inside a PL/pgSQL
  block that first checks ``_ps_catalog.migration``, so a migration is applied
  exactly once whether the script is running as ``CREATE EXTENSION`` or
  ``ALTER EXTENSION UPDATE``, and in the same order either way.
* ``extension/promscale/**.py``: the PL/Python modules, embedded as rows of
  ``_ps_catalog.python_module`` so the SQL and Python of one version cannot
  skew. The package's ``__version__`` placeholder is stamped here.
* ``sql/idempotent/NNN-*.sql``: ``CREATE OR REPLACE`` definitions (functions,
  views, grants) that always hold the current truth and are re-run in full.
  A PL/Python body line ``name = {}  # promscale-embed: promscale.codec`` gets the
  sources of those modules (and of the loader) as a dict literal: functions that
  run in parallel workers cannot read the module table (see _loader.py).

Install and upgrade scripts have the same body; an upgrade script exists for
every version listed in ``sql/released-versions``, so ``ALTER EXTENSION
promscale UPDATE`` reaches the current version from any released one.

Before writing anything the build enforces the SQL contract (docs/development.md):
file names; no types, operators, tables... created by idempotent files; one gap-free
migration sequence; released migrations and install scripts unchanged (their SHA-256
is frozen in ``sql/released-versions``); new migrations numbered after released ones;
the version newer than every release (or the latest release itself, with nothing
added); ``pyproject.toml`` at the version of ``promscale.control``, the one version
source; every grant next to the definition of its object (``sql_grants.py``).
``--release`` freezes the current version.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sql_grants import check_privileges

ROOT = Path(__file__).resolve().parent.parent
VERSION_PLACEHOLDER = '__version__ = "0+source"'


def control_version(root: Path = ROOT) -> str:
    text = (root / "promscale.control").read_text()
    match = re.search(r"^default_version\s*=\s*'([^']+)'", text, re.M)
    if not match:
        raise SystemExit("promscale.control has no default_version")
    return match.group(1)


def dollar_quote(body: str, tag: str) -> str:
    """Quote ``body`` with a dollar tag that does not occur inside it."""
    candidate = tag
    n = 0
    while f"${candidate}$" in body:
        n += 1
        candidate = f"{tag}{n}"
    return f"${candidate}${body}${candidate}$"


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def migration_block(name: str, body: str, version: str) -> str:
    guarded = (
        f"IF NOT EXISTS (SELECT 1 FROM _ps_catalog.migration WHERE name = {sql_literal(name)}) THEN\n"
        f"{body.rstrip()}\n"
        f"INSERT INTO _ps_catalog.migration (name, applied_at_version) "
        f"VALUES ({sql_literal(name)}, {sql_literal(version)});\n"
        "END IF;"
    )
    return (
        f"-- migration {name}\n"
        f"DO {dollar_quote(chr(10) + 'BEGIN' + chr(10) + guarded + chr(10) + 'END' + chr(10), 'ps_migration')};\n"
    )


def python_modules(root: Path, version: str) -> list[tuple[str, bool, str]]:
    """(dotted name, is_package, source) for every module of the package."""
    package_dir = root / "extension" / "promscale"
    modules = []
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(root / "extension").with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        source = path.read_text()
        if is_package and len(parts) == 1:
            if VERSION_PLACEHOLDER not in source:
                raise SystemExit(f"{path} must contain the line {VERSION_PLACEHOLDER!r}")
            source = source.replace(VERSION_PLACEHOLDER, f'__version__ = "{version}"')
        modules.append((".".join(parts), is_package, source))
    return modules


def python_section(modules: list[tuple[str, bool, str]]) -> str:
    rows = []
    for name, is_package, source in modules:
        rows.append(
            f"({sql_literal(name)}, {'true' if is_package else 'false'}, {dollar_quote(source, 'ps_py')})"
        )
    return (
        "-- PL/Python modules of this version (see extension/promscale)\n"
        "DELETE FROM _ps_catalog.python_module;\n"
        "INSERT INTO _ps_catalog.python_module (name, is_package, source) VALUES\n"
        + ",\n".join(rows)
        + ";\n"
    )


EMBED_MARKER = re.compile(r"^(?P<head>\s*\w+ = )\{\}(?P<tail>  # promscale-embed: (?P<names>[\w. ]+))$", re.M)


def embed_modules(sql: str, modules: list[tuple[str, bool, str]]) -> str:
    """Expand every embed marker of ``sql`` into the sources of the modules it names, their
    submodules, the package itself and the loader."""
    by_name = {name: (is_package, source) for name, is_package, source in modules}

    def expand(match: re.Match) -> str:
        wanted = {"promscale", "promscale._loader"}
        for name in match.group("names").split():
            if name not in by_name:
                raise SystemExit(f"promscale-embed names an unknown module: {name}")
            wanted |= {n for n in by_name if n == name or n.startswith(name + ".")}
        literal = repr({n: by_name[n] for n in sorted(wanted)})
        if "$python$" in literal:
            raise SystemExit("an embedded module contains $python$, the quote of PL/Python bodies")
        return match.group("head") + literal + match.group("tail")

    return EMBED_MARKER.sub(expand, sql)


def script_body(root: Path, version: str) -> str:
    out = [
        f"-- promscale {version}: generated by tools/build_extension.py, do not edit.\n",
        '\\echo Use "CREATE EXTENSION promscale" to load this file. \\quit\n\n',
        (root / "sql" / "bootstrap.sql").read_text(),
        "\n",
    ]
    for path in migration_files(root):
        out.append(migration_block(path.stem, path.read_text(), version))
        out.append("\n")
    modules = python_modules(root, version)
    out.append(python_section(modules))
    out.append("\n")
    for path in sorted((root / "sql" / "idempotent").glob("*.sql")):
        out.append(f"-- {path.relative_to(root)}\n")
        out.append(embed_modules(path.read_text(), modules))
        out.append("\n")
    return "".join(out)


# --- the SQL contract ---

MIGRATION_NAME = re.compile(r"^(?P<number>\d{4})-[a-z0-9]+(?:-[a-z0-9]+)*\.sql$")
IDEMPOTENT_NAME = re.compile(r"^(?P<number>\d{3})-[a-z0-9]+(?:-[a-z0-9]+)*\.sql$")
# state that an idempotent file cannot create twice (CREATE OR REPLACE ... is not matched)
STATE_STATEMENT = re.compile(
    r"^\s*CREATE\s+(?:UNIQUE\s+)?(?P<kind>TYPE|OPERATOR|DOMAIN|CAST|AGGREGATE|TABLE|SEQUENCE|INDEX|SCHEMA|ROLE|TRIGGER)\b",
    re.I | re.M)
VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?:-[0-9A-Za-z.-]+)?$")
RELEASED_HEADER = """\
# The released versions of the extension, oldest first, and the migrations each one added.
# Written by `tools/build_extension.py --release` (docs/development.md); never edited by hand.
#   VERSION SHA256               a release (the build writes an upgrade script from it) and the hash of
#                                its install script, kept as sql/released/promscale--VERSION.sql
#       NNNN-name.sql SHA256     a migration it added, frozen: the build refuses any other content
"""


class ContractError(SystemExit):
    """The sources break the SQL contract; the message lists every violation."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the SQL sources break the contract (docs/development.md):\n"
                         + "\n".join(f"  - {p}" for p in problems))


@dataclass
class Release:
    version: str
    script_hash: str  # SHA-256 of its install script
    migrations: dict[str, str] = field(default_factory=dict)  # file name -> SHA-256, in order


def released_script(root: Path, version: str) -> Path:
    return root / "sql" / "released" / f"promscale--{version}.sql"


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version_key(version: str) -> tuple[int, int, int] | None:
    match = VERSION.match(version)
    return (int(match["major"]), int(match["minor"]), int(match["patch"])) if match else None


def read_releases(root: Path, problems: list[str] | None = None) -> list[Release]:
    """The releases recorded in ``sql/released-versions``; malformed lines are reported
    into ``problems`` (or raise)."""
    path = root / "sql" / "released-versions"
    own = problems is None
    problems = [] if own else problems
    releases: list[Release] = []
    if path.exists():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            hashed = len(fields) == 2 and re.fullmatch(r"[0-9a-f]{64}", fields[1])
            if not line[0].isspace() and hashed and version_key(fields[0]):
                releases.append(Release(fields[0], fields[1]))
            elif line[0].isspace() and hashed and releases:
                releases[-1].migrations[fields[0]] = fields[1]
            else:
                problems.append(f"sql/released-versions:{number}: expected 'VERSION SHA256' or an indented "
                                f"'NNNN-name.sql SHA256', not {line!r}")
    if own and problems:
        raise ContractError(problems)
    return releases


def released_versions(root: Path) -> list[str]:
    return [release.version for release in read_releases(root)]


def numbered_files(directory: Path, pattern: re.Pattern, what: str, problems: list[str]) -> list[tuple[int, Path]]:
    """(number, path) of the SQL files of ``directory``, in order; bad names and numbers
    used twice are reported."""
    files = []
    seen: dict[int, str] = {}
    for path in sorted(directory.glob("*")):
        match = pattern.match(path.name)
        if not match:
            problems.append(f"{what}/{path.name}: not a valid name (expected {pattern.pattern})")
            continue
        number = int(match["number"])
        if number in seen:
            problems.append(f"{what}/{path.name}: number {match['number']} is also {what}/{seen[number]}")
        seen[number] = path.name
        files.append((number, path))
    return files


def migration_files(root: Path) -> list[Path]:
    """The migrations in the order every install and upgrade runs them (check_contract checks them)."""
    return [path for _, path in numbered_files(root / "sql" / "migrations", MIGRATION_NAME, "sql/migrations", [])]


def check_contract(root: Path = ROOT, version: str | None = None) -> None:
    """Raise ContractError unless the SQL sources keep the contract (see docs/development.md);
    with ``version``, also check that it may be built from these sources."""
    problems: list[str] = []
    migrations = numbered_files(root / "sql" / "migrations", MIGRATION_NAME, "sql/migrations", problems)
    for _, path in numbered_files(root / "sql" / "idempotent", IDEMPOTENT_NAME, "sql/idempotent", problems):
        text = path.read_text()
        for match in STATE_STATEMENT.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"sql/idempotent/{path.name}:{line}: CREATE {match['kind'].upper()} in a file that reruns "
                            f"on every upgrade: state belongs in a migration")
    numbers = [number for number, _ in migrations]
    if numbers and sorted(set(numbers)) != list(range(1, max(numbers) + 1)):
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        problems.append(f"sql/migrations: the sequence must run 0001, 0002, ... without gaps; missing {missing}")

    releases = read_releases(root, problems)
    by_name = {path.name: (number, path) for number, path in migrations}
    released_numbers = []
    previous: Release | None = None
    for release in releases:
        if previous and not version_key(release.version) > version_key(previous.version):
            problems.append(f"sql/released-versions: {release.version} is listed after {previous.version}")
        previous = release
        script = released_script(root, release.version)
        if not script.exists():
            if release is releases[-1]:
                problems.append(f"{script.relative_to(root)}: the install script of the latest release is missing")
        elif file_hash(script) != release.script_hash:
            problems.append(f"{script.relative_to(root)}: edited since its release")
        for name, frozen in release.migrations.items():
            if name not in by_name:
                problems.append(f"sql/migrations/{name}: released in {release.version}, but missing or renamed")
                continue
            number, path = by_name[name]
            released_numbers.append(number)
            if file_hash(path) != frozen:
                problems.append(f"sql/migrations/{name}: released in {release.version}, but edited since "
                                f"(add a new migration instead)")
    problems += check_privileges(root, {name for r in releases for name in r.migrations})
    if released_numbers != sorted(released_numbers) or len(released_numbers) != len(set(released_numbers)):
        problems.append("sql/released-versions: released migrations out of order or listed twice")
    last_released = max(released_numbers, default=0)
    unreleased = [path.name for number, path in migrations if path.name not in
                  {n for r in releases for n in r.migrations}]
    early = [name for name in unreleased if by_name[name][0] < last_released]
    if early:
        problems.append(f"sql/migrations: {', '.join(early)} numbered before released migration "
                        f"{last_released:04d}: a new migration takes the next number")

    if version is not None:
        latest = releases[-1] if releases else None
        if version_key(version) is None:
            problems.append(f"version {version!r} is not MAJOR.MINOR.PATCH[-suffix]")
        elif latest and version == latest.version:
            if unreleased:
                problems.append(f"{version} is released; set a new default_version in promscale.control "
                                f"before adding {', '.join(unreleased)}")
        elif any(r.version == version for r in releases):
            problems.append(f"{version} is released and not the latest release: it cannot be built again")
        elif latest and not version_key(version) > version_key(latest.version):
            problems.append(f"version {version} must be newer than the latest release, {latest.version}")
    if problems:
        raise ContractError(problems)


def pyproject_version(root: Path = ROOT) -> str | None:
    with (root / "pyproject.toml").open("rb") as f:
        return tomllib.load(f).get("project", {}).get("version")


def check_version_sources(root: Path = ROOT) -> str:
    """The version of ``promscale.control`` (the one source), after checking that
    ``pyproject.toml`` says the same."""
    version = control_version(root)
    declared = pyproject_version(root)
    if declared != version:
        raise ContractError([f"pyproject.toml has version {declared!r}, promscale.control's default_version "
                             f"is {version!r}: the control file is the one version source, make them equal"])
    return version


def release(root: Path = ROOT) -> Release:
    """Freeze the current version: record the migrations it adds in sql/released-versions
    and keep its install script as sql/released/promscale--VERSION.sql."""
    version = check_version_sources(root)
    check_contract(root, version)
    releases = read_releases(root)
    if releases and releases[-1].version == version:
        raise SystemExit(f"{version} is already released: set a new default_version in promscale.control")
    frozen = {name for r in releases for name in r.migrations}
    new = Release(version, "", {path.name: file_hash(path) for path in migration_files(root) if path.name not in frozen})
    path = root / "sql" / "released-versions"
    text = path.read_text() if path.exists() else RELEASED_HEADER
    script = released_script(root, version)
    script.parent.mkdir(exist_ok=True)
    script.write_text(script_body(root, version))
    new = Release(version, file_hash(script), new.migrations)
    text += f"{version} {new.script_hash}\n" + "".join(f"    {name} {digest}\n" for name, digest in new.migrations.items())
    path.write_text(text)
    return new


def build(out_dir: Path, version: str, upgrade_from: list[str], root: Path = ROOT) -> list[Path]:
    check_contract(root, version)
    body = script_body(root, version)
    frozen = released_script(root, version)
    if frozen.exists() and frozen.read_text() != body:
        raise ContractError([f"{version} is released and its install script ({frozen.relative_to(root)}) is frozen: "
                             f"set a new default_version in promscale.control and pyproject.toml"])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    install = out_dir / f"promscale--{version}.sql"
    install.write_text(body)
    written.append(install)
    for old in upgrade_from:
        if old == version:
            continue
        upgrade = out_dir / f"promscale--{old}--{version}.sql"
        upgrade.write_text(body)
        written.append(upgrade)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output directory")
    parser.add_argument("--version", help="version to build (default: promscale.control)")
    parser.add_argument(
        "--upgrade-from",
        action="append",
        default=None,
        help="also write an upgrade script from this version (default: sql/released-versions)",
    )
    parser.add_argument(
        "--release",
        action="store_true",
        help="freeze the current version (sql/released-versions, sql/released/) instead of building",
    )
    args = parser.parse_args(argv)
    if args.release:
        frozen = release()
        print(f"released {frozen.version}: {len(frozen.migrations)} new migration(s) frozen in sql/released-versions, "
              f"install script kept as sql/released/promscale--{frozen.version}.sql; now set a new "
              f"default_version in promscale.control and pyproject.toml")
        return 0
    version = args.version or check_version_sources()
    upgrade_from = args.upgrade_from if args.upgrade_from is not None else released_versions(ROOT)
    for path in build(args.out, version, upgrade_from):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
