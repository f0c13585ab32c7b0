"""The bodies of Prometheus's /api/v1/rules and /api/v1/alerts (web/api/v1/api.go, 2.42),
from the stored rule groups and their state."""

from __future__ import annotations

import datetime
import json
from typing import Any

from ..httpapi.gojson import dumps as go_json, error as error_json
from ..promql.gofmt import format_float_e
from ..promql.parser import parse
from .evaluate import interval_ms

_ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ms: int | None) -> str:
    """Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros dropped) of a UTC time."""
    if not ms:
        return _ZERO_TIME
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    frac = ms % 1000
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (("." + f"{frac:03d}").rstrip("0") if frac else "") + "Z"


def _value(v: float | str) -> str:
    import math
    if isinstance(v, str):  # NaN and infinities are stored as text (jsonb has no such numbers)
        return v
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return format_float_e(v) if v != 0 else "0e+00"


def _alert_json(a: dict) -> dict:
    return {"labels": _sorted(a["labels"]), "annotations": _sorted(a["annotations"]), "state": a["state"],
            "activeAt": rfc3339(a["activeAt"]), "value": _value(a["value"])}


def _sorted(mapping: dict) -> dict:
    """A Go map's JSON has its keys in order."""
    return dict(sorted(mapping.items()))


def _active(rs: dict) -> list[dict]:
    alerts = [a for a in rs.get("alerts", []) if a["state"] != "inactive"]
    return sorted(alerts, key=lambda a: sorted(a["labels"].items()))


def _query_text(expr: str) -> str:
    try:
        return str(parse(expr))
    except Exception:  # noqa: BLE001 - stored rules parsed when stored; show them as written otherwise
        return expr


def _rule_json(rule: dict, rs: dict) -> dict:
    common = {"health": {"ok": "ok", "err": "err"}.get(rs.get("health", ""), "unknown"),
              "evaluationTime": rs.get("evaluationTime", 0), "lastEvaluation": rfc3339(rs.get("lastEvaluation"))}
    if rs.get("lastError"):
        common["lastError"] = rs["lastError"]
    if "record" in rule:
        out = {"name": rule["record"], "query": _query_text(rule["expr"])}
        if rule["labels"]:  # omitempty for recording rules only
            out["labels"] = _sorted(rule["labels"])
        return {**out, **common, "type": "recording"}
    active = _active(rs)
    states = {a["state"] for a in active}
    state = "firing" if "firing" in states else "pending" if "pending" in states else "inactive"
    return {"state": state, "name": rule["alert"], "query": _query_text(rule["expr"]),
            "duration": rule["for_ms"] / 1000, "keepFiringFor": rule.get("keep_firing_for_ms", 0) / 1000,
            "labels": _sorted(rule["labels"]), "annotations": _sorted(rule["annotations"]),
            "alerts": [_alert_json(a) for a in active], **common, "type": "alerting"}


def _groups(plpy: Any) -> list[tuple[str, str, dict, dict]]:
    rows = plpy.execute("SELECT file, name, spec, state FROM _prom_catalog.rule_group ORDER BY file, name")
    return [(r["file"], r["name"], json.loads(r["spec"]), json.loads(r["state"])) for r in rows]


def rules_json(plpy: Any, rule_type: str | None) -> str:
    if rule_type not in (None, "", "alert", "record"):
        return error_json("bad_data", f'invalid parameter "type": unsupported type {rule_type}')
    groups = []
    for file, name, spec, state in _groups(plpy):
        rule_states = state.get("rules") or [{} for _ in spec["rules"]]
        rules = []
        for rule, rs in zip(spec["rules"], rule_states):
            if rule_type == "alert" and "alert" not in rule or rule_type == "record" and "record" not in rule:
                continue
            rules.append(_rule_json(rule, rs))
        groups.append({"name": name, "file": file, "rules": rules, "interval": interval_ms(spec) / 1000,
                       "limit": spec.get("limit", 0), "evaluationTime": state.get("evaluationTime", 0),
                       "lastEvaluation": rfc3339(state.get("lastEvaluation"))})
    return go_json({"status": "success", "data": {"groups": groups}})


def alerts_json(plpy: Any) -> str:
    alerts = []
    for _file, _name, spec, state in _groups(plpy):
        for rule, rs in zip(spec["rules"], state.get("rules") or []):
            if "alert" in rule:
                alerts.extend(_alert_json(a) for a in _active(rs))
    return go_json({"status": "success", "data": {"alerts": alerts}})
