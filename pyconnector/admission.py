"""Query admission: how many requests of caller-chosen cost (queries, series and label lookups,
remote_read, the Jaeger API) one worker runs at a time, so that some of its threads are always
free for ingest and /healthz.

Under gunicorn's threaded workers every request takes one of the worker's --threads; a request
waiting for a free thread waits behind whatever holds them. Queries can hold a thread for up to
--query-timeout, so enough of them once made /healthz (and the load balancer's verdict on the
connector) and remote_write wait for as long as they ran. Routes that declare ``heavy`` (routing.py)
must take a slot first; a worker has --query-max-concurrency slots (default: its threads minus
RESERVED_THREADS). A heavy request that finds none is answered 503 at once with Retry-After,
instead of queueing on a thread: queueing would hold the very threads the slots keep free.
Prometheus queues queries beyond its --query.max-concurrency instead; it has no threads to keep.
"""

from __future__ import annotations

import threading

# threads of a worker kept for ingest and /healthz when --query-max-concurrency is not set
RESERVED_THREADS = 2
RETRY_AFTER_SECONDS = 1


class Overloaded(Exception):
    """No query slot is free in this worker; the client should retry soon (503, Retry-After)."""


def default_query_slots(threads: int) -> int:
    """Slots of a worker of ``threads`` threads: all but RESERVED_THREADS, at least one."""
    return max(1, threads - RESERVED_THREADS)


class QuerySlots:
    """The heavy requests one worker runs at a time (each worker process has its own)."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"query slots must be at least 1, not {limit}")
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)

    def take(self) -> None:
        """Take a slot now, or raise Overloaded; the caller must release() it exactly once."""
        if not self._free.acquire(blocking=False):
            raise Overloaded(
                f"too many concurrent queries: this connector worker runs at most {self.limit} at a time "
                "(--query-max-concurrency); retry shortly")

    def release(self) -> None:
        self._free.release()
