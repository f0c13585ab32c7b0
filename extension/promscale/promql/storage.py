"""Where selectors get their series: label matchers become SQL on the catalog, samples come
from the one read path prom_api.get_samples (per-series arrays for the whole window).

Label ids are stable and never reused, so their (key, value) is cached for the session.
"""

from __future__ import annotations

import numpy as np

# The arrays travel in PostgreSQL's binary array format (bytea): decoding them with NumPy is
# far cheaper than PL/Python building a Python list of datetimes and floats.
_SAMPLES_SQL = """
SELECT g.series_id, pg_catalog.array_send(g.times) AS t, pg_catalog.array_send(g.vals) AS v
FROM prom_api.get_samples($1, pg_catalog.to_timestamp($2), pg_catalog.to_timestamp($3)) g
"""
_PG_EPOCH_US = 946684800000000  # 2000-01-01 in Unix microseconds
_ELEM = np.dtype([("len", ">i4"), ("val", ">i8")])
_ELEM_F = np.dtype([("len", ">i4"), ("val", ">f8")])


def decode_array(buf: bytes, dtype) -> np.ndarray:
    """A one-dimensional array_send() of 8-byte elements without NULLs."""
    ndim = int.from_bytes(buf[0:4], "big")
    if ndim == 0:
        return np.zeros(0, dtype=dtype["val"].newbyteorder("="))
    # header: ndim, has-nulls flag, element type, then (length, lower bound) per dimension
    return np.frombuffer(buf, dtype=dtype, offset=12 + 8 * ndim)["val"]


def decode_times_ms(buf: bytes) -> np.ndarray:
    us = decode_array(buf, _ELEM).astype(np.int64)
    return (us + _PG_EPOCH_US) // 1000


def decode_floats(buf: bytes) -> np.ndarray:
    return decode_array(buf, _ELEM_F).astype(np.float64)


def _slice(rows, mint: int, maxt: int):
    out = []
    for labels, t, v in rows:
        lo = np.searchsorted(t, mint, "left")
        hi = np.searchsorted(t, maxt, "right")
        if hi > lo:
            out.append((labels, t[lo:hi], v[lo:hi]))
    return out


class MemoryStorage:
    """Series held in Python, for unit tests: {labels_tuple: (times_ms, values)}."""

    def __init__(self, data: dict):
        self.data = {k: (np.asarray(t, dtype=np.int64), np.asarray(v, dtype=float)) for k, (t, v) in data.items()}

    def select(self, matchers, mint: int, maxt: int):
        out = []
        for labels in sorted(self.data):
            d = dict(labels)
            if all(m.matches(d.get(m.name, "")) for m in matchers):
                t, v = self.data[labels]
                lo = np.searchsorted(t, mint, "left")
                hi = np.searchsorted(t, maxt, "right")
                if hi > lo:
                    out.append((labels, t[lo:hi], v[lo:hi]))
        return out


class SqlStorage:
    def __init__(self, plpy, session: dict):
        self.plpy = plpy
        self.session = session
        self.label_cache: dict = session.setdefault("promql_labels", {})
        self.plans: dict = session.setdefault("promql_plans", {})
        self.series_cache: dict = {}
        self.sample_cache: dict = {}

    def _plan(self, key, sql, types):
        p = self.plans.get(key)
        if p is None:
            p = self.plpy.prepare(sql, types)
            self.plans[key] = p
        return p

    def _label_ids(self, m):
        """(ids of the key's values matching m, ids of those not matching)."""
        if m.type == "=" and m.value != "":
            plan = self._plan("label_eq", "SELECT id FROM _prom_catalog.label WHERE key = $1 AND value = $2",
                              ["text", "text"])
            return [r["id"] for r in self.plpy.execute(plan, [m.name, m.value])], None
        plan = self._plan("label_key", "SELECT id, value FROM _prom_catalog.label WHERE key = $1", ["text"])
        match, nomatch = [], []
        for r in self.plpy.execute(plan, [m.name]):
            (match if m.matches(r["value"]) else nomatch).append(r["id"])
        return match, nomatch

    def series_for(self, matchers):
        key = tuple((m.type, m.name, m.value) for m in matchers)
        hit = self.series_cache.get(key)
        if hit is not None:
            return hit
        pos, neg = [], []
        for m in matchers:
            match, nomatch = self._label_ids(m)
            if m.matches(""):
                # series lacking the key match too: exclude the values that do not match
                if nomatch is None:
                    nomatch = []
                if nomatch:
                    neg.append(nomatch)
            else:
                if not match:
                    self.series_cache[key] = []
                    return []
                pos.append(match)
        conds = [f"s.labels OPERATOR(pg_catalog.&&) ${i + 1}" for i in range(len(pos))]
        conds += [f"NOT s.labels OPERATOR(pg_catalog.&&) ${len(pos) + i + 1}" for i in range(len(neg))]
        where = " AND ".join(conds) if conds else "true"
        plan = self._plan(("series", len(pos), len(neg)),
                          f"SELECT s.id, s.labels FROM _prom_catalog.series s WHERE {where}",
                          ["int4[]"] * (len(pos) + len(neg)))
        rows = self.plpy.execute(plan, pos + neg)
        missing = set()
        for r in rows:
            for lid in r["labels"]:
                if lid and lid not in self.label_cache:
                    missing.add(lid)
        if missing:
            plan = self._plan("labels", "SELECT id, key, value FROM _prom_catalog.label WHERE id = ANY($1)", ["int4[]"])
            for r in self.plpy.execute(plan, [list(missing)]):
                self.label_cache[r["id"]] = (r["key"], r["value"])
        out = []
        for r in rows:
            labels = tuple(sorted(self.label_cache[lid] for lid in r["labels"] if lid))
            out.append((labels, r["id"]))
        out.sort()
        self.series_cache[key] = out
        return out

    def select(self, matchers, mint: int, maxt: int):
        """(labels, times ms, values) of every matching series with samples in [mint, maxt]."""
        key = tuple((m.type, m.name, m.value) for m in matchers)
        # a selector repeated in the query (a / sum(a)) reads the samples once
        for cmin, cmax, rows in self.sample_cache.get(key, ()):
            if cmin <= mint and maxt <= cmax:
                return _slice(rows, mint, maxt)
        rows = self._select(matchers, mint, maxt)
        self.sample_cache.setdefault(key, []).append((mint, maxt, rows))
        return rows

    def _select(self, matchers, mint: int, maxt: int):
        series = self.series_for(matchers)
        if not series:
            return []
        plan = self._plan("samples", _SAMPLES_SQL, ["int8[]", "float8", "float8"])
        ids = [sid for _, sid in series]
        rows = self.plpy.execute(plan, [ids, mint / 1000.0, maxt / 1000.0])
        by_id = {r["series_id"]: r for r in rows}
        out = []
        for labels, sid in series:
            r = by_id.get(sid)
            if r is None:
                continue
            t = decode_times_ms(r["t"])
            if not len(t):
                continue
            out.append((labels, t, decode_floats(r["v"])))
        return out
