"""Import the extension's Python modules from ``_ps_catalog.python_module``.

PL/Python runs the server's Python, which cannot see this repository. The
install script stores every module of the ``promscale`` package in a table;
``_ps_catalog.python_bootstrap()`` compiles this file's source and calls
:func:`install`, which puts a finder for those rows in front of ``sys.meta_path``.

The installed extension version is checked on every entry (one cached SPI
query): after ``ALTER EXTENSION promscale UPDATE`` a long-lived session drops
its old modules and imports the new ones instead of running stale code.

Functions that run in parallel workers cannot use this loader: PL/Python wraps
every SPI call in a subtransaction, which PostgreSQL refuses in parallel mode
(and PL/Python 15 raises that error from outside its error handling, which
corrupts the interpreter). Their bodies carry the sources they need, embedded
by tools/build_extension.py, and import them with :func:`import_embedded`.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import linecache
import sys
from typing import Any

PACKAGE = "promscale"
_VERSION_QUERY = "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'promscale'"
_MODULES_QUERY = "SELECT name, is_package, source FROM _ps_catalog.python_module"


class ModuleTableFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads ``promscale.*`` modules from sources held in memory."""

    def __init__(self, sources: dict[str, tuple[bool, str]]):
        self.sources = sources

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        entry = self.sources.get(fullname)
        if entry is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=_filename(fullname), is_package=entry[0])

    def create_module(self, spec: Any) -> None:
        return None  # default module creation

    def exec_module(self, module: Any) -> None:
        name = module.__name__
        is_package, source = self.sources[name]
        filename = _filename(name)
        module.__file__ = filename
        if is_package:
            module.__path__ = []
        # tracebacks from PL/Python then show the offending source lines
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)


def _filename(module_name: str) -> str:
    return f"<promscale>/{module_name.replace('.', '/')}.py"


class Runtime:
    """What the SQL shims reach through ``GD['promscale']``."""

    def __init__(self, plpy: Any):
        self._version_plan = plpy.prepare(_VERSION_QUERY)
        self.loaded_version: str | None = None
        self._finder: ModuleTableFinder | None = None
        self.reload(plpy)

    def reload(self, plpy: Any) -> None:
        sources = {row["name"]: (row["is_package"], row["source"]) for row in plpy.execute(_MODULES_QUERY)}
        if PACKAGE not in sources:
            plpy.error("promscale: _ps_catalog.python_module holds no 'promscale' package; reinstall the extension")
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        if self._finder is not None and self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._finder = ModuleTableFinder(sources)
        sys.meta_path.insert(0, self._finder)
        self.loaded_version = importlib.import_module(PACKAGE).__version__

    def module(self, plpy: Any, name: str) -> Any:
        """Import ``name`` after making sure the code matches the installed extension."""
        rows = plpy.execute(self._version_plan)
        installed = rows[0]["extversion"] if rows else None
        if installed != self.loaded_version:
            self.reload(plpy)
            if installed is not None and installed != self.loaded_version:
                plpy.error(
                    f"promscale: the PL/Python modules are version {self.loaded_version} but the installed "
                    f"extension is {installed}; run ALTER EXTENSION promscale UPDATE"
                )
        return importlib.import_module(name)


def install(plpy: Any, GD: dict) -> Runtime:
    runtime = Runtime(plpy)
    GD["promscale"] = runtime
    return runtime


def import_embedded(sources: dict[str, tuple[bool, str]], name: str) -> Any:
    """Import ``name`` (a ``promscale.*`` module) from ``sources``, the modules a function body
    carries, without SPI. They live under a private package named after a digest of their
    sources, so they never mix with the table's modules, and a session that outlives an
    upgrade imports the new sources under a new name."""
    digest = hashlib.sha1(repr(sorted(sources.items())).encode()).hexdigest()[:12]
    root = f"_promscale_embedded_{digest}"
    if not any(isinstance(f, ModuleTableFinder) and root in f.sources for f in sys.meta_path):
        renamed = {root + n[len(PACKAGE):]: entry for n, entry in sources.items()
                   if n == PACKAGE or n.startswith(PACKAGE + ".")}
        sys.meta_path.append(ModuleTableFinder(renamed))
    return importlib.import_module(root + name[len(PACKAGE):])
