"""Where selectors get their series: label matchers become SQL on the catalog, samples come
from the one read path (prom_api.get_samples, here in its NumPy form lifecycle.read.read_samples:
per-series arrays for the whole window).

Label ids are stable and never reused, so their (key, value) is cached for the session.
"""

from __future__ import annotations

import numpy as np

_PG_EPOCH_US = 946684800000000  # 2000-01-01 in Unix microseconds: the read path's time origin


def _slice(rows, mint: int, maxt: int):
    out = []
    for labels, t, v, *extra in rows:
        lo = np.searchsorted(t, mint, "left")
        hi = np.searchsorted(t, maxt, "right")
        if hi > lo:
            # rollups' counter points carry per-point arrays (RollupStorage)
            out.append((labels, t[lo:hi], v[lo:hi], *[{k: a[lo:hi] for k, a in e.items()} for e in extra]))
    return out


def _label_order_key(entry: tuple) -> str:
    """A string that sorts like the label set (a tuple of (name, value) pairs sorted by name):
    name and value end in \x01 and \x00, below any character a name or value can hold (names
    are [a-zA-Z0-9_]; text cannot hold NUL), so a shorter name or value, or fewer labels, sort
    first as in the tuple order."""
    return "".join([f"{k}\x01{v}\x00" for k, v in entry[0]])


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
        # ">= AND <=": a generic plan of "key = $1" expects a tenth of all labels and scans them
        # all; as a narrow range, the (key, value) index reads only this key's values
        plan = self._plan("label_key", "SELECT id, value FROM _prom_catalog.label WHERE key >= $1 AND key <= $1",
                          ["text"])
        match, nomatch = [], []
        for r in self.plpy.execute(plan, [m.name]):
            (match if m.matches(r["value"]) else nomatch).append(r["id"])
        return match, nomatch

    def visibility(self):
        """(must_have, must_not_have) label ids of the series this statement may see (multitenancy:
        sql/idempotent/012-tenancy.sql, _prom_catalog.visible_label_filter); None when it may
        see every series. Asked once per statement (a SqlStorage lives for one): the request's
        tenant can differ between the statements of a session."""
        if not hasattr(self, "_visibility"):
            plan = self._plan("visibility",
                              "SELECT must_have, must_not_have FROM _prom_catalog.visible_label_filter()", [])
            row = self.plpy.execute(plan)[0]
            restricted = row["must_have"] is not None or row["must_not_have"] is not None
            self._visibility = (row["must_have"], row["must_not_have"]) if restricted else None
        return self._visibility

    def label_id_filters(self, matchers):
        """(pos, neg) such that a series matches every matcher when its labels overlap each
        label-id list of pos and none of neg (GIN-indexed tests); None when none can match.
        The one place where matchers become series: the tenant's visibility filter joins here
        as one more overlap test, so every selector (PromQL, series, labels, exemplars,
        rollups, delete) sees only the series its statement may see."""
        pos, neg = [], []
        visible = self.visibility()
        if visible is not None:
            must_have, must_not_have = visible
            if must_have is not None:
                if not must_have:
                    return None
                pos.append(list(must_have))
            if must_not_have:
                neg.append(list(must_not_have))
        for m in matchers:
            match, nomatch = self._label_ids(m)
            if m.matches(""):
                # series lacking the key match too: exclude the values that do not match
                if nomatch:
                    neg.append(nomatch)
            else:
                if not match:
                    return None
                pos.append(match)
        return pos, neg

    def label_sets(self, widths, labels_text):
        """The sorted (key, value) pairs of labels arrays given as their lengths and all their
        label ids in one space-separated text (string_agg(array_to_string(labels, ' '), ' ')):
        PL/Python makes a Python object per row and field (~5 us per series), but parses one long
        text of label ids at C speed."""
        flat = np.array(labels_text.split(" "), dtype=np.int64) if widths else np.zeros(0, dtype=np.int64)
        cache = self.label_cache
        missing = [lid for lid in np.unique(flat).tolist() if lid and lid not in cache]
        if missing:
            plan = self._plan("labels", "SELECT id, key, value FROM _prom_catalog.label WHERE id = ANY($1)", ["int4[]"])
            for r in self.plpy.execute(plan, [missing]):
                cache[r["id"]] = (r["key"], r["value"])
        label_ids = flat.tolist()
        out = []
        at = 0
        for width in widths:
            out.append(tuple(sorted(cache[lid] for lid in label_ids[at:at + width] if lid)))
            at += width
        return out

    def series_for(self, matchers):
        key = tuple((m.type, m.name, m.value) for m in matchers)
        hit = self.series_cache.get(key)
        if hit is not None:
            return hit
        filters = self.label_id_filters(matchers)
        if filters is None:
            self.series_cache[key] = []
            return []
        pos, neg = filters
        conds = [f"s.labels OPERATOR(pg_catalog.&&) ${i + 1}" for i in range(len(pos))]
        conds += [f"NOT s.labels OPERATOR(pg_catalog.&&) ${len(pos) + i + 1}" for i in range(len(neg))]
        where = " AND ".join(conds) if conds else "true"
        # one row for all matching series (see label_sets)
        plan = self._plan(("series", len(pos), len(neg)),
                          "SELECT array_agg(s.id) AS ids, array_agg(cardinality(s.labels)) AS widths, "
                          "string_agg(array_to_string(s.labels, ' '), ' ') AS labels "
                          f"FROM _prom_catalog.series s WHERE {where}",
                          ["int4[]"] * (len(pos) + len(neg)))
        row = self.plpy.execute(plan, pos + neg)[0]
        out = list(zip(self.label_sets(row["widths"] or [], row["labels"]), row["ids"] or []))
        # label order (Prometheus's labels.Compare), through one string per label set: comparing
        # strings is a memcmp, comparing tuples of pairs a Python call per element
        out.sort(key=_label_order_key)
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
        # The read path's NumPy form (lifecycle.read.read_samples): the same samples as
        # prom_api.get_samples, but head rows are merged and deduplicated with NumPy instead of a
        # SQL sort, and compressed rows never become SQL values (measured: most of a query's time
        # was get_samples' sort).
        from ..lifecycle.read import read_samples_flat, series_bounds

        plans = self.session.setdefault("promql_read_plans", {})
        ids, times_us, values = read_samples_flat(self.plpy, plans, [sid for _, sid in series],
                                                  mint * 1000 - _PG_EPOCH_US, maxt * 1000 - _PG_EPOCH_US)
        times_ms = (times_us + _PG_EPOCH_US) // 1000  # once for every series
        bounds = series_bounds(ids)
        out = []
        for labels, sid in series:
            span = bounds.get(sid)
            if span is not None:
                out.append((labels, times_ms[span[0]:span[1]], values[span[0]:span[1]]))
        return out


class RollupStorage(SqlStorage):
    """Selectors answered from rollups of one resolution (max_source_resolution): each read
    asks for one aggregate's pseudo-samples (rollup/read.py); plain selectors read ``lasts``."""

    def __init__(self, plpy, session: dict, resolution_s: int):
        super().__init__(plpy, session)
        self.resolution_s = resolution_s

    def select(self, matchers, mint: int, maxt: int, aggregate: str = "lasts"):
        key = (tuple((m.type, m.name, m.value) for m in matchers), aggregate)
        for cmin, cmax, rows in self.sample_cache.get(key, ()):
            if cmin <= mint and maxt <= cmax:
                return _slice(rows, mint, maxt)
        series = self.series_for(matchers)
        rows = []
        if series:
            from ..rollup.read import read_rollups

            plans = self.session.setdefault("promql_rollup_plans", {})
            found = read_rollups(self.plpy, plans, self.resolution_s, aggregate, [sid for _, sid in series],
                                 mint, maxt, self.session)
            for labels, sid in series:
                if sid in found:  # points in [mint, maxt] only
                    rows.append((labels, *found[sid]))
        self.sample_cache.setdefault(key, []).append((mint, maxt, rows))
        return rows
