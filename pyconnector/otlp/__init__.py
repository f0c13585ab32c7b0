"""OpenTelemetry traces in: OTLP/HTTP (handlers.py, served by the WSGI application) and
OTLP/gRPC (grpc_server.py, a process of its own), both through one ingest path (ingest.py)
and one table of failures (failures.py)."""

from .handlers import Otlp

__all__ = ["Otlp"]
