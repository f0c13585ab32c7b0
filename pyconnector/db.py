"""The one module that talks to PostgreSQL: the only one that imports psycopg
(tests/unit/test_connector_layout.py checks it).

Each worker thread keeps one connection (gunicorn's threads are long-lived, so
a thread-local connection is the pool). At start a worker opens one warmed
connection per thread (open_warm_connections), which the threads take on their
first request: a new session's first request would otherwise load NumPy and
the extension's PL/Python modules (~150 ms). Failures are sorted into what the
client should do about them: retry later (DatabaseUnavailable → 503) or fix
the request (InvalidData → 400); anything else is a bug (500).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import psycopg
from psycopg import errors
from psycopg.adapt import Dumper
from psycopg.pq import Format

from . import pgbinary
from .tenancy import current_tenant
from .pgbinary import BinaryArray, Float8Array, Int8Array, TimestamptzArray

log = logging.getLogger(__name__)

# SQLSTATE classes meaning "the database cannot do this now; try again":
# 08 connection, 40 transaction rollback (deadlock, serialization), 53 resources,
# 57 operator intervention (shutdown, cancel), 58 system error; 55P03 lock timeout.
RETRYABLE_CLASSES = ("08", "40", "53", "57", "58")
RETRYABLE_STATES = ("55P03", "55006")
# prom_api.put_samples refuses series ids that retention deleted (sql/idempotent/340-series-gc.sql)
STALE_SERIES_STATE = "PS001"


# Any error the driver raises, for callers that catch what classify() leaves unclassified.
DatabaseError = psycopg.Error


class DatabaseUnavailable(Exception):
    """The database cannot serve the request now; the client should retry."""


class InvalidData(Exception):
    """The database rejected the data itself; retrying cannot help."""


class QueryTimeout(Exception):
    """A query ran into its statement_timeout (or was cancelled)."""


class TimeBudget:
    """The time a request's statements share (--query-timeout): each gets what is left, so a
    request of several statements cannot take a multiple of the timeout."""

    def __init__(self, budget_ms: int | None):
        self.budget_ms = budget_ms
        self.deadline = None if budget_ms is None else time.monotonic() + budget_ms / 1000

    def left_ms(self) -> int | None:
        """Milliseconds left for the next statement (None: no budget); QueryTimeout once spent."""
        if self.deadline is None:
            return None
        left = int((self.deadline - time.monotonic()) * 1000)
        if left <= 0:
            raise QueryTimeout(f"the request's {self.budget_ms} ms are spent")
        return left


@dataclass(frozen=True)
class TimeoutStatement:
    """A statement that sets the transaction's statement_timeout itself (set_config(..., true)),
    where the database computes the timeout: the Prometheus API's ``timeout`` parameter is
    parsed by the extension. Given as a call's timeout, it runs in the call's round trip."""

    sql: str
    params: tuple


class QueryFailed(Exception):
    """A query function raised an error (e.g. a parse error); the message is the database's."""


class StaleSeries(Exception):
    """Some cached series ids were deleted by retention: resolve the labels again."""


@dataclass
class SampleBatch:
    series_ids: Int8Array
    times: TimestamptzArray
    values: Float8Array


@dataclass
class ActivityBatch:
    """Series whose activity bounds must widen to cover [min_times, max_times] (prom_api.mark_series_activity)."""

    series_ids: Int8Array
    min_times: TimestamptzArray
    max_times: TimestamptzArray


@dataclass(frozen=True)
class HaLease:
    """The lease of one HA cluster, times in Unix ms: ``leader`` owns [start_ms, until_ms) and
    should call again from ``refresh_at_ms`` (prom_api.update_ha_lease)."""

    leader: str
    start_ms: int
    until_ms: int
    refresh_at_ms: int


@dataclass
class ExemplarBatch:
    series_ids: Int8Array
    times: TimestamptzArray
    values: Float8Array
    labels: list[str]  # JSON objects


@dataclass
class MetadataBatch:
    families: list[str]
    types: list[str]
    units: list[str]
    helps: list[str]


def classify(exc: BaseException) -> Exception:
    """The DatabaseUnavailable / InvalidData / original error for a psycopg error."""
    if isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) is None:
        return DatabaseUnavailable(f"database unavailable: {first_line(exc)}")
    state = getattr(exc, "sqlstate", None) or ""
    if state == STALE_SERIES_STATE:
        return StaleSeries(first_line(exc))
    if state[:2] in RETRYABLE_CLASSES or state in RETRYABLE_STATES or isinstance(exc, psycopg.InterfaceError):
        return DatabaseUnavailable(f"database unavailable: {first_line(exc)}")
    if state[:2] in ("22", "23") or isinstance(exc, psycopg.DataError):  # DataError: e.g. NUL in text
        return InvalidData(first_line(exc))
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _dumper_for(array_class: type[BinaryArray]) -> type[Dumper]:
    class _Dumper(Dumper):
        format = Format.BINARY
        oid = array_class.oid

        def dump(self, obj: BinaryArray) -> bytes:
            return obj.data

    _Dumper.__name__ = f"{array_class.__name__}Dumper"
    return _Dumper


def register_binary_arrays(context: Any) -> None:
    """Teach a psycopg connection (or the global adapters) to send pgbinary's arrays as they are."""
    for array_class in pgbinary.ARRAY_TYPES:
        context.adapters.register_dumper(array_class, _dumper_for(array_class))


def run_maintenance_unless_locked(uri: str, lock_key: int, connect_timeout: int = 10) -> list[str] | None:
    """``CALL prom_api.execute_maintenance()`` in a session of its own, unless another session
    holds the advisory lock ``lock_key``; returns the notices it raised, or None if it did not run."""
    with psycopg.connect(uri, autocommit=True, connect_timeout=connect_timeout,
                         application_name="promscale-maintenance") as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key,)).fetchone()[0]:
            return None
        try:
            conn.execute("CALL prom_api.execute_maintenance()")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
        return notices


class LeaseSession:
    """One session holding the session advisory lock ``lock_key``: the lease of a job that one
    connector at a time runs (the rule evaluator, pyconnector/rules/evaluator.py). The lease
    ends with the session, so a connector that dies frees it at once."""

    def __init__(self, uri: str, lock_key: int, connect_timeout: int = 10, application_name: str = "promscale-rules"):
        self.uri = uri
        self.lock_key = lock_key
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        self._conn: psycopg.Connection | None = None
        self._held = False

    def acquire(self) -> bool:
        """True when this session holds the lease (taking it if free), False when another does.
        The session stays open either way (a waiting evaluator asks again on it). Raises
        DatabaseUnavailable when the database cannot be reached."""
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self.close()
                self._conn = psycopg.connect(self.uri, autocommit=True, connect_timeout=self.connect_timeout,
                                             application_name=self.application_name)
            if not self._held:
                self._held = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,)).fetchone()[0]
            return self._held
        except psycopg.Error as exc:
            self.close()
            raise classify(exc) from exc

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of ``sql``, in the lease's session. A lost session
        (and with it the lease) raises DatabaseUnavailable; the next acquire() reconnects."""
        if self._conn is None or not self._held:
            raise DatabaseUnavailable("the lease is not held")
        try:
            row = self._conn.execute(sql, params).fetchone()
        except psycopg.Error as exc:
            if self._conn.broken or isinstance(exc, psycopg.OperationalError):
                self.close()
            raise classify(exc) from exc
        return row[0] if row else None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        if self._conn is None or not self._held:
            raise DatabaseUnavailable("the lease is not held")
        try:
            return self._conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            if self._conn.broken or isinstance(exc, psycopg.OperationalError):
                self.close()
            raise classify(exc) from exc

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._held = False
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass


class Database:
    def __init__(self, uri: str, connect_timeout: int = 10, application_name: str = "promscale-connector",
                 statement_timeout_ms: int | None = None):
        self.uri = uri
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        # every statement of this connector's sessions runs under this timeout; calls that ask
        # for another one set it for their own transaction
        self.statement_timeout_ms = statement_timeout_ms
        self._local = threading.local()
        self._warm: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
        # --multi-tenancy: every statement runs in its request's tenant context (_in_tenant_context)
        self.multi_tenancy = False

    def enable_tenancy(self) -> None:
        """Run every statement in the tenant context of its request (tenancy.current_tenant())."""
        self.multi_tenancy = True

    # --- connections ---

    def _connect(self) -> psycopg.Connection:
        options = {}
        if self.statement_timeout_ms is not None:
            options["options"] = f"-c statement_timeout={int(self.statement_timeout_ms)}"
        conn = psycopg.connect(
            self.uri, connect_timeout=self.connect_timeout, application_name=self.application_name, autocommit=True,
            **options,
        )
        register_binary_arrays(conn)
        return conn

    def _statement(self, conn: psycopg.Connection, timeout_ms: int | TimeoutStatement | None, run: Any) -> Any:
        """``run(conn)`` under statement timeout ``timeout_ms``: a single autocommit statement when
        that is the session's own timeout (one round trip), else in a transaction of its own that
        sets it (or runs the TimeoutStatement that sets it), sent as one pipeline."""
        if timeout_ms is None or timeout_ms == self.statement_timeout_ms:
            return run(conn)
        with conn.pipeline(), conn.transaction():
            if isinstance(timeout_ms, TimeoutStatement):
                conn.execute(timeout_ms.sql, timeout_ms.params)
            else:
                conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_ms))}")
            return run(conn)

    def open_warm_connections(self, count: int) -> int:
        """Opens ``count`` sessions at once, each with the PL/Python modules of ingest and queries
        loaded (prom_api.warm_session()), for threads without a connection to take. A session
        that fails is logged and left out: its thread connects on its first request, as
        without warming. Returns how many are ready."""

        def warm_one(_: int) -> bool:
            try:
                conn = self._connect()
                conn.execute("SELECT prom_api.warm_session()")
            except psycopg.Error as exc:
                log.warning("could not open a warm database session (threads connect on demand): %s",
                            first_line(exc))
                return False
            self._warm.put(conn)
            return True

        with ThreadPoolExecutor(max_workers=max(1, count)) as pool:
            return sum(pool.map(warm_one, range(count)))

    def connection(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self._take_warm()
            if conn is None:
                try:
                    conn = self._connect()
                except psycopg.Error as exc:
                    raise classify(exc) from exc
            self._local.conn = conn
        return conn

    def _take_warm(self) -> psycopg.Connection | None:
        while True:
            try:
                conn = self._warm.get_nowait()
            except queue.Empty:
                return None
            if not (conn.closed or conn.broken):
                return conn

    def discard(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def _run(self, work: Any, read_only: bool = False) -> Any:
        """Run ``work(conn)``; on failure drop a broken connection and classify the error.

        A read whose pooled session turns out dead (the server restarted, or an administrator
        ended it, since its last use) runs once more on a new one: otherwise every thread's first
        read after a PostgreSQL restart answered 503. Writes are not repeated here: their
        clients retry (Prometheus and OTLP exporters resend on 503)."""
        if self.multi_tenancy:
            work = self._in_tenant_context(work)
        conn = self.connection()
        try:
            return work(conn)
        except psycopg.Error as exc:
            broken = conn.broken or isinstance(exc, psycopg.OperationalError)
            if broken:
                self.discard()
            if not (read_only and conn.broken):
                raise classify(exc) from exc
        try:
            return work(self.connection())
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                self.discard()
            raise classify(exc) from exc

    @staticmethod
    def _in_tenant_context(work: Any) -> Any:
        """``work`` preceded by prom_api.set_request_tenant of the current request's tenant, the
        one place the database learns it (it enforces it: sql/idempotent/012-tenancy.sql). Sent in
        one pipeline with work's first statement, so it costs no round trip of its own. Set for
        the session, on every call (also to NULL, no restriction, for the connector's own work),
        so a session never carries one request's tenant into the next; a statement that fails
        rolls the setting back to the previous call's, but nothing ran under it."""
        tenant = current_tenant()

        def run(conn: psycopg.Connection) -> Any:
            with conn.pipeline():
                conn.execute("SELECT prom_api.set_request_tenant(%s, false)", (tenant,))
                return work(conn)

        return run

    # --- queries ---

    def extension_version(self) -> str | None:
        def work(conn: psycopg.Connection) -> str | None:
            row = conn.execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'promscale'").fetchone()
            return row[0] if row else None

        return self._run(work, read_only=True)

    def call(self, sql: str, params: Sequence[Any], timeout_ms: int | None = None) -> Any:
        """The first column of the one row ``sql`` returns, under statement_timeout
        ``timeout_ms`` (this transaction only). A cancelled statement raises QueryTimeout;
        an error raised by the function itself raises QueryFailed with its message."""

        def first_value(conn: psycopg.Connection) -> Any:
            row = conn.execute(sql, params).fetchone()
            return row[0] if row else None

        def work(conn: psycopg.Connection) -> Any:
            try:
                return self._statement(conn, timeout_ms, first_value)
            except errors.QueryCanceled as exc:
                raise QueryTimeout(first_line(exc)) from exc
            except (errors.RaiseException, errors.ExternalRoutineException, errors.InvalidParameterValue,
                    errors.InvalidRegularExpression, errors.DataException) as exc:
                diag = getattr(exc, "diag", None)
                raise QueryFailed((diag.message_primary if diag else None) or first_line(exc)) from exc

        return self._run(work, read_only=True)

    def call_on_primary(self, sql: str, params: Sequence[Any]) -> Any:
        """The first column of the one row of a statement that writes (prom_api.put_rule_files,
        prom_api.http_admin_api), always on this database, the primary: replicas.ReplicatedDatabase
        routes only the read calls (call, read_samples, query). An error the function raises
        raises QueryFailed; a cancelled statement QueryTimeout."""

        def work(conn: psycopg.Connection) -> Any:
            try:
                row = conn.execute(sql, params).fetchone()
            except errors.QueryCanceled as exc:
                raise QueryTimeout(first_line(exc)) from exc
            except (errors.RaiseException, errors.InvalidParameterValue, errors.DataException) as exc:
                diag = getattr(exc, "diag", None)
                raise QueryFailed((diag.message_primary if diag else None) or first_line(exc)) from exc
            return row[0] if row else None

        return self._run(work)

    def read_samples(self, names: list[str], ops: list[str], values: list[str], start_ms: int, end_ms: int,
                     timeout_ms: int | None = None) -> list[tuple[list[str], list[str], list[int], list[float]]]:
        """(label names, label values, times in ms, values) of each matching series; binary
        results so that NaN payloads (stale markers) arrive bit-exact."""

        def rows(conn: psycopg.Connection) -> list:
            with conn.cursor(binary=True) as cur:
                cur.execute("SELECT keys, vals, times_ms, samples FROM prom_api.get_matching_samples("
                            "%s::text[], %s::text[], %s::text[], %s::bigint, %s::bigint)",
                            (names, ops, values, start_ms, end_ms))
                return cur.fetchall()

        def work(conn: psycopg.Connection) -> list:
            try:
                return self._statement(conn, timeout_ms, rows)
            except errors.QueryCanceled as exc:
                raise QueryTimeout(first_line(exc)) from exc
            except (errors.InvalidRegularExpression, errors.InvalidParameterValue) as exc:
                raise QueryFailed(first_line(exc)) from exc

        return self._run(work, read_only=True)

    def series_epoch(self) -> int:
        """prom_api.get_series_epoch(): changes when retention deletes series."""
        return self._run(lambda conn: conn.execute("SELECT prom_api.get_series_epoch()").fetchone()[0])

    def resolve_series(self, label_sets: Sequence[bytes], first_times: pgbinary.TimestamptzArray | None = None,
                       last_times: pgbinary.TimestamptzArray | None = None) -> tuple[list[int], tuple[list[int], list[int], list[int]]]:
        """Series id of each label set in canonical encoding (see prometheus/remote_write.py, canonical_labels),
        creating series as needed (own transaction), those created with activity bounds covering
        [first_times[i], last_times[i]] (the time range of their samples; NULL or None: none); and
        the activity bounds those series hold (series ids, first_seen ms, last_seen ms; series
        without bounds left out)."""

        def work(conn: psycopg.Connection) -> tuple[list[int], tuple[list[int], list[int], list[int]]]:
            # the CTE runs the resolution once (as a subquery it was evaluated again for the
            # result); label sets go in binary (as text, 2,000 of them cost the server 8 ms to parse)
            ids, bounded, first_ms, last_ms = conn.execute(
                "WITH r AS MATERIALIZED (SELECT prom_api.get_or_create_series_ids_with_activity("
                "    %b::bytea[], %b::timestamptz[], %b::timestamptz[]) AS ids) "
                "SELECT (SELECT r.ids FROM r), coalesce(array_agg(a.series_id), '{}'), "
                "       coalesce(array_agg(_prom_catalog.unix_ms(a.first_seen, true)), '{}'), "
                "       coalesce(array_agg(_prom_catalog.unix_ms(a.last_seen, false)), '{}') "
                "FROM r CROSS JOIN LATERAL prom_api.get_series_activity(r.ids) a",
                (list(label_sets), first_times, last_times)).fetchone()
            return ids, (bounded, first_ms, last_ms)

        return self._run(work)

    def update_ha_lease(self, cluster: str, replica: str, min_ms: int, max_ms: int) -> HaLease:
        """prom_api.update_ha_lease for a request of ``replica`` with samples in [min_ms, max_ms]:
        the cluster's lease after it (taken, extended or changed over as the lease rules say)."""

        def work(conn: psycopg.Connection) -> HaLease:
            # times in Unix ms, rounded up: a sample at t ms is inside [start, until) exactly when
            # ceil(start) <= t < ceil(until)
            row = conn.execute(
                "SELECT l.leader_name, _prom_catalog.unix_ms(l.lease_start, true), "
                "       _prom_catalog.unix_ms(l.lease_until, true), _prom_catalog.unix_ms(l.refresh_at, true) "
                "FROM prom_api.update_ha_lease(%s, %s, 'epoch'::timestamptz + %s::bigint * interval '1 ms', "
                "                              'epoch'::timestamptz + %s::bigint * interval '1 ms') l",
                (cluster, replica, min_ms, max_ms)).fetchone()
            return HaLease(*row)

        return self._run(work)

    def ha_lease_history(self, cluster: str, replica: str) -> list[tuple[int, int]]:
        """The past leases of ``replica`` in ``cluster`` as [start ms, until ms) ranges."""
        return self._run(lambda conn: conn.execute(
            "SELECT _prom_catalog.unix_ms(h.lease_start, true), _prom_catalog.unix_ms(h.lease_until, true) "
            "FROM prom_api.get_ha_lease_history(%s, %s) h", (cluster, replica)).fetchall())

    def prepare_sample_chunks(self, times: TimestamptzArray) -> None:
        """Create the partitions for ``times`` a few per transaction (for batches spanning many
        chunks: one transaction creating hundreds could exhaust PostgreSQL's lock table)."""

        def work(conn: psycopg.Connection) -> int:
            with conn.transaction():
                return conn.execute("SELECT prom_api.prepare_sample_chunks(%b)", (times,)).fetchone()[0]

        while self._run(work):
            pass

    def write(
        self,
        samples: SampleBatch | None,
        exemplars: ExemplarBatch | None = None,
        metadata: MetadataBatch | None = None,
        series_epoch: int | None = None,
        activity: ActivityBatch | None = None,
    ) -> tuple[list[int], list[int], list[int]] | None:
        """Write one request's data in one transaction; returns after COMMIT. With
        ``series_epoch``, the database checks the epoch instead of every series id. With
        ``activity``, the series' activity bounds are widened too; then the result is the
        bounds they have now: (series ids, first_seen ms, last_seen ms)."""

        def work(conn: psycopg.Connection) -> tuple[list[int], list[int], list[int]] | None:
            marked = None
            with conn.transaction():
                if samples is not None and len(samples.series_ids):
                    if series_epoch is None:
                        conn.execute(
                            "SELECT prom_api.put_samples(%b, %b, %b)",
                            (samples.series_ids, samples.times, samples.values),
                        )
                    else:
                        conn.execute(
                            "SELECT prom_api.put_samples(%b, %b, %b, %s::bigint)",
                            (samples.series_ids, samples.times, samples.values, series_epoch),
                        )
                if activity is not None and len(activity.series_ids):
                    marked = conn.execute(
                        "SELECT coalesce(array_agg(m.series_id), '{}'), "
                        "       coalesce(array_agg(_prom_catalog.unix_ms(m.first_seen, true)), '{}'), "
                        "       coalesce(array_agg(_prom_catalog.unix_ms(m.last_seen, false)), '{}') "
                        "FROM prom_api.mark_series_activity(%b, %b, %b) m",
                        (activity.series_ids, activity.min_times, activity.max_times),
                    ).fetchone()
                if exemplars is not None and len(exemplars.series_ids):
                    conn.execute(
                        "SELECT prom_api.put_exemplars(%b, %b, %b, %s::jsonb[])",
                        (exemplars.series_ids, exemplars.times, exemplars.values, exemplars.labels),
                    )
                if metadata is not None and metadata.families:
                    conn.execute(
                        "SELECT prom_api.put_metadata(%s::text[], %s::text[], %s::text[], %s::text[])",
                        (metadata.families, metadata.types, metadata.units, metadata.helps),
                    )
            return marked

        return self._run(work)

    def put_spans(self, args: tuple, types: Sequence[str]) -> int:
        """Write one OTLP request's spans (ps_trace.put_spans arguments and their SQL types)
        in one transaction; returns the number of spans written."""
        placeholders = ", ".join(f"%s::{t}" for t in types)

        def work(conn: psycopg.Connection) -> int:
            with conn.transaction():
                row = conn.execute(f"SELECT ps_trace.put_spans({placeholders})", args).fetchone()
            return int(row[0])

        return self._run(work)

    def query(self, sql: str, params: Sequence[Any] = (), timeout_ms: int | TimeoutStatement | None = None
              ) -> list[tuple]:
        """Rows of one read-only statement (the Prometheus HTTP API's prom_api.http_api, the Jaeger
        API's calls of ps_trace functions), under statement_timeout ``timeout_ms`` when given; a
        cancelled statement raises QueryTimeout."""

        def rows(conn: psycopg.Connection) -> list[tuple]:
            return conn.execute(sql, params).fetchall()

        def work(conn: psycopg.Connection) -> list[tuple]:
            try:
                return self._statement(conn, timeout_ms, rows)
            except errors.QueryCanceled as exc:
                raise QueryTimeout(first_line(exc)) from exc

        return self._run(work, read_only=True)


__all__ = [
    "Database",
    "DatabaseError",
    "LeaseSession",
    "DatabaseUnavailable",
    "InvalidData",
    "QueryTimeout",
    "TimeBudget",
    "TimeoutStatement",
    "QueryFailed",
    "StaleSeries",
    "SampleBatch",
    "ActivityBatch",
    "ExemplarBatch",
    "HaLease",
    "MetadataBatch",
    "register_binary_arrays",
    "run_maintenance_unless_locked",
]
