"""The connector's WSGI application: dispatch through the route table, the error hooks, and
the connector's own endpoints (/healthz, /metrics).

A request is matched in routing.ROUTES to ``<protocol>.<name>``, checked against the role its
route declares (auth.py: before any handler runs, for every route, so a route added later is
covered too) and answered by ``on_<name>`` of that protocol's handlers. What a handler raises
goes to its protocol's ``error_response`` hook, which answers in the protocol's wire format;
what no protocol claims is answered here (a missing credential: 401, a role that may not: 403,
a bad method or path, the database unavailable: 503, anything else: 500).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from typing import Any, Callable, Protocol

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from . import auth, tenancy
from . import config as config_module
from .admission import RETRY_AFTER_SECONDS, Overloaded, QuerySlots, default_query_slots
from .auth import Authenticator, Denied
from .config import Config
from .db import Database, DatabaseUnavailable
from .jaeger import Jaeger
from .otlp import Otlp
from .prometheus import Prometheus
from .replicas import ReplicatedDatabase
from .routing import ROUTES, duration_label, is_heavy, role_of, split_endpoint
from .rules import RuleFiles, Rules
from .telemetry import Telemetry
from .ui import Ui

log = logging.getLogger("pyconnector")


class Handlers(Protocol):
    """What the application needs of a protocol's handlers, besides their ``on_<name>`` methods."""

    def error_response(self, request: Request, exc: Exception) -> Response | None: ...


def text_response(status: int, message: str) -> Response:
    return Response(message.replace("\n", " ") + "\n", status=status, mimetype="text/plain")


class Connector:
    def __init__(self, config: Config):
        self.config = config
        # None: no --auth-* credentials, every route is open (AuthConfigError: unusable ones)
        self.authenticator = Authenticator.from_config(config)
        # None: --multi-tenancy is off (tenancy.py)
        self.tenancy = tenancy.Tenancy.from_config(config)
        statement_timeout_ms = config.query_timeout // 1_000_000
        if config.db_read_uri:
            # queries on the replicas, then the primary; writes on the primary (replicas.py)
            self.db: Database = ReplicatedDatabase(config.db_uri, config.db_read_uri, config.db_connect_timeout,
                                                   statement_timeout_ms=statement_timeout_ms)
        else:
            self.db = Database(config.db_uri, config.db_connect_timeout, statement_timeout_ms=statement_timeout_ms)
        if self.tenancy is not None:
            self.db.enable_tenancy()
        # queries a worker runs at a time, so ingest and /healthz keep threads (admission.py)
        self.query_slots = QuerySlots(config.query_max_concurrency or default_query_slots(config.threads))
        self.telemetry = Telemetry(config.telemetry_dir or tempfile.mkdtemp(prefix="promscale-telemetry-"))
        self.prometheus = Prometheus(config, self.db, self.telemetry)
        self.otlp = Otlp(config, self.db, self.telemetry)
        self.jaeger = Jaeger(self.db, config.query_timeout // 1_000_000)
        self.rule_files = RuleFiles(self.db, config.rules_file)
        self.rules = Rules(self.rule_files)
        from . import __version__

        self.ui = Ui(self.db, __version__)  # the web UI's pages and files (pyconnector/ui)
        # the handlers of each protocol of routing.ROUTES
        self.protocols: dict[str, Handlers] = {
            "connector": self, "prometheus": self.prometheus, "otlp": self.otlp, "jaeger": self.jaeger,
            "ui": self.ui, "rules": self.rules}

    def handler(self, endpoint: str) -> tuple[Handlers, Callable[..., Response]]:
        """The handlers of ``endpoint``'s protocol and its handler (AttributeError/KeyError if none)."""
        protocol, name = split_endpoint(endpoint)
        handlers = self.protocols[protocol]
        return handlers, getattr(handlers, "on_" + name)

    # --- WSGI ---

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        request.max_content_length = self.config.max_body_bytes
        started = time.perf_counter()
        endpoint = "other"
        identity_token = None
        tenant_token = None
        try:
            try:
                rule, args = ROUTES.bind_to_environ(environ).match(return_rule=True)
            except (NotFound, MethodNotAllowed):
                # an unauthenticated client learns nothing of the routes: 401 before 404/405
                self.authorize(request, auth.ANY)
                raise
            identity = self.authorize(request, role_of(rule))
            identity_token = auth.set_current_identity(identity)
            if (self.tenancy is not None and role_of(rule) != auth.PUBLIC and not self.is_cors_preflight(request)
                    and rule.endpoint not in tenancy.TENANT_FREE_ENDPOINTS):
                tenant = self.tenancy.resolve(identity, request.headers.get(tenancy.HEADER),
                                              self.authenticator is not None)
                self.tenancy.check_endpoint(tenant, rule.endpoint)
                tenant_token = tenancy.set_current_tenant(tenant)
            endpoint = rule.endpoint
            handlers, handler = self.handler(endpoint)
            if is_heavy(rule):
                response = self.run_admitted(request, handlers, handler, args)
            else:
                response = self.run(request, handlers, handler, args)
        except Exception as exc:
            response = self.error_response(request, exc)
        finally:
            if tenant_token is not None:
                tenancy.reset_current_tenant(tenant_token)
            if identity_token is not None:
                auth.reset_current_identity(identity_token)
        self.telemetry.observe_duration(duration_label(endpoint), time.perf_counter() - started)
        return response(environ, start_response)

    @staticmethod
    def run(request: Request, handlers: Handlers, handler: Callable[..., Response], args: dict) -> Response:
        """The handler's response, or its protocol's answer to what it raised (raised on if none)."""
        try:
            return handler(request, **args)
        except Exception as exc:
            response = handlers.error_response(request, exc)
            if response is None:
                raise
            return response

    def run_admitted(self, request: Request, handlers: Handlers, handler: Callable[..., Response],
                     args: dict) -> Response:
        """run() holding a query slot (Overloaded when none is free) until the database work is
        done: when the handler returns, or for a streamed body (a generator may still read the
        database while it is sent) when the server closes the response."""
        self.query_slots.take()
        try:
            response = self.run(request, handlers, handler, args)
        except BaseException:
            self.query_slots.release()
            raise
        if response.is_streamed:
            response.call_on_close(self.query_slots.release)
        else:
            self.query_slots.release()
        return response

    def authorize(self, request: Request, needed: str) -> auth.Identity | None:
        """The request's identity, also kept in its environ (auth.ENVIRON_KEY) for handlers;
        raises Denied when it may not call a route needing role ``needed``."""
        if self.authenticator is None:
            return None
        if needed == auth.PUBLIC or self.is_cors_preflight(request):
            needed_now = auth.PUBLIC
        else:
            needed_now = needed
        identity = self.authenticator.authorize(request.headers.get("Authorization"), needed_now, request.path)
        request.environ[auth.ENVIRON_KEY] = identity
        return identity

    def is_cors_preflight(self, request: Request) -> bool:
        """A browser's CORS preflight (OPTIONS with Access-Control-Request-Method) carries no
        credential by design, and the API answers it without data; when --cors-origins allows
        browsers at all, it passes without one."""
        return (bool(self.config.cors_origins) and request.method == "OPTIONS"
                and "Access-Control-Request-Method" in request.headers)

    def error_response(self, request: Request, exc: Exception) -> Response:
        """The answer to what no protocol's hook claimed (and the hook of the connector's own endpoints)."""
        if isinstance(exc, Denied):
            self.telemetry.error("unauthorized" if exc.status == 401 else "forbidden")
            # the client's address, never its credential
            log.info("%s %s from %s: %d", request.method, request.path, request.remote_addr, exc.status)
            response = text_response(exc.status, str(exc))
            if exc.status == 401 and self.authenticator is not None:
                for challenge in self.authenticator.challenges():
                    response.headers.add("WWW-Authenticate", challenge)
            return response
        if isinstance(exc, tenancy.TenantRefused):
            self.telemetry.error(exc.error_kind)
            log.info("%s %s from %s: %d %s", request.method, request.path, request.remote_addr, exc.status, exc)
            return text_response(exc.status, str(exc))
        if isinstance(exc, HTTPException):
            if isinstance(exc, MethodNotAllowed):
                self.telemetry.error("method_not_allowed")
            return exc.get_response(request.environ)
        if isinstance(exc, Overloaded):
            self.telemetry.error("overloaded")
            log.warning("%s %s: 503 %s", request.method, request.path, exc)
            response = text_response(503, str(exc))
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        if isinstance(exc, DatabaseUnavailable):
            self.telemetry.error("db_unavailable")
            log.warning("%s %s: 503 %s", request.method, request.path, exc)
            response = text_response(503, str(exc))
            response.headers["Retry-After"] = "1"
            return response
        self.telemetry.error("internal")
        log.error("%s %s failed", request.method, request.path, exc_info=exc)
        return text_response(500, "internal error; see the connector log")

    # --- the connector's own endpoints ---

    def on_healthz(self, request: Request) -> Response:
        from . import COMPATIBLE_EXTENSION, __version__

        version = self.db.extension_version()
        body = {"connector_version": __version__, "extension_version": version}
        if version is None:
            body["status"] = "the promscale extension is not installed in this database"
            status = 503
        elif version != COMPATIBLE_EXTENSION and not version.startswith(COMPATIBLE_EXTENSION + "."):
            body["status"] = f"extension version {version} does not match this connector (needs {COMPATIBLE_EXTENSION}.x)"
            status = 503
        else:
            body["status"] = "ok"
            status = 200
        return Response(json.dumps(body) + "\n", status=status, mimetype="application/json")

    def on_metrics(self, request: Request) -> Response:
        self.prometheus.refresh_telemetry()
        return Response(self.telemetry.render(), mimetype="text/plain", content_type="text/plain; version=0.0.4")


def create_app(config: Config | None = None) -> Connector:
    """The WSGI application for ``config``; without one, the PROMSCALE_* environment variables
    configure it (so ``gunicorn 'pyconnector:create_app()'`` works)."""
    return Connector(config or config_module.load([]))
