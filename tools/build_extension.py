#!/usr/bin/env python3
"""Build the promscale extension's install and upgrade scripts.

The extension is one SQL script per version, assembled from three sources:

* ``sql/migrations/NNN-*.sql``: run-once DDL (tables, indexes, data changes).
  Each file runs inside a PL/pgSQL block that first checks
  ``_ps_catalog.migration``, so a migration is applied exactly once whether
  the script is running as ``CREATE EXTENSION`` or ``ALTER EXTENSION UPDATE``.
  Never edit a released migration: add a new file.
* ``extension/promscale/**.py``: the PL/Python modules, embedded as rows of
  ``_ps_catalog.python_module`` so the SQL and Python of one version cannot
  skew. The package's ``__version__`` placeholder is stamped here.
* ``sql/idempotent/NNN-*.sql``: ``CREATE OR REPLACE`` definitions (functions,
  views, grants) that always hold the current truth and are re-run in full.
  A PL/Python body line ``name = {}  # promscale-embed: promscale.codec`` gets the
  sources of those modules (and of the loader) as a dict literal: functions that
  run in parallel workers cannot read the module table (see _loader.py).

Install and upgrade scripts have the same body; an upgrade script exists for
every version listed in ``sql/released-versions`` (one per line), so
``ALTER EXTENSION promscale UPDATE`` reaches the current version from any
released one.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

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
    for path in sorted((root / "sql" / "migrations").glob("*.sql")):
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


def released_versions(root: Path) -> list[str]:
    path = root / "sql" / "released-versions"
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def build(out_dir: Path, version: str, upgrade_from: list[str], root: Path = ROOT) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    body = script_body(root, version)
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
    args = parser.parse_args(argv)
    version = args.version or control_version()
    upgrade_from = args.upgrade_from if args.upgrade_from is not None else released_versions(ROOT)
    for path in build(args.out, version, upgrade_from):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
