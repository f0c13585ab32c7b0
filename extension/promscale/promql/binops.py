"""Binary operators: arithmetic, comparisons (with bool), set operators, vector matching."""

from __future__ import annotations

import numpy as np

from . import ast as A
from .values import PromQLError, Scalar, Vector, drop_name, labels_get, labels_str, merge_rows

ARITH_DROP_NAME = {"+", "-", "*", "/", "^", "%"}
COMPARISON = {"==", "!=", "<=", "<", ">=", ">"}


def apply_op(op: str, lv: np.ndarray, rv: np.ndarray):
    """vectorElemBinop: (value, keep) arrays."""
    with np.errstate(all="ignore"):
        if op == "+":
            return lv + rv, None
        if op == "-":
            return lv - rv, None
        if op == "*":
            return lv * rv, None
        if op == "/":
            return lv / rv, None
        if op == "^":
            return np.power(lv, rv), None
        if op == "%":
            return np.fmod(lv, rv), None
        if op == "atan2":
            return np.arctan2(lv, rv), None
        if op == "==":
            return lv, lv == rv
        if op == "!=":
            return lv, lv != rv
        if op == ">":
            return lv, lv > rv
        if op == "<":
            return lv, lv < rv
        if op == ">=":
            return lv, lv >= rv
        if op == "<=":
            return lv, lv <= rv
    raise PromQLError(f"operator {op!r} not allowed for operations between vectors")


def signature_fn(matching):
    if matching is None:
        return lambda l: drop_name(l)
    names = set(matching.matching_labels)
    if matching.on:
        return lambda l: tuple(p for p in l if p[0] in names)
    return lambda l: tuple(p for p in l if p[0] not in names and p[0] != "__name__")


def binary(ev, node: A.BinaryExpr, ts):
    lhs = ev.eval(node.lhs, ts)
    rhs = ev.eval(node.rhs, ts)
    op = node.op
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        v, keep = apply_op(op, lhs.vals, rhs.vals)
        if keep is not None:
            v = keep.astype(float)
        return Scalar(v)
    if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
        return vector_scalar(op, lhs, rhs.vals, False, node.return_bool)
    if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
        return vector_scalar(op, rhs, lhs.vals, True, node.return_bool)
    if op == "and":
        return set_and(lhs, rhs, node.matching)
    if op == "or":
        return set_or(lhs, rhs, node.matching)
    if op == "unless":
        return set_unless(lhs, rhs, node.matching)
    return vector_vector(op, lhs, rhs, node.matching, node.return_bool)


def vector_scalar(op, vec: Vector, s: np.ndarray, swap: bool, return_bool: bool) -> Vector:
    lv, rv = (s[None, :], vec.vals) if swap else (vec.vals, s[None, :])
    value, keep = apply_op(op, lv, rv)
    value = np.broadcast_to(value, vec.vals.shape)
    mask = vec.mask
    if keep is not None:
        if swap:
            value = vec.vals
        if return_bool:
            value = keep.astype(float)
        else:
            mask = mask & keep
    if op in ARITH_DROP_NAME or return_bool:
        labels = [drop_name(l) for l in vec.labels]
        return merge_rows(labels, np.array(value), mask).nonempty()
    return Vector(vec.labels, np.array(value), mask).nonempty()


def _sig_presence(vec: Vector, sigf):
    pres = {}
    for i, l in enumerate(vec.labels):
        s = sigf(l)
        if s in pres:
            pres[s] = pres[s] | vec.mask[i]
        else:
            pres[s] = vec.mask[i]
    return pres


def set_and(lhs: Vector, rhs: Vector, matching) -> Vector:
    sigf = signature_fn(matching)
    pres = _sig_presence(rhs, sigf)
    n = lhs.vals.shape[1]
    none = np.zeros(n, dtype=bool)
    mask = np.array([lhs.mask[i] & pres.get(sigf(l), none) for i, l in enumerate(lhs.labels)], dtype=bool).reshape(lhs.mask.shape)
    return Vector(lhs.labels, lhs.vals, mask).nonempty()


def set_unless(lhs: Vector, rhs: Vector, matching) -> Vector:
    sigf = signature_fn(matching)
    pres = _sig_presence(rhs, sigf)
    n = lhs.vals.shape[1]
    none = np.zeros(n, dtype=bool)
    mask = np.array([lhs.mask[i] & ~pres.get(sigf(l), none) for i, l in enumerate(lhs.labels)], dtype=bool).reshape(lhs.mask.shape)
    return Vector(lhs.labels, lhs.vals, mask).nonempty()


def set_or(lhs: Vector, rhs: Vector, matching) -> Vector:
    sigf = signature_fn(matching)
    pres = _sig_presence(lhs, sigf)
    n = lhs.vals.shape[1]
    none = np.zeros(n, dtype=bool)
    rmask = np.array([rhs.mask[i] & ~pres.get(sigf(l), none) for i, l in enumerate(rhs.labels)], dtype=bool).reshape(rhs.mask.shape)
    labels = list(lhs.labels) + list(rhs.labels)
    vals = np.concatenate([lhs.vals, rhs.vals])
    mask = np.concatenate([lhs.mask, rmask])
    return merge_rows(labels, vals, mask).nonempty()


def result_metric(lhs_l, rhs_l, op, matching):
    d = dict(lhs_l)
    if op in ARITH_DROP_NAME:
        d.pop("__name__", None)
    if matching.card == "one-to-one":
        if matching.on:
            keep = set(matching.matching_labels)
            d = {k: v for k, v in d.items() if k in keep}
        else:
            for k in matching.matching_labels:
                d.pop(k, None)
    for ln in matching.include:
        v = labels_get(rhs_l, ln)
        if v != "":
            d[ln] = v
        else:
            d.pop(ln, None)
    return tuple(sorted(d.items()))


def vector_vector(op, lhs: Vector, rhs: Vector, matching, return_bool) -> Vector:
    card = matching.card
    sigf = signature_fn(matching)
    one_to_many = card == "one-to-many"
    if one_to_many:
        lhs, rhs = rhs, lhs
    n = lhs.vals.shape[1]
    # the "one" side grouped by signature; two of a group present at one step is an error
    groups: dict = {}
    for i, l in enumerate(rhs.labels):
        groups.setdefault(sigf(l), []).append(i)
    for sig, rows in groups.items():
        if len(rows) > 1:
            counts = rhs.mask[rows].sum(axis=0)
            if (counts > 1).any():
                step = int(np.argmax(counts > 1))
                present = [r for r in rows if rhs.mask[r, step]]
                side = "left" if one_to_many else "right"
                matched = tuple(p for p in rhs.labels[present[0]] if (p[0] in matching.matching_labels) == matching.on and (matching.on or p[0] != "__name__"))
                raise PromQLError(
                    f"found duplicate series for the match group {labels_str(matched)} on the {side} hand-side of the operation: "
                    f"[{labels_str(rhs.labels[present[1]])}, {labels_str(rhs.labels[present[0]])}];"
                    "many-to-many matching not allowed: matching labels must be unique on one side")
    out_labels, out_vals, out_mask, out_sigs = [], [], [], []
    for i, l in enumerate(lhs.labels):
        sig = sigf(l)
        rows = groups.get(sig)
        if not rows:
            continue
        for r in rows:
            m = lhs.mask[i] & rhs.mask[r]
            if not m.any():
                continue
            vl, vr = lhs.vals[i], rhs.vals[r]
            if one_to_many:
                vl, vr = vr, vl
            value, keep = apply_op(op, vl, vr)
            if keep is not None:
                if return_bool:
                    value = keep.astype(float)
                else:
                    m = m & keep
                    if not m.any():
                        continue
            metric = result_metric(l, rhs.labels[r], op, matching)
            if return_bool:
                metric = drop_name(metric)
            out_labels.append(metric)
            out_vals.append(value)
            out_mask.append(m)
            out_sigs.append(sig)
    if not out_labels:
        return Vector.empty(n)
    vals = np.array(out_vals)
    mask = np.array(out_mask)
    # matchedSigs checks: one lhs element per signature (one-to-one) or per result metric (many-to-one)
    seen: dict = {}
    for k, sig in enumerate(out_sigs):
        key = sig if card == "one-to-one" else (sig, out_labels[k])
        if key in seen:
            prev = seen[key]
            if (prev & mask[k]).any():
                if card == "one-to-one":
                    raise PromQLError("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                raise PromQLError("multiple matches for matching labels in many-to-one matching must be explicit (group_left/group_right)")
            seen[key] = prev | mask[k]
        else:
            seen[key] = mask[k]
    return merge_rows(out_labels, vals, mask).nonempty()
