"""Queries on PostgreSQL streaming replicas (--db-read-uri), everything else on the primary.

ReplicatedDatabase is a db.Database for the primary (--db-uri) whose three read calls, the
ones every query path goes through (``call``: the Prometheus HTTP API; ``read_samples``:
remote_read; ``query``: the Jaeger API and the web UI's status data), try the replicas first,
in the order given, and the primary last. Writes, series creation, the series epoch, /healthz's extension version check and
maintenance stay on the primary: a hot standby refuses writes, and the version check must see
the database the writes go to.

A replica that cannot serve a query (DatabaseUnavailable: it refused or dropped the
connection, is shutting down, or cancelled the query in a conflict with recovery) is skipped by
every thread of the worker for REPLICA_REST_SECONDS, so that a dead replica does not cost each
request a connection attempt; the query itself goes on to the next replica or the primary.
A query that timed out or failed (QueryTimeout, QueryFailed, a bad expression) is not retried
elsewhere: it would fail there too.

A replica answers with what it has replayed: a query right after a write may not see it yet
(docs/operations.md, "Read replicas").
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import urlsplit

from .db import Database, DatabaseUnavailable

log = logging.getLogger(__name__)

REPLICA_REST_SECONDS = 30.0
REPLICA_APPLICATION_NAME = "promscale-connector-replica"

T = TypeVar("T")


def uri_label(uri: str) -> str:
    """``host:port/dbname`` of a URI, for logs: without the user and password."""
    parts = urlsplit(uri)
    return parts.netloc.rpartition("@")[2] + parts.path


class ReplicatedDatabase(Database):
    def __init__(self, uri: str, replica_uris: Sequence[str], connect_timeout: int = 10,
                 statement_timeout_ms: int | None = None, rest_seconds: float = REPLICA_REST_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(uri, connect_timeout, statement_timeout_ms=statement_timeout_ms)
        self.replicas = [Database(r, connect_timeout, application_name=REPLICA_APPLICATION_NAME,
                                  statement_timeout_ms=statement_timeout_ms) for r in replica_uris]
        self.rest_seconds = rest_seconds
        self._clock = clock
        # replica index → clock time until which it is skipped (shared by the worker's threads;
        # a race between two of them only sets the same key twice)
        self._resting_until: dict[int, float] = {}

    def enable_tenancy(self) -> None:
        super().enable_tenancy()
        for replica in self.replicas:
            replica.enable_tenancy()

    def _read(self, on: Callable[[Database], T]) -> T:
        """``on(database)`` on the first replica that answers, else on the primary (``self``:
        ``on`` calls Database's own methods, not this class's routed ones)."""
        now = self._clock()
        for index, replica in enumerate(self.replicas):
            if self._resting_until.get(index, 0.0) > now:
                continue
            try:
                result = on(replica)
            except DatabaseUnavailable as exc:
                self._resting_until[index] = self._clock() + self.rest_seconds
                log.warning("read replica %s unavailable (%s); queries skip it for %.0fs",
                            uri_label(replica.uri), exc, self.rest_seconds)
                continue
            self._resting_until.pop(index, None)
            return result
        return on(self)

    # --- the read calls, routed ---

    def call(self, sql: str, params: Sequence[Any], timeout_ms: int | None = None) -> Any:
        return self._read(lambda db: Database.call(db, sql, params, timeout_ms))

    def read_samples(self, names: list[str], ops: list[str], values: list[str], start_ms: int, end_ms: int,
                     timeout_ms: int | None = None) -> list[tuple[list[str], list[str], list[int], list[float]]]:
        return self._read(lambda db: Database.read_samples(db, names, ops, values, start_ms, end_ms, timeout_ms))

    def query(self, sql: str, params: Sequence[Any] = (), timeout_ms: int | None = None) -> list[tuple]:
        return self._read(lambda db: Database.query(db, sql, params, timeout_ms))

    # --- sessions ---

    def open_warm_connections(self, count: int) -> int:
        """Warm sessions on the primary and on every replica (a thread may use all of them)."""
        return super().open_warm_connections(count) + sum(r.open_warm_connections(count) for r in self.replicas)

