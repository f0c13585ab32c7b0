"""The connector's layout rules (docs/architecture.md, "The connector's layout"): one package per
protocol around shared modules, one route table whose every rule has a handler, psycopg only in
db.py. Imports are read with ``ast``, so a rule broken in any module fails here."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest

from werkzeug.routing import Rule

from pyconnector import Config, create_app
from pyconnector.auth import ADMIN, PUBLIC, ROUTE_ROLES, WRITE
from pyconnector.routing import ROUTES, Route, role_of, split_endpoint

PACKAGE = Path(__file__).resolve().parents[2] / "pyconnector"
PROTOCOLS = ("prometheus", "otlp", "jaeger", "ui", "rules")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names taken from it) of every import statement of ``path``, anywhere in the
    file, relative imports resolved: ``import X`` is (X, []), ``from X import Y`` (X, [Y])."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.append((origin, [alias.name for alias in node.names]))
    return found


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports; for ``from X import Y`` both X and X.Y (Y may be a module)."""
    return {m for origin, names in imports(path) for m in (origin, *(f"{origin}.{n}" for n in names))}


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "proto" not in p.relative_to(PACKAGE).parts)


def test_the_package_has_the_protocol_packages():
    for protocol in PROTOCOLS:
        assert (PACKAGE / protocol / "__init__.py").is_file(), protocol
    assert (PACKAGE / "prometheus" / "proto" / "prometheus_remote.proto").is_file()


def test_psycopg_is_imported_by_db_py_only():
    importers = sorted(str(path.relative_to(PACKAGE)) for path in source_files()
                       if any(m == "psycopg" or m.startswith("psycopg.") for m in imported_modules(path)))
    assert importers == ["db.py"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_protocol_package_imports_another(protocol):
    others = [f"pyconnector.{other}" for other in PROTOCOLS if other != protocol]
    offending = {str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path)
                                                        if any(m == o or m.startswith(o + ".") for o in others))
                 for path in (PACKAGE / protocol).rglob("*.py")}
    assert {path: modules for path, modules in offending.items() if modules} == {}


def test_shared_modules_do_not_import_protocol_packages():
    """Only the application (app.py, which dispatches to them), the CLI and the package's
    __init__ know the protocols; db, config, telemetry and the rest serve all of them."""
    knows_protocols = {"app.py", "cli.py", "__init__.py", "__main__.py"}
    offending = {path.name: sorted(m for m in imported_modules(path)
                                   if any(m.startswith(f"pyconnector.{p}") for p in PROTOCOLS))
                 for path in PACKAGE.glob("*.py") if path.name not in knows_protocols}
    assert {name: modules for name, modules in offending.items() if modules} == {}


def test_remote_read_does_not_use_remote_write_internals():
    for name in ("read_endpoint.py", "remote_read.py"):
        modules = imported_modules(PACKAGE / "prometheus" / name)
        assert not {m for m in modules if "remote_write" in m or "write_endpoint" in m or m.endswith(".ingest")}, name


def test_every_import_of_a_connector_module_resolves():
    """Also the imports inside functions, which importing the package does not run."""
    unresolved = []
    for path in source_files():
        for origin, names in imports(path):
            if not origin.startswith("pyconnector"):
                continue
            if importlib.util.find_spec(origin) is None:
                unresolved.append(f"{path.relative_to(PACKAGE)}: {origin}")
                continue
            module = importlib.import_module(origin)
            unresolved.extend(f"{path.relative_to(PACKAGE)}: {origin}.{n}" for n in names
                              if not hasattr(module, n) and importlib.util.find_spec(f"{origin}.{n}") is None)
    assert unresolved == []


def test_the_import_rules_see_imports():
    """The checks above would pass on a parser that found nothing."""
    assert "psycopg" in imported_modules(PACKAGE / "db.py")
    assert "pyconnector.db" in imported_modules(PACKAGE / "prometheus" / "query_api.py")
    assert "pyconnector.prometheus.remote_read" in imported_modules(PACKAGE / "prometheus" / "read_endpoint.py")
    assert "pyconnector.jaeger" in imported_modules(PACKAGE / "app.py")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # the database is never reached: connections are opened by the first request
    return create_app(Config(db_uri="postgresql://nobody@127.0.0.1:1/none",
                             telemetry_dir=str(tmp_path_factory.mktemp("telemetry"))))


def test_every_route_has_a_handler_taking_its_arguments(app):
    rules = list(ROUTES.iter_rules())
    assert {split_endpoint(rule.endpoint)[0] for rule in rules} == {"connector", *PROTOCOLS}
    for rule in rules:
        protocol, name = split_endpoint(rule.endpoint)
        assert protocol in ("connector", *PROTOCOLS), rule.endpoint
        handlers, handler = app.handler(rule.endpoint)
        assert handler.__name__ == f"on_{name}", rule.endpoint
        inspect.signature(handler).bind(None, **{argument: "x" for argument in rule.arguments})


def test_every_handler_has_a_route(app):
    routed = {rule.endpoint for rule in ROUTES.iter_rules()}
    for protocol, handlers in app.protocols.items():
        names = {name[3:] for name in dir(handlers) if name.startswith("on_") and callable(getattr(handlers, name))}
        assert names, protocol
        assert {f"{protocol}.{name}" for name in names} <= routed, protocol


def test_every_protocol_has_one_error_hook(app):
    assert set(app.protocols) == {"connector", *PROTOCOLS}
    for handlers in app.protocols.values():
        parameters = list(inspect.signature(handlers.error_response).parameters)
        assert parameters == ["request", "exc"]


def test_every_route_declares_its_role():
    """app.py checks the declared role before any handler runs; a rule added without one
    would need admin (routing.role_of) and fails here."""
    undeclared = [rule.rule for rule in ROUTES.iter_rules()
                  if not isinstance(rule, Route) or rule.role not in ROUTE_ROLES]
    assert undeclared == []
    assert [rule.rule for rule in ROUTES.iter_rules() if rule.role == PUBLIC] == ["/healthz"]
    assert {rule.rule for rule in ROUTES.iter_rules() if rule.role == WRITE} == {"/write", "/api/v1/write",
                                                                               "/v1/traces"}
    assert [rule.rule for rule in ROUTES.iter_rules() if rule.role == ADMIN] == [
        "/api/v1/admin/tsdb/delete_series", "/-/reload"]


def test_a_rule_without_a_role_needs_admin():
    assert role_of(Rule("/forgotten", endpoint="connector.healthz")) == ADMIN
    with pytest.raises(ValueError, match="role 'reader' is not one of"):
        Route("/x", endpoint="connector.healthz", role="reader")


def test_every_grpc_method_declares_its_role():
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    from pyconnector.otlp.grpc_server import ROLE_OF_METHOD

    methods = {f"/{service.full_name}/{method.name}"
               for service in trace_service_pb2.DESCRIPTOR.services_by_name.values() for method in service.methods}
    assert methods and methods == set(ROLE_OF_METHOD)
    assert set(ROLE_OF_METHOD.values()) <= set(ROUTE_ROLES) - {PUBLIC}
