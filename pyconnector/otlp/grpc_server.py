"""OTLP/gRPC TraceService/Export on its own port (default 4317, --otlp-grpc-listen).

It runs in a process of its own, started by the CLI next to gunicorn: gRPC's threads and
gunicorn's forking do not mix. Each server thread holds one database connection.
Errors map to the codes OTLP clients act on (failures.py, the table OTLP/HTTP uses too):
INVALID_ARGUMENT (never retried), UNAVAILABLE (retried), RESOURCE_EXHAUSTED for oversized
messages (set by gRPC itself).

Authentication and TLS are the HTTP listener's (auth.py, tls.py): every call passes
AuthInterceptor, which checks the ``authorization`` metadata against the role its method
declares in ROLE_OF_METHOD (a method not listed needs admin) and answers UNAUTHENTICATED or
PERMISSION_DENIED; the exporters' ``headers`` carry the credential.

With --multi-tenancy, TenantInterceptor gives every call its tenant as the HTTP listener does
(tenancy.py): the credential's, or the ``x-scope-orgid`` metadata where the credential allows it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from .. import auth, tenancy, tls
from ..auth import Authenticator, Denied
from ..config import Config
from ..db import Database
from ..tenancy import Tenancy, TenantRefused
from ..telemetry import Telemetry
from .failures import failure_of
from .ingest import TraceIngestor

log = logging.getLogger(__name__)

# google.rpc codes (failures.py) as gRPC statuses
STATUS_OF_CODE = {status.value[0]: status for status in grpc.StatusCode}

# the role each gRPC method needs (auth.py); a method not listed needs admin
ROLE_OF_METHOD = {"/opentelemetry.proto.collector.trace.v1.TraceService/Export": auth.WRITE}


class AuthInterceptor(grpc.ServerInterceptor):
    """Every call's credential (``authorization`` metadata: Basic or Bearer) checked against
    its method's role before the servicer runs; the identity is current while it runs."""

    def __init__(self, authenticator: Authenticator, telemetry: Telemetry):
        self.authenticator = authenticator
        self.telemetry = telemetry

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        metadata = dict(details.invocation_metadata or ())
        needed = ROLE_OF_METHOD.get(details.method, auth.ADMIN)
        try:
            identity = self.authenticator.authorize(metadata.get("authorization"), needed, details.method)
        except Denied as exc:
            self.telemetry.error("unauthorized" if exc.status == 401 else "forbidden")
            code = grpc.StatusCode.UNAUTHENTICATED if exc.status == 401 else grpc.StatusCode.PERMISSION_DENIED
            message = str(exc)

            def deny(_request: Any, context: grpc.ServicerContext) -> Any:
                context.abort(code, message)

            return grpc.unary_unary_rpc_method_handler(deny)
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        serve = handler.unary_unary

        def serve_as(request: Any, context: grpc.ServicerContext) -> Any:
            token = auth.set_current_identity(identity)
            try:
                return serve(request, context)
            finally:
                auth.reset_current_identity(token)

        return handler._replace(unary_unary=serve_as)


# TenantRefused's HTTP status as a gRPC status
STATUS_OF_REFUSAL = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
                     403: grpc.StatusCode.PERMISSION_DENIED}


class TenantInterceptor(grpc.ServerInterceptor):
    """--multi-tenancy: each call's tenant (tenancy.py) resolved from the caller's identity (set
    by AuthInterceptor, which runs around this one) and the ``x-scope-orgid`` metadata, current
    while it runs: the database then stores and checks it (db.py). A refused tenant answers
    INVALID_ARGUMENT, UNAUTHENTICATED or PERMISSION_DENIED (HTTP's 400, 401, 403)."""

    def __init__(self, tenancy_options: Tenancy, authenticated: bool, telemetry: Telemetry):
        self.tenancy = tenancy_options
        self.authenticated = authenticated
        self.telemetry = telemetry

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        # gRPC metadata keys are lower case
        header = dict(details.invocation_metadata or ()).get(tenancy.HEADER.lower())
        serve = handler.unary_unary

        def serve_for_tenant(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                tenant = self.tenancy.resolve(auth.current_identity(), header, self.authenticated)
            except TenantRefused as exc:
                self.telemetry.error(exc.error_kind)
                context.abort(STATUS_OF_REFUSAL[exc.status], str(exc))
            token = tenancy.set_current_tenant(tenant)
            try:
                return serve(request, context)
            finally:
                tenancy.reset_current_tenant(token)

        return handler._replace(unary_unary=serve_for_tenant)


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, ingestor: TraceIngestor, telemetry: Telemetry):
        self.ingestor = ingestor
        self.telemetry = telemetry

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        try:
            result = self.ingestor.export(request, "grpc")
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:
                self.telemetry.error("internal")
                log.exception("OTLP/gRPC export failed")
                context.abort(grpc.StatusCode.INTERNAL, "internal error; see the connector log")
            self.telemetry.error(failure.kind)
            context.abort(STATUS_OF_CODE[failure.rpc_code], failure.message)
        response = trace_service_pb2.ExportTraceServiceResponse()
        if result.warning:
            response.partial_success.error_message = result.warning
        return response


def create_server(config: Config, telemetry: Telemetry | None = None) -> tuple[grpc.Server, int]:
    """A gRPC server bound to config.otlp_grpc_listen, not yet started; returns (server, bound port)."""
    telemetry = telemetry or Telemetry(config.telemetry_dir)
    db = Database(config.db_uri, config.db_connect_timeout, application_name="promscale-connector-grpc")
    authenticator = Authenticator.from_config(config)
    interceptors: list[grpc.ServerInterceptor] = []
    if authenticator is not None:
        interceptors.append(AuthInterceptor(authenticator, telemetry))
    tenancy_options = Tenancy.from_config(config)
    if tenancy_options is not None:  # inside AuthInterceptor: the caller's identity is current
        interceptors.append(TenantInterceptor(tenancy_options, authenticator is not None, telemetry))
        db.enable_tenancy()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="otlp-grpc"),
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", config.max_decoded_bytes),
                 ("grpc.max_send_message_length", 16 << 20),
                 # gRPC sets SO_REUSEPORT by default: a second process bound the same port without
                 # error and the kernel split acknowledged exports between the two databases
                 ("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=config.threads * 4,
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(TraceIngestor(db, telemetry), telemetry),
                                                              server)
    tls_files = tls.load(config)
    try:
        if tls_files is not None:
            port = server.add_secure_port(config.otlp_grpc_listen, tls_files.grpc_credentials())
        else:
            port = server.add_insecure_port(config.otlp_grpc_listen)
    except RuntimeError:  # grpcio >= 1.60 raises where older versions returned 0
        port = 0
    if port == 0:
        raise OSError(f"cannot listen on {config.otlp_grpc_listen} for OTLP/gRPC (in use, or not an address)")
    return server, port


def serve(config: Config) -> None:
    """Run the gRPC server until SIGTERM/SIGINT, or until the parent process goes away."""
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server, port = create_server(config)
    server.start()
    log.info("OTLP/gRPC listening on %s (port %d)", config.otlp_grpc_listen, port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(1.0):
        if os.getppid() != parent:  # orphaned: the connector is gone
            break
    server.stop(grace=5).wait()
