"""The rule evaluator: a thread in every worker, of which only the one holding the database
lease (a session advisory lock, db.LeaseSession) evaluates; the others try to take it every few
seconds, so when the evaluating connector stops another carries on, restoring the `for`
state of its alerts as a restarted Prometheus does.

Each group is evaluated at its slots (schedule.py) by prom_api.evaluate_rule_group, which
writes the recorded series and ALERTS in the database and returns the alerts to send; they go
to Alertmanager through a queue (alertmanager.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from ..db import DatabaseError, DatabaseUnavailable, LeaseSession, first_line
from .alertmanager import AlertmanagerClient
from .schedule import Group, first_slot, next_slot

log = logging.getLogger(__name__)

# One lease for the rule evaluators of a database ('prom' + 31).
RULES_LOCK = 1886547831
LEASE_RETRY_S = 5.0
SCHEDULE_REFRESH_S = 1.0  # groups added or changed (a reload) are seen this soon


class RuleEvaluator:
    def __init__(self, db_uri: str, alertmanager: AlertmanagerClient, resend_delay_s: float = 60.0,
                 external_labels: dict[str, str] | None = None, external_url: str = "", connect_timeout: int = 10,
                 telemetry: Any = None):
        self.lease = LeaseSession(db_uri, RULES_LOCK, connect_timeout)
        self.alertmanager = alertmanager
        self.resend_delay_s = resend_delay_s
        self.external_labels = json.dumps(external_labels or {})
        self.external_url = external_url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due: dict[tuple[str, str], int] = {}  # next slot (ns) of each group
        self._groups: dict[tuple[str, str], Group] = {}
        self._restore: set[tuple[str, str]] = set()
        self.telemetry = telemetry
        self.holding = False
        self.evaluations = 0

    def start(self) -> None:
        self.alertmanager.start()
        self._thread = threading.Thread(target=self._loop, name="promscale-rules", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.lease.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                held = self.lease.acquire()
            except DatabaseUnavailable as exc:
                log.warning("rule evaluation waits for the database: %s", exc)
                held = False
            if held and not self.holding:
                log.info("this connector evaluates the rules now")
                self._due.clear()  # new holder: first slots from now, `for` state restored
            self.holding = held
            if not held:
                self._stop.wait(LEASE_RETRY_S)
                continue
            try:
                wait_s = self.run_due()
            except (DatabaseUnavailable, DatabaseError) as exc:
                log.warning("rule evaluation failed: %s", first_line(exc))
                wait_s = 1.0
            self._stop.wait(wait_s)

    def _refresh(self, now_ns: int) -> None:
        rows = self.lease.rows("SELECT file, name, interval_ms, offset_ns FROM prom_api.rule_group_schedule()")
        groups = {(f, n): Group(f, n, ms * 1_000_000, off) for f, n, ms, off in rows}
        for key, group in groups.items():
            if key not in self._due or self._groups.get(key) != group:
                self._due[key] = first_slot(group, now_ns)
                self._restore.add(key)
        for key in set(self._due) - set(groups):
            del self._due[key]
            self._restore.discard(key)
        self._groups = groups

    def run_due(self) -> float:
        """Evaluates the groups that are due; seconds until the next one (at most the refresh)."""
        self._refresh(time.time_ns())
        for key in sorted(self._due, key=self._due.get):
            slot = self._due[key]
            if slot > time.time_ns():
                break
            self.evaluate(key, slot)
            self._due[key] = next_slot(self._groups[key], slot, time.time_ns())
        if not self._due:
            return SCHEDULE_REFRESH_S
        return max(0.0, min(SCHEDULE_REFRESH_S, (min(self._due.values()) - time.time_ns()) / 1e9))

    def _count(self, name: str) -> None:
        if self.telemetry is not None:
            self.telemetry.inc(name)

    def evaluate(self, key: tuple[str, str], slot_ns: int) -> None:
        file, name = key
        try:
            alerts = self.lease.value(
                "SELECT prom_api.evaluate_rule_group(%s, %s, to_timestamp(%s::float8 / 1000), %s, "
                "make_interval(secs => %s), %s::jsonb, %s)",
                (file, name, slot_ns // 1_000_000, key in self._restore, self.resend_delay_s,
                 self.external_labels, self.external_url))
        except DatabaseUnavailable:
            raise
        except DatabaseError as exc:
            log.warning("evaluating rule group %r (%s) failed: %s", name, file or "SQL", first_line(exc))
            self._count("promscale_rule_group_evaluation_failures_total")
            return
        self._restore.discard(key)
        self.evaluations += 1
        self._count("promscale_rule_group_evaluations_total")
        if alerts:
            self.alertmanager.enqueue(alerts if isinstance(alerts, list) else json.loads(alerts))
