"""Rule files in Prometheus's format, parsed and validated as Prometheus 2.42's rulefmt and
``promtool check rules`` do: strict YAML fields, names, PromQL expressions, label and
annotation templates. A file or group with problems is refused with every problem listed,
in promtool's words (``group "g", rule 1, "name": ...``).

A parsed group is a plain dict (stored as jsonb): ``{"name", "interval_ms" (None: the
default), "limit", "rules": [{"record" | "alert", "expr", "for_ms", "keep_firing_for_ms",
"labels", "annotations"}]}``.
"""

from __future__ import annotations

import re
from typing import Any

from ..promql.lexer import parse_duration
from ..promql.parser import ParseError, parse
from . import template_funcs
from .template import Template, TemplateError

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
GROUP_FIELDS = {"name", "interval", "limit", "rules"}
RULE_FIELDS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
TEMPLATE_DEFS = ("{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
                 "{{$externalURL := .ExternalURL}}{{$value := .Value}}")


class RuleError(Exception):
    """Rules that Prometheus would refuse; ``errors`` lists each problem."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def load_yaml(text: str) -> Any:
    import yaml
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError([f"yaml: {exc}".replace("\n", " ")]) from None


def parse_rule_file(text: str) -> list[dict]:
    """The groups of a rule file (``groups: [...]``)."""
    doc = load_yaml(text)
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise RuleError(["yaml: a rule file is a mapping with a 'groups' list"])
    unknown = sorted(set(doc) - {"groups"})
    if unknown:
        raise RuleError([f"yaml: field {k} not found in type rulefmt.RuleGroups" for k in unknown])
    groups = doc.get("groups") or []
    if not isinstance(groups, list):
        raise RuleError(["yaml: 'groups' must be a list"])
    errors: list[str] = []
    parsed: list[dict] = []
    seen: set[str] = set()
    for g in groups:
        try:
            group = parse_group(g)
        except RuleError as exc:
            errors.extend(exc.errors)
            continue
        if group["name"] in seen:
            errors.append(f'groupname: "{group["name"]}" is repeated in the same file')
        seen.add(group["name"])
        parsed.append(group)
    if errors:
        raise RuleError(errors)
    return parsed


def parse_group_text(text: str, name: str | None = None) -> dict:
    """One group given as YAML: a mapping with ``rules`` (and ``name``, which must then equal
    ``name``), or a rule file holding exactly one group."""
    doc = load_yaml(text)
    if isinstance(doc, dict) and "groups" in doc:
        groups = parse_rule_file(text)
        if len(groups) != 1:
            raise RuleError([f"expected one rule group, found {len(groups)}"])
        group = groups[0]
    else:
        if isinstance(doc, dict) and name is not None:
            doc = {"name": name, **doc}
        group = parse_group(doc)
    if name is not None and group["name"] != name:
        raise RuleError([f'the YAML names group "{group["name"]}", not "{name}"'])
    return group


def _duration_ms(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise RuleError([f"{what}: {exc}"]) from None


def parse_group(g: Any) -> dict:
    if not isinstance(g, dict):
        raise RuleError(["yaml: a rule group is a mapping (name, interval, limit, rules)"])
    errors = [f"yaml: field {k} not found in type rulefmt.RuleGroup" for k in sorted(set(g) - GROUP_FIELDS)]
    name = g.get("name")
    if not isinstance(name, (str, int, float, bool, type(None))):
        raise RuleError(errors + ["yaml: a group's name must be a string"])
    name = "" if name is None else str(name)
    if not name:
        errors.append("Groupname must not be empty")
    interval_ms = None
    if g.get("interval") is not None:
        try:
            interval_ms = _duration_ms(g["interval"], f'group "{name}": interval')
        except RuleError as exc:
            errors.extend(exc.errors)
        if interval_ms is not None and interval_ms <= 0:
            interval_ms = None  # Prometheus: a zero interval means the global evaluation_interval
    limit = g.get("limit") or 0
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        errors.append(f'group "{name}": limit must be a non-negative integer')
        limit = 0
    raw_rules = g.get("rules") or []
    if not isinstance(raw_rules, list):
        raise RuleError(errors + [f'group "{name}": rules must be a list'])
    rules = []
    for i, r in enumerate(raw_rules, start=1):
        rule, problems = _parse_rule(r)
        # promtool names a rule by its alert, else its record
        rule_name = str((r.get("alert") or r.get("record") or "") if isinstance(r, dict) else "")
        errors.extend(f'group "{name}", rule {i}, "{rule_name}": {p}' for p in problems)
        if rule:
            rules.append(rule)
    if errors:
        raise RuleError(errors)
    return {"name": name, "interval_ms": interval_ms, "limit": limit, "rules": rules}


def _parse_rule(r: Any) -> tuple[dict, list[str]]:
    if not isinstance(r, dict):
        return {}, ["a rule is a mapping (record or alert, expr, ...)"]
    problems = [f"field {k} not found in type rulefmt.RuleNode" for k in sorted(set(r) - RULE_FIELDS)]
    labels = r.get("labels") or {}
    annotations = r.get("annotations") or {}
    if not isinstance(labels, dict) or not isinstance(annotations, dict):
        return {}, problems + ["labels and annotations must be mappings"]
    scalars = (str, int, float, bool, type(None))
    for what, mapping in (("label", labels), ("annotation", annotations)):
        # only strings (or YAML scalars): also keeps str() away from YAML alias bombs
        if not all(isinstance(k, scalars) and isinstance(v, scalars) for k, v in mapping.items()):
            return {}, problems + [f"{what} names and values must be strings"]
    for key in ("record", "alert", "expr", "for", "keep_firing_for"):
        if not isinstance(r.get(key), scalars):
            return {}, problems + [f"field '{key}' must be a string"]
    record = "" if r.get("record") is None else str(r["record"])
    alert = "" if r.get("alert") is None else str(r["alert"])
    expr = "" if r.get("expr") is None else str(r["expr"])
    labels = {str(k): "" if v is None else str(v) for k, v in labels.items()}
    annotations = {str(k): "" if v is None else str(v) for k, v in annotations.items()}
    for_ms = keep_ms = 0
    for key in ("for", "keep_firing_for"):
        if r.get(key) is not None:
            try:
                ms = _duration_ms(r[key], key)
            except RuleError as exc:
                problems.extend(exc.errors)
                continue
            if key == "for":
                for_ms = ms
            else:
                keep_ms = ms
    if record and alert:
        problems.append("only one of 'record' and 'alert' must be set")
    if not record and not alert:
        problems.append("one of 'record' or 'alert' must be set")
    if not expr:
        problems.append("field 'expr' must be set in rule")
    else:
        try:
            parse(expr)
        except ParseError as exc:
            problems.append(f"could not parse expression: {exc}")
    if record:
        if annotations:
            problems.append("invalid field 'annotations' in recording rule")
        if for_ms:
            problems.append("invalid field 'for' in recording rule")
        if keep_ms:
            problems.append("invalid field 'keep_firing_for' in recording rule")
        if not _METRIC_NAME.fullmatch(record):
            problems.append(f"invalid recording rule name: {record}")
    for k in labels:
        if not _LABEL_NAME.fullmatch(k) or k == "__name__":
            problems.append(f"invalid label name: {k}")
    for k in annotations:
        if not _LABEL_NAME.fullmatch(k):
            problems.append(f"invalid annotation name: {k}")
    if alert:
        for what, mapping in (("label", labels), ("annotation", annotations)):
            for k, v in mapping.items():
                try:
                    compile_template(v, alert)
                except TemplateError as exc:
                    problems.append(f'{what} "{k}": {exc}')
    rule: dict = {"expr": expr, "labels": labels}
    if record:
        rule["record"] = record
    else:
        rule.update(alert=alert, for_ms=for_ms, keep_firing_for_ms=keep_ms, annotations=annotations)
    return rule, problems


def compile_template(text: str, alert_name: str, query=None, external_url: str = "") -> Template:
    """An alert rule's label or annotation template, with Prometheus's variable definitions."""
    return Template(TEMPLATE_DEFS + text, "__alert_" + alert_name, template_funcs.functions(query, external_url))
