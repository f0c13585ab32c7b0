"""Background maintenance: call ``prom_api.execute_maintenance()`` every interval.

Every gunicorn worker runs one daemon thread, but a run first takes a session
advisory lock, so at most one connector process runs maintenance at a time
(the procedure itself is safe to run concurrently; this just avoids doing the
same checks twice). Maintenance commits step by step, so a worker that stops
mid-run loses nothing. Set ``--maintenance-interval 0`` when pg_cron or another
scheduler runs it instead.
"""

from __future__ import annotations

import logging
import random
import threading

from . import db

log = logging.getLogger(__name__)

# One lock for all connector schedulers of a database ('prom' + 30).
SCHEDULER_LOCK = 1886547830


class MaintenanceScheduler:
    def __init__(self, db_uri: str, interval_seconds: float, connect_timeout: int = 10,
                 first_delay_seconds: float | None = None):
        if interval_seconds <= 0:
            raise ValueError("maintenance interval must be positive")
        self.db_uri = db_uri
        self.interval = interval_seconds
        self.connect_timeout = connect_timeout
        # workers started together should not all wake at the same moment
        self.first_delay = (random.uniform(0.5, 1.0) * min(interval_seconds, 60.0)
                            if first_delay_seconds is None else first_delay_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="promscale-maintenance", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        delay = self.first_delay
        while not self._stop.wait(delay):
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - keep the scheduler alive, say why
                log.warning("maintenance run failed: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
            delay = self.interval

    def run_once(self) -> bool:
        """One maintenance run, unless another connector holds the lock; True if it ran."""
        notices = db.run_maintenance_unless_locked(self.db_uri, SCHEDULER_LOCK, self.connect_timeout)
        if notices is None:
            log.debug("maintenance skipped: another connector is running it")
            return False
        self.runs += 1
        for message in notices:
            log.info("%s", message)
        return True
