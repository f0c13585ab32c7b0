"""The PL/Python module loader, with the plpy stub standing in for the database."""

from __future__ import annotations

import sys

import pytest

from plpy_stub import PlpyStub
from promscale import _loader


@pytest.fixture
def modules():
    """Module table rows the stub serves; tests edit them to simulate an upgrade."""
    return {
        "promscale": (True, '__version__ = "1.0.0"\n'),
        "promscale.greeting": (False, "def hello(name):\n    return f'hello {name} from ' + VERSION\nVERSION = 'v1'\n"),
    }


@pytest.fixture
def plpy(modules):
    stub = PlpyStub()
    state = {"extversion": "1.0.0"}
    stub.state = state
    stub.on("pg_extension", lambda: [{"extversion": state["extversion"]}])
    stub.on("_ps_catalog.python_module",
            lambda: [{"name": n, "is_package": p, "source": s} for n, (p, s) in modules.items()])
    yield stub
    for name in [n for n in sys.modules if n == "promscale" or n.startswith("promscale.")]:
        del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _loader.ModuleTableFinder)]
    import promscale  # noqa: F401  - restore the source-tree package for other tests


def test_modules_are_imported_from_the_table(plpy):
    GD: dict = {}
    runtime = _loader.install(plpy, GD)
    assert GD["promscale"] is runtime
    module = runtime.module(plpy, "promscale.greeting")
    assert module.hello("db") == "hello db from v1"
    assert module.__file__ == "<promscale>/promscale/greeting.py"


def test_an_upgrade_in_another_session_reloads_the_modules(plpy, modules):
    runtime = _loader.install(plpy, {})
    assert runtime.module(plpy, "promscale.greeting").VERSION == "v1"
    modules["promscale"] = (True, '__version__ = "1.1.0"\n')
    modules["promscale.greeting"] = (False, "VERSION = 'v2'\n")
    plpy.state["extversion"] = "1.1.0"
    assert runtime.module(plpy, "promscale.greeting").VERSION == "v2"
    assert runtime.loaded_version == "1.1.0"


def test_skewed_code_is_refused_with_a_clear_message(plpy, modules):
    runtime = _loader.install(plpy, {})
    plpy.state["extversion"] = "2.0.0"  # the table still holds 1.0.0 code
    with pytest.raises(plpy.Error, match="ALTER EXTENSION promscale UPDATE"):
        runtime.module(plpy, "promscale.greeting")


def test_missing_package_is_an_error(plpy, modules):
    del modules["promscale"]
    with pytest.raises(plpy.Error, match="reinstall"):
        _loader.install(plpy, {})


def test_tracebacks_show_module_source(plpy, modules):
    modules["promscale.broken"] = (False, "def fail():\n    raise ValueError('boom')\n")
    runtime = _loader.install(plpy, {})
    import traceback

    with pytest.raises(ValueError) as info:
        runtime.module(plpy, "promscale.broken").fail()
    assert "raise ValueError('boom')" in "".join(traceback.format_tb(info.tb))


def test_embedded_modules_import_without_the_database():
    """What the parallel-safe decoders do: import from sources carried in the function body,
    with no plpy at all, under a private package that a second function body shares."""
    sources = {
        "promscale": (True, '__version__ = "1.0.0"\n'),
        "promscale.codec": (True, "from .inner import VALUE\n"),
        "promscale.codec.inner": (False, "VALUE = 'embedded'\n"),
    }
    try:
        codec = _loader.import_embedded(sources, "promscale.codec")
        assert codec.VALUE == "embedded"
        assert codec.__name__.startswith("_promscale_embedded_") and "promscale.codec" not in sys.modules
        assert _loader.import_embedded(dict(sources), "promscale.codec") is codec
        newer = dict(sources, **{"promscale.codec.inner": (False, "VALUE = 'upgraded'\n")})
        assert _loader.import_embedded(newer, "promscale.codec").VALUE == "upgraded"
        assert codec.VALUE == "embedded"
    finally:
        for name in [n for n in sys.modules if n.startswith("_promscale_embedded_")]:
            del sys.modules[name]
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _loader.ModuleTableFinder)]


def test_build_embeds_modules_into_function_bodies():
    import build_extension

    modules = [("promscale", True, "V = 1\n"), ("promscale._loader", False, "L = 1\n"),
               ("promscale.codec", True, "C = 1\n"), ("promscale.codec.values", False, "X = 1\n"),
               ("promscale.promql", True, "P = 1\n")]
    sql = "AS $python$\nif True:\n    sources = {}  # promscale-embed: promscale.codec\n$python$"
    body = build_extension.embed_modules(sql, modules).split("\n")[2]
    assert body.startswith("    sources = {") and body.endswith("  # promscale-embed: promscale.codec")
    embedded = eval(body.split(" = ", 1)[1].split("  #")[0])
    assert sorted(embedded) == ["promscale", "promscale._loader", "promscale.codec", "promscale.codec.values"]
    with pytest.raises(SystemExit, match="unknown module"):
        build_extension.embed_modules(sql.replace("promscale.codec", "promscale.nothing"), modules)
