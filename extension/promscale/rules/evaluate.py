"""One evaluation of a rule group at one timestamp, as Prometheus 2.42's Group.Eval does it:
every rule in order at the same time, recording rules' results written as series,
alerting rules' state advanced (alerts.py) and their ALERTS / ALERTS_FOR_STATE series
written, stale markers for every series a rule wrote last time and not this time.

The group's state (rule health, last series, alerts) is a jsonb column of its row, locked
for the evaluation: two evaluators of the same group wait for each other.
"""

from __future__ import annotations

import json
import struct
import time as _time
from typing import Any

from . import alerts as A
from .spec import compile_template
from .template import TemplateError

STALE_NAN_BITS = 0x7FF0000000000002
_DEFAULT_INTERVAL_MS = 60_000


def interval_ms(spec: dict) -> int:
    return spec.get("interval_ms") or _DEFAULT_INTERVAL_MS


def _query(plpy: Any, GD: dict, expr: str, ts: int) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of an instant query; a scalar is one sample without labels."""
    from ..promql import api
    from ..promql.values import PromQLError
    try:
        e, val, t = api.run(plpy, GD, expr, ts, ts, 0)
    except (api.BadData, PromQLError) as exc:
        raise RuleEvalError(str(exc)) from None
    from ..promql.values import Scalar, String, Vector
    if isinstance(val, String):
        raise RuleEvalError("rule result is not a vector or scalar")
    if isinstance(val, Scalar):
        return [({}, float(val.vals[0]))]
    if isinstance(val, Vector):
        return [(dict(labels), float(val.vals[i, 0])) for i, labels in enumerate(val.labels) if val.mask[i, 0]]
    raise RuleEvalError("rule result is not a vector or scalar")


class RuleEvalError(Exception):
    pass


def json_float(v: float) -> float | str:
    """A value jsonb can hold: NaN and infinities as Prometheus spells them."""
    import math
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")


def _record(rule: dict, samples: list, limit: int) -> list[tuple[dict[str, str], float]]:
    out = []
    seen = set()
    for labels, value in samples:
        lb = dict(labels)
        lb["__name__"] = rule["record"]
        for k, v in rule["labels"].items():
            if v == "":
                lb.pop(k, None)
            else:
                lb[k] = v
        key = A.key_of(lb)
        if key in seen:
            raise RuleEvalError("vector contains metrics with the same labelset after applying rule labels")
        seen.add(key)
        out.append((lb, value))
    if limit > 0 and len(out) > limit:
        raise RuleEvalError(f"exceeded limit of {limit} with {len(out)} series")
    return out


def _alert(plpy: Any, GD: dict, rule: dict, state: dict, samples: list, ts: int, limit: int,
           external_labels: dict, external_url: str) -> list[tuple[dict[str, str], float]]:
    def query(expr: str) -> list:
        return [{"Labels": l, "Value": v} for l, v in _query(plpy, GD, expr, ts)]

    label_tmpls = {k: compile_template(v, rule["alert"], query, external_url) for k, v in rule["labels"].items()}
    annot_tmpls = {k: compile_template(v, rule["alert"], query, external_url) for k, v in rule["annotations"].items()}
    found: dict[str, dict] = {}
    for labels, value in samples:
        data = {"Labels": {k: v for k, v in labels.items()}, "ExternalLabels": external_labels,
                "ExternalURL": external_url, "Value": value}

        def expand(t: Any) -> str:
            try:
                return t.execute(data)
            except (TemplateError, Exception) as exc:  # noqa: BLE001 - Prometheus writes the error in the text
                return f"<error expanding template: {exc}>"

        lb = {k: v for k, v in labels.items() if k != "__name__"}
        for k, t in label_tmpls.items():
            lb[k] = expand(t)
        lb["alertname"] = rule["alert"]
        lb = {k: v for k, v in lb.items() if v != ""}
        key = A.key_of(lb)
        if key in found:
            raise RuleEvalError("vector contains metrics with the same labelset after applying alert labels")
        found[key] = {"labels": lb, "annotations": {k: expand(t) for k, t in annot_tmpls.items()},
                      "activeAt": ts, "state": "pending", "value": json_float(value)}
    active = {A.key_of(a["labels"]): a for a in state.get("alerts", [])}
    try:
        active, _ = A.step(active, found, ts, rule["for_ms"], rule.get("keep_firing_for_ms", 0), limit)
    finally:
        state["alerts"] = list(active.values())
    out = []
    for a in state["alerts"]:
        if a["state"] != "inactive":
            out.extend(A.series(a))
    return out


def evaluate_group(plpy: Any, GD: dict, file: str, name: str, ts: int, restore: bool, resend_delay_ms: int,
                   external_labels: dict, external_url: str) -> list[dict]:
    """Evaluates the group at ``ts`` (Unix ms), writes its samples, saves its state; returns
    the alerts to send to Alertmanager now (v2 API form)."""
    plan = GD.get("rules_lock_plan")
    if plan is None:
        plan = GD["rules_lock_plan"] = plpy.prepare(
            "SELECT spec, state FROM _prom_catalog.rule_group WHERE file = $1 AND name = $2 FOR UPDATE",
            ["text", "text"])
    rows = plpy.execute(plan, [file, name])
    if not rows:
        from .store import fail
        fail(plpy, f'no rule group "{name}" in file "{file}"')
    spec = json.loads(rows[0]["spec"])
    state = json.loads(rows[0]["state"])
    started = _time.monotonic()
    rule_states = state.setdefault("rules", [{} for _ in spec["rules"]])
    last_eval = state.get("lastEvaluation")
    samples: list[tuple[dict[str, str], float]] = []
    stale: list[dict[str, str]] = [dict(l) for l in state.pop("pendingStale", [])]
    for i, rule in enumerate(spec["rules"]):
        rs = rule_states[i]
        rule_started = _time.monotonic()
        try:
            result = _query(plpy, GD, rule["expr"], ts)
            if "record" in rule:
                out = _record(rule, result, spec.get("limit", 0))
            else:
                if restore and last_eval is not None:
                    active = {A.key_of(a["labels"]): a for a in rs.get("alerts", [])}
                    A.restore(active, last_eval, ts, rule["for_ms"])
                    rs["alerts"] = list(active.values())
                out = _alert(plpy, GD, rule, rs, result, ts, spec.get("limit", 0), external_labels, external_url)
            rs["health"], rs["lastError"] = "ok", ""
        except (RuleEvalError, ValueError) as exc:
            # as Prometheus: the rule's series are left as they were (no stale markers)
            rs["health"], rs["lastError"] = "err", str(exc)
            rs["lastEvaluation"] = ts
            rs["evaluationTime"] = _time.monotonic() - rule_started
            continue
        rs["lastEvaluation"] = ts
        rs["evaluationTime"] = _time.monotonic() - rule_started
        now_keys = {A.key_of(l) for l, _ in out}
        stale.extend(dict(l) for l in rs.get("series", []) if A.key_of(l) not in now_keys)
        rs["series"] = [l for l, _ in out]
        samples.extend(out)
    samples.extend((l, float("nan")) for l in stale)
    n_stale = len(stale)
    _write(plpy, GD, samples, ts, n_stale)
    state["lastEvaluation"] = ts
    state["evaluationTime"] = _time.monotonic() - started
    to_send = _alerts_to_send(spec, rule_states, ts, resend_delay_ms, interval_ms(spec), external_labels,
                              external_url)
    save = GD.get("rules_save_plan")
    if save is None:
        save = GD["rules_save_plan"] = plpy.prepare(
            "UPDATE _prom_catalog.rule_group SET state = $3::jsonb WHERE file = $1 AND name = $2",
            ["text", "text", "text"])
    plpy.execute(save, [file, name, json.dumps(state)])
    return to_send


def _alerts_to_send(spec: dict, rule_states: list, ts: int, resend_delay_ms: int, group_interval_ms: int,
                    external_labels: dict, external_url: str) -> list[dict]:
    from urllib.parse import quote_plus
    out = []
    for rule, rs in zip(spec["rules"], rule_states):
        if "alert" not in rule:
            continue
        url = f"{external_url}/graph?g0.expr={quote_plus(rule['expr'])}&g0.tab=1"
        for a in rs.get("alerts", []):
            if A.needs_sending(a, ts, resend_delay_ms):
                a["lastSentAt"] = ts
                a["validUntil"] = ts + 4 * max(resend_delay_ms, group_interval_ms)
                out.append(A.to_alertmanager(a, external_labels, url))
    return out


def _write(plpy: Any, GD: dict, samples: list[tuple[dict[str, str], float]], ts: int, n_stale: int) -> None:
    """Samples at ``ts``; the last ``n_stale`` are stale markers (exact NaN bits)."""
    if not samples:
        return
    ords, keys, vals = [], [], []
    for i, (labels, _) in enumerate(samples):
        for k, v in labels.items():
            ords.append(i)
            keys.append(k)
            vals.append(v)
    plan = GD.get("rules_series_plan")
    if plan is None:
        plan = GD["rules_series_plan"] = plpy.prepare(
            "SELECT array_agg(series_id ORDER BY ord) AS ids FROM prom_api.get_or_create_series_ids($1, $2, $3)",
            ["int[]", "text[]", "text[]"])
    ids = plpy.execute(plan, [ords, keys, vals])[0]["ids"]
    n = len(samples)
    bits = [struct.unpack("<q", struct.pack("<d", v))[0] for _, v in samples[:n - n_stale]]
    bits += [STALE_NAN_BITS] * n_stale
    put = GD.get("rules_put_plan")
    if put is None:
        put = GD["rules_put_plan"] = plpy.prepare(
            "SELECT prom_api.put_samples($1, array_fill(_prom_catalog.timestamptz_from_us($2), "
            "ARRAY[cardinality($1)]), ARRAY(SELECT _prom_catalog.float8_from_bits(b) FROM unnest($3::bigint[]) "
            "WITH ORDINALITY AS x(b, o) ORDER BY o))", ["bigint[]", "bigint", "bigint[]"])
    plpy.execute(put, [ids, (ts - 946_684_800_000) * 1000, bits])
