"""Rule groups in ``_prom_catalog.rule_group``: stored from SQL or from the connector's rule
files, replaced with their state carried over (as Prometheus's Group.CopyState: a rule
that stays keeps its alerts and last series; the series of a rule that went get stale
markers at the next evaluation), and the group schedule (interval and Prometheus's
evaluation offset)."""

from __future__ import annotations

import json
from typing import Any

from . import spec as S
from .evaluate import interval_ms
from .xxhash import xxh64


class Refused(Exception):
    """Input the SQL function refuses; its SQL wrapper raises the message (SQLSTATE 22023)
    without the "plpy.Error:" prefix PL/Python's own errors carry."""


def fail(plpy: Any, message: str) -> None:
    raise Refused(message)


def refused(plpy: Any, call: Any, *args: Any) -> str | None:
    """None after ``call(plpy, *args)``, or the message it refused with."""
    try:
        call(plpy, *args)
    except Refused as exc:
        return str(exc)
    return None


def _rule_key(rule: dict) -> str:
    kind = "alert" if "alert" in rule else "record"
    return json.dumps([kind, rule[kind], rule["expr"], sorted(rule["labels"].items())])


def carried_state(old_spec: dict | None, old_state: dict | None, new_spec: dict) -> dict:
    if not old_spec or not old_state:
        return {}
    old_rules = {}
    for rule, rs in zip(old_spec["rules"], old_state.get("rules", [])):
        old_rules.setdefault(_rule_key(rule), []).append(rs)
    rules = []
    for rule in new_spec["rules"]:
        matches = old_rules.get(_rule_key(rule))
        rules.append(matches.pop(0) if matches else {})
    stale = list(old_state.get("pendingStale", []))
    for left in old_rules.values():
        for rs in left:
            stale.extend(rs.get("series", []))
    state = {k: v for k, v in old_state.items() if k in ("lastEvaluation", "evaluationTime")}
    state["rules"] = rules
    if stale:
        state["pendingStale"] = stale
    return state


def put_group(plpy: Any, file: str, group: dict, yaml_text: str) -> None:
    rows = plpy.execute(plpy.prepare(
        "SELECT spec, state FROM _prom_catalog.rule_group WHERE file = $1 AND name = $2 FOR UPDATE",
        ["text", "text"]), [file, group["name"]])
    old_spec = json.loads(rows[0]["spec"]) if rows else None
    old_state = json.loads(rows[0]["state"]) if rows else None
    if old_spec == group:
        return  # unchanged (every connector loads the same files at its start): keep all state
    state = carried_state(old_spec, old_state, group)
    plpy.execute(plpy.prepare(
        "INSERT INTO _prom_catalog.rule_group (file, name, yaml, spec, state) "
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb) ON CONFLICT (file, name) DO UPDATE SET yaml = excluded.yaml, spec = excluded.spec, state = excluded.state, "
        "updated_at = pg_catalog.now()", ["text", "text", "text", "text", "text"]),
        [file, group["name"], yaml_text, json.dumps(group), json.dumps(state)])


def put_rule_group(plpy: Any, name: str, yaml_text: str) -> None:
    if not name:
        fail(plpy, "a rule group needs a non-empty name")
    try:
        group = S.parse_group_text(yaml_text, name)
    except S.RuleError as exc:
        fail(plpy, f'invalid rule group "{name}": {exc}')
    put_group(plpy, "", group, yaml_text)


def put_rule_files(plpy: Any, files: list[str], contents: list[str]) -> None:
    """Replaces every group loaded from files with the groups of these files (validated all
    first: one bad file changes nothing); returns how many groups there are now."""
    if len(files) != len(contents):
        fail(plpy, "files and contents must have the same length")
    import yaml
    # one loader at a time: connectors' workers all load their files when they start
    plpy.execute("SELECT pg_catalog.pg_advisory_xact_lock(1886547832)")
    parsed: list[tuple[str, dict, str]] = []
    errors = []
    for file, text in zip(files, contents):
        if not file:
            fail(plpy, "a rule file needs a non-empty name")
        try:
            for group in S.parse_rule_file(text):
                parsed.append((file, group, yaml.safe_dump(_group_yaml(group, text), sort_keys=False)))
        except S.RuleError as exc:
            errors.extend(f"{file}: {e}" for e in exc.errors)
    if errors:
        fail(plpy, "invalid rule files: " + "; ".join(errors))
    keep = {(f, g["name"]) for f, g, _ in parsed}
    for row in plpy.execute("SELECT file, name FROM _prom_catalog.rule_group WHERE file <> '' FOR UPDATE"):
        if (row["file"], row["name"]) not in keep:
            delete_group(plpy, row["file"], row["name"])
    for file, group, text in parsed:
        put_group(plpy, file, group, text)


def _group_yaml(group: dict, file_text: str) -> dict:
    import yaml
    for g in (yaml.safe_load(file_text) or {}).get("groups") or []:
        if isinstance(g, dict) and str(g.get("name")) == group["name"]:
            return g
    return {}


def delete_group(plpy: Any, file: str, name: str) -> bool:
    """Deletes a group; the series its rules wrote last get stale markers now."""
    from .evaluate import _write
    import time
    rows = plpy.execute(plpy.prepare(
        "DELETE FROM _prom_catalog.rule_group WHERE file = $1 AND name = $2 RETURNING state",
        ["text", "text"]), [file, name])
    if not rows:
        return False
    state = json.loads(rows[0]["state"])
    stale = list(state.get("pendingStale", []))
    for rs in state.get("rules", []):
        stale.extend(rs.get("series", []))
    if stale:
        now_ms = int(time.time() * 1000)
        _write(plpy, {}, [(dict(l), float("nan")) for l in stale], now_ms, len(stale))
    return True


def group_offset_ns(file: str, name: str, interval_ns: int) -> int:
    """Prometheus's evaluation offset of a group within its interval: the hash of the labels
    {file, name} modulo the interval (rules/manager.go, Group.hash, EvalTimestamp)."""
    data = b"file\xff" + file.encode() + b"\xff" + b"name\xff" + name.encode() + b"\xff"
    return xxh64(data) % interval_ns


def schedule(plpy: Any) -> list[tuple[str, str, int, int]]:
    """(file, name, interval ms, offset ns) of every group."""
    out = []
    for row in plpy.execute("SELECT file, name, spec FROM _prom_catalog.rule_group ORDER BY file, name"):
        ms = interval_ms(json.loads(row["spec"]))
        out.append((row["file"], row["name"], ms, group_offset_ns(row["file"], row["name"], ms * 1_000_000)))
    return out
