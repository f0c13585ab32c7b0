"""When a rule group is evaluated, as Prometheus 2.42 does it (rules/manager.go): at the
slots ``offset + k * interval`` (the offset, from a hash of the group's file and name,
spreads groups over the interval; the database computes it), the first one after the
evaluator starts; a slot missed while an evaluation ran late is skipped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    file: str
    name: str
    interval_ns: int
    offset_ns: int


def slot_at_or_before(group: Group, t_ns: int) -> int:
    """Prometheus's Group.EvalTimestamp: the latest slot at or before ``t_ns``."""
    adjusted = t_ns - group.offset_ns
    return adjusted - adjusted % group.interval_ns + group.offset_ns


def first_slot(group: Group, start_ns: int) -> int:
    """The first evaluation of a group an evaluator starts at ``start_ns`` (one interval after
    the latest slot, as Prometheus's Group.run waits for)."""
    return slot_at_or_before(group, start_ns) + group.interval_ns


def next_slot(group: Group, evaluated_ns: int, now_ns: int) -> int:
    """The slot after ``evaluated_ns``, skipping those already past at ``now_ns`` but the last."""
    following = evaluated_ns + group.interval_ns
    if following >= now_ns:
        return following
    return slot_at_or_before(group, now_ns)
