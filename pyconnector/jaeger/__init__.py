"""The Jaeger query API over the traces the OTLP endpoints store (docs/traces.md)."""

from .handlers import Jaeger
from .model import key_value, render_trace
from .params import JaegerError, parse_go_duration

__all__ = ["Jaeger", "JaegerError", "key_value", "parse_go_duration", "render_trace"]
