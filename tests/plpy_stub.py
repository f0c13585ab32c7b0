"""A small stand-in for PL/Python's ``plpy`` module, for unit tests outside the database.

Queries are answered by handlers the test registers (a substring of the SQL
mapped to a function returning rows); notices and errors are recorded the way
PL/Python would surface them.
"""

from __future__ import annotations

from typing import Any, Callable


class SPIError(Exception):
    pass


class Error(Exception):
    pass


class Plan:
    def __init__(self, query: str, types: list[str] | None):
        self.query = query
        self.types = types or []


class PlpyStub:
    SPIError = SPIError
    Error = Error

    def __init__(self) -> None:
        self.handlers: list[tuple[str, Callable[..., list[dict[str, Any]]]]] = []
        self.executed: list[tuple[str, tuple]] = []
        self.notices: list[str] = []

    def on(self, fragment: str, handler: Callable[..., list[dict[str, Any]]]) -> None:
        """Answer queries containing ``fragment`` with ``handler(*args)``."""
        self.handlers.append((fragment, handler))

    def prepare(self, query: str, types: list[str] | None = None) -> Plan:
        return Plan(query, types)

    def execute(self, query: str | Plan, args: Any = (), limit: int = 0) -> list[dict[str, Any]]:
        text = query.query if isinstance(query, Plan) else query
        self.executed.append((text, tuple(args or ())))
        for fragment, handler in self.handlers:
            if fragment in text:
                return handler(*(args or ()))
        raise SPIError(f"plpy stub has no answer for: {text}")

    def notice(self, message: str) -> None:
        self.notices.append(message)

    def info(self, message: str) -> None:
        self.notices.append(message)

    def warning(self, message: str) -> None:
        self.notices.append(message)

    def error(self, message: str) -> None:
        raise Error(message)

    def quote_ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def quote_literal(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"
