"""Alert state as Prometheus 2.42's AlertingRule keeps it (rules/alerting.go): pending until
the condition has held for ``for``, then firing; resolved (inactive) when it no longer
holds, kept 15 minutes so Alertmanager hears of the resolution; ``keep_firing_for``. An
alert is a dict (stored in the group's state jsonb); times are Unix milliseconds.
"""

from __future__ import annotations

import json
from typing import Any

RESOLVED_RETENTION_MS = 15 * 60 * 1000
# Prometheus's defaults for restoring the `for` state (--rules.alert.for-outage-tolerance,
# --rules.alert.for-grace-period)
OUTAGE_TOLERANCE_MS = 60 * 60 * 1000
FOR_GRACE_PERIOD_MS = 10 * 60 * 1000


def key_of(labels: dict[str, str]) -> str:
    return json.dumps(sorted(labels.items()), ensure_ascii=False)


def step(active: dict[str, dict], found: dict[str, dict], ts: int, hold_ms: int, keep_firing_ms: int,
         limit: int) -> tuple[dict[str, dict], int]:
    """The alerts after an evaluation at ``ts`` that found ``found`` (key -> new pending alert);
    returns (active alerts, number pending or firing). Raises ValueError past ``limit``."""
    for key, alert in found.items():
        old = active.get(key)
        if old is not None and old["state"] != "inactive":
            old["value"] = alert["value"]
            old["annotations"] = alert["annotations"]
            continue
        active[key] = alert
    n_active = 0
    for key in list(active):
        a = active[key]
        if key not in found:
            keep_firing = False
            if a["state"] == "firing" and keep_firing_ms > 0:
                if not a.get("keepFiringSince"):
                    a["keepFiringSince"] = ts
                keep_firing = ts - a["keepFiringSince"] < keep_firing_ms
            if a["state"] == "pending" or (a.get("resolvedAt") and ts - a["resolvedAt"] > RESOLVED_RETENTION_MS):
                del active[key]
            if a["state"] != "inactive" and not keep_firing:
                a["state"] = "inactive"
                a["resolvedAt"] = ts
            if not keep_firing:
                continue
        else:
            a["keepFiringSince"] = 0
        n_active += 1
        if a["state"] == "pending" and ts - a["activeAt"] >= hold_ms:
            a["state"] = "firing"
            a["firedAt"] = ts
    if limit > 0 and n_active > limit:
        active.clear()
        raise ValueError(f"exceeded limit of {limit} with {n_active} alerts")
    return active, n_active


def restore(active: dict[str, dict], down_at: int, ts: int, hold_ms: int) -> None:
    """Prometheus's RestoreForState for an evaluator that takes over after a pause: the last
    evaluation was at ``down_at``; pending alerts of a long ``for`` keep the time they had
    left (at least the grace period), and nothing survives an outage past the tolerance."""
    if ts - down_at > OUTAGE_TOLERANCE_MS:
        active.clear()
        return
    if hold_ms < FOR_GRACE_PERIOD_MS:
        return
    for a in active.values():
        if a["state"] == "inactive":
            continue
        remaining = hold_ms - (down_at - a["activeAt"])
        if remaining <= 0:
            continue
        if remaining < FOR_GRACE_PERIOD_MS:
            a["activeAt"] = ts + FOR_GRACE_PERIOD_MS - hold_ms
        else:
            a["activeAt"] += ts - down_at


def needs_sending(a: dict, ts: int, resend_delay_ms: int) -> bool:
    if a["state"] == "pending":
        return False
    if a.get("resolvedAt", 0) > a.get("lastSentAt", 0):
        return True
    return a.get("lastSentAt", 0) + resend_delay_ms < ts


def series(a: dict) -> list[tuple[dict[str, str], float]]:
    """The ALERTS and ALERTS_FOR_STATE samples of an active alert (values, labels)."""
    labels = dict(a["labels"])
    alerts = {**labels, "__name__": "ALERTS", "alertstate": a["state"]}
    for_state = {**labels, "__name__": "ALERTS_FOR_STATE"}
    return [(alerts, 1.0), (for_state, float(a["activeAt"] // 1000))]


def iso(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, as Alertmanager's API and Prometheus's write them."""
    import datetime
    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def to_alertmanager(a: dict, external_labels: dict[str, str], generator_url: str) -> dict[str, Any]:
    """An alert in Alertmanager's v2 API form (notifier.Alert)."""
    labels = {**external_labels, **a["labels"]}
    out: dict[str, Any] = {"labels": labels, "annotations": a["annotations"], "startsAt": iso(a["firedAt"]),
                           "generatorURL": generator_url}
    if a.get("resolvedAt"):
        out["endsAt"] = iso(a["resolvedAt"])
    else:
        out["endsAt"] = iso(a["validUntil"])
    return out
