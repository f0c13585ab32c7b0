"""Create series from label sets in canonical encoding.

A label set travels as one ``bytea``: its labels in bytewise key order, each as
``key NUL value NUL`` (PostgreSQL text cannot hold NUL, so the encoding is
unambiguous). Its SHA-256 is the series identity (``_prom_catalog.series.label_hash``),
so ``prom_api.get_or_create_series_ids`` finds existing series with one index probe
each and calls :func:`create_series` only for label sets it did not find.

Creation works on the distinct metric names, labels and (metric, key) pairs of the
new series: each is probed once by a unique index, what is missing is inserted
(``ON CONFLICT DO NOTHING``, in sorted order, so concurrent callers neither duplicate
nor deadlock), and the positional labels arrays are built here, in Python, rather than
by joins whose plans depend on the planner's guesses about array sizes.
"""

from __future__ import annotations

import hashlib
from typing import Any

NAME = "__name__"
# A label is one row of _prom_catalog.label, unique on (key, value) by a btree, whose entries
# cannot exceed 2,704 bytes: a longer label would fail deep in the insert (and a writer would
# retry it forever), so it is refused up front, naming the label.
MAX_LABEL_BYTES = 2600


class InvalidLabelSet(ValueError):
    """A label set that is not in canonical encoding, or not a valid series."""


def parse_label_set(blob: bytes) -> list[tuple[str, str]]:
    """The (key, value) pairs of a canonical label set; raises InvalidLabelSet otherwise."""
    try:
        parts = bytes(blob).decode("utf-8").split("\0")
    except UnicodeDecodeError as exc:
        raise InvalidLabelSet(f"not valid UTF-8: {exc}") from exc
    if len(parts) < 3 or len(parts) % 2 == 0 or parts[-1] != "":
        raise InvalidLabelSet("not a sequence of NUL-terminated keys and values")
    keys = parts[0:-1:2]
    values = parts[1:-1:2]
    # code point order is UTF-8 byte order
    if any(not before < after for before, after in zip(keys, keys[1:])):
        raise InvalidLabelSet("a label name is repeated" if len(set(keys)) < len(keys)
                              else "label names are not in bytewise order")
    if keys[0] == "":
        raise InvalidLabelSet("a label name is empty")
    try:
        if values[keys.index(NAME)] == "":
            raise ValueError
    except ValueError:
        raise InvalidLabelSet("it needs exactly one non-empty __name__ label") from None
    if len(blob) > MAX_LABEL_BYTES:  # only then can one label be too long
        for key, value in zip(keys, values):
            size = len(key.encode()) + len(value.encode())
            if size > MAX_LABEL_BYTES:
                raise InvalidLabelSet(f"label {key} is {size} bytes long with its value, over the limit of "
                                      f"{MAX_LABEL_BYTES} bytes (name and value)")
    return list(zip(keys, values))


def encode_label_set(pairs: list[tuple[str, str]]) -> bytes:
    """The canonical encoding of a label set (the inverse of :func:`parse_label_set`)."""
    return b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in sorted(pairs, key=lambda p: p[0].encode()))


def label_set_hash(blob: bytes) -> bytes:
    return hashlib.sha256(blob).digest()


_METRIC_IDS = """
    SELECT n.name, m.id FROM unnest($1::text[]) AS n(name)
    CROSS JOIN LATERAL (SELECT m.id FROM _prom_catalog.metric m WHERE m.metric_name = n.name LIMIT 1) m
"""
# a view name another metric has taken (see _prom_catalog.identifier_for) is skipped by ON CONFLICT,
# and the metric is tried again with the next attempt's name
_NEW_METRICS = """
    INSERT INTO _prom_catalog.metric (metric_name, view_name)
    SELECT n.name, _prom_catalog.identifier_for(n.name, $2) FROM unnest($1::text[]) AS n(name)
    ORDER BY n.name
    ON CONFLICT DO NOTHING
    RETURNING id
"""
VIEW_NAME_ATTEMPTS = 4
_LABEL_IDS = """
    SELECT p.n, l.id FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(k, v, n)
    CROSS JOIN LATERAL (SELECT l.id FROM _prom_catalog.label l WHERE l.key = p.k AND l.value = p.v LIMIT 1) l
"""
_NEW_LABELS = """
    INSERT INTO _prom_catalog.label (key, value)
    SELECT p.k, p.v FROM unnest($1::text[], $2::text[]) AS p(k, v)
    ORDER BY p.k, p.v
    ON CONFLICT DO NOTHING
"""
_KEY_POSITIONS = """
    SELECT p.n, kp.pos FROM unnest($1::int4[], $2::text[]) WITH ORDINALITY AS p(metric_id, key, n)
    CROSS JOIN LATERAL (SELECT kp.pos FROM _prom_catalog.label_key_position kp
                        WHERE kp.metric_id = p.metric_id AND kp.key = p.key LIMIT 1) kp
"""
_NEW_KEYS = "SELECT _prom_catalog.add_label_keys($1::int4, $2::text[])"
_REFRESH_VIEWS = "SELECT _prom_catalog.try_create_metric_views(m.id) FROM unnest($1::int4[]) AS m(id) ORDER BY m.id"
# labels arrays travel flattened (PostgreSQL arrays are rectangular): series i has
# flat[starts[i] .. starts[i] + widths[i] - 1]. The id is drawn first, as a series' last_seen
# depends on it (its phase, _prom_catalog.series_last_seen); times are Unix seconds.
_NEW_SERIES = """
    INSERT INTO _prom_catalog.series (id, metric_id, labels, label_hash, first_seen, last_seen)
    SELECT s.id, s.metric_id, ($2::int4[])[s.start : s.start + s.width - 1], s.hash,
           pg_catalog.to_timestamp(s.lo), _prom_catalog.series_last_seen(s.id, pg_catalog.to_timestamp(s.hi))
    FROM (SELECT pg_catalog.nextval('_prom_catalog.series_id_seq'::pg_catalog.regclass) AS id, u.*
          FROM unnest($1::int4[], $3::int4[], $4::int4[], $5::bytea[], $6::float8[], $7::float8[])
               AS u(metric_id, start, width, hash, lo, hi)
          ORDER BY u.hash) s
    ON CONFLICT (label_hash) DO NOTHING
    RETURNING label_hash, id, pg_catalog.date_part('epoch', first_seen) AS first_s, pg_catalog.date_part('epoch', last_seen) AS last_s
"""
_WIDEN_LABELS = """
    SELECT _prom_catalog.widen_label_activity($1, _prom_catalog.to_timestamps($2), _prom_catalog.to_timestamps($3),
                                              $4, $5, $6, _prom_catalog.to_timestamps($7), _prom_catalog.to_timestamps($8))
"""
# series a concurrent caller created first
_SERIES_IDS = """
    SELECT h.hash AS label_hash, s.id FROM unnest($1::bytea[]) AS h(hash)
    CROSS JOIN LATERAL (SELECT s.id FROM _prom_catalog.series s WHERE s.label_hash = h.hash LIMIT 1) s
"""


def _plans(plpy: Any, cache: dict) -> dict:
    if "metric_ids" not in cache:
        cache.update(
            metric_ids=plpy.prepare(_METRIC_IDS, ["text[]"]),
            new_metrics=plpy.prepare(_NEW_METRICS, ["text[]", "int4"]),
            label_ids=plpy.prepare(_LABEL_IDS, ["text[]", "text[]"]),
            new_labels=plpy.prepare(_NEW_LABELS, ["text[]", "text[]"]),
            key_positions=plpy.prepare(_KEY_POSITIONS, ["int4[]", "text[]"]),
            new_keys=plpy.prepare(_NEW_KEYS, ["int4", "text[]"]),
            refresh_views=plpy.prepare(_REFRESH_VIEWS, ["int4[]"]),
            new_series=plpy.prepare(_NEW_SERIES, ["int4[]", "int4[]", "int4[]", "int4[]", "bytea[]", "float8[]", "float8[]"]),
            widen_labels=plpy.prepare(_WIDEN_LABELS, ["int4[]", "float8[]", "float8[]", "int4[]", "int4[]", "int4[]",
                                                      "float8[]", "float8[]"]),
            series_ids=plpy.prepare(_SERIES_IDS, ["bytea[]"]),
        )
    return cache


def create_series(plpy: Any, cache: dict, label_sets: list[bytes],
                  first_times: list[float | None] | None = None, last_times: list[float | None] | None = None) -> list[int]:
    """Creates the series of ``label_sets`` (canonical encoding) that do not exist yet, with
    the metrics, labels and key positions they need; returns their ids, in input order
    (also of those a concurrent caller created first). A series it creates gets activity
    bounds covering [first_times[i], last_times[i]] (Unix seconds; None: no bounds), and
    its labels and keys bounds covering those. Raises InvalidLabelSet (with the index of
    the offending label set) before writing."""
    parsed = []
    for i, blob in enumerate(label_sets):
        try:
            parsed.append(parse_label_set(blob))
        except InvalidLabelSet as exc:
            raise InvalidLabelSet(f"invalid label set {i + 1}: {exc}") from None
    plans = _plans(plpy, cache)
    names = [dict(pairs)[NAME] for pairs in parsed]

    metric_ids = _metric_ids(plpy, plans, sorted(set(names)))
    label_ids = _label_ids(plpy, plans, sorted({pair for pairs in parsed for pair in pairs}))
    positions, keyed = _key_positions(plpy, plans, sorted({(metric_ids[name], key)
                                                           for name, pairs in zip(names, parsed) for key, _ in pairs}))
    if keyed:  # new metrics, and metrics that gained keys: their views get the new columns
        plpy.execute(plans["refresh_views"], [keyed])

    metric_col, starts, widths, flat, hashes = [], [], [], [], []
    for blob, name, pairs in zip(label_sets, names, parsed):
        metric_id = metric_ids[name]
        placed = {positions[(metric_id, key)]: label_ids[(key, value)] for key, value in pairs}
        width = max(placed)
        metric_col.append(metric_id)
        starts.append(len(flat) + 1)
        widths.append(width)
        flat.extend(placed.get(pos, 0) for pos in range(1, width + 1))
        hashes.append(label_set_hash(blob))
    no_times = [None] * len(label_sets)
    inserted = plpy.execute(plans["new_series"], [metric_col, flat, starts, widths, hashes,
                                                  first_times or no_times, last_times or no_times])
    ids = {bytes(r["label_hash"]): r["id"] for r in inserted}
    _widen_label_bounds(plpy, plans, inserted, hashes, metric_col, flat, widths)
    raced = [h for h in hashes if h not in ids]
    if raced:  # their creator set their bounds; the caller's writes widen them as usual
        ids.update({bytes(r["label_hash"]): r["id"] for r in plpy.execute(plans["series_ids"], [raced])})
    return [ids[h] for h in hashes]


def _widen_label_bounds(plpy: Any, plans: dict, inserted: Any, hashes: list[bytes], metric_col: list[int],
                        flat: list[int], widths: list[int]) -> None:
    """The bounds of the labels and keys of the series just inserted, widened to theirs: the
    union per label and per (metric, position, label) is taken here, with NumPy over every
    label of every series, and only those unions go to the database
    (_prom_catalog.widen_label_activity), which would otherwise unnest and group all of them."""
    bounds = {bytes(r["label_hash"]): (r["first_s"], r["last_s"]) for r in inserted if r["first_s"] is not None}
    if not bounds:
        return
    import numpy as np  # only writers that pass bounds pay for the import

    first = np.array([bounds.get(h, (np.nan, np.nan))[0] for h in hashes], dtype=np.float64)
    last = np.array([bounds.get(h, (np.nan, np.nan))[1] for h in hashes], dtype=np.float64)
    width = np.asarray(widths, dtype=np.int64)
    series = np.repeat(np.arange(len(hashes)), width)              # series index of each flat slot
    pos = np.arange(len(flat)) - np.repeat(np.cumsum(width) - width, width) + 1
    label = np.asarray(flat, dtype=np.int64)
    keep = (label != 0) & ~np.isnan(first[series])
    series, pos, label = series[keep], pos[keep], label[keep]
    metric = np.asarray(metric_col, dtype=np.int64)[series]
    lo, hi = first[series], last[series]

    (pair_metric, pair_pos, pair_label), pair_lo, pair_hi = _union_by((metric, pos, label), lo, hi)
    (label_id,), label_lo, label_hi = _union_by((pair_label,), pair_lo, pair_hi)
    plpy.execute(plans["widen_labels"], [label_id.tolist(), label_lo.tolist(), label_hi.tolist(),
                                         pair_metric.tolist(), pair_pos.tolist(), pair_label.tolist(),
                                         pair_lo.tolist(), pair_hi.tolist()])


def _union_by(keys: tuple, lo: Any, hi: Any) -> tuple:
    """The distinct key tuples (sorted; one array per key part), and the min of ``lo`` and the
    max of ``hi`` of each."""
    import numpy as np

    order = np.lexsort(keys[::-1])
    keys = tuple(k[order] for k in keys)
    lo, hi = lo[order], hi[order]
    new_group = np.zeros(len(lo), dtype=bool)
    new_group[:1] = True
    for k in keys:
        new_group[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(new_group)
    if not len(starts):
        return keys, lo, hi
    return tuple(k[starts] for k in keys), np.minimum.reduceat(lo, starts), np.maximum.reduceat(hi, starts)


def _metric_ids(plpy: Any, plans: dict, names: list[str]) -> dict[str, int]:
    found = {r["name"]: r["id"] for r in plpy.execute(plans["metric_ids"], [names])}
    missing = [n for n in names if n not in found]
    for attempt in range(VIEW_NAME_ATTEMPTS):
        if not missing:
            return found
        plpy.execute(plans["new_metrics"], [missing, attempt])
        found.update({r["name"]: r["id"] for r in plpy.execute(plans["metric_ids"], [missing])})
        missing = [n for n in missing if n not in found]
    if missing:
        raise RuntimeError(f"no free view name for metric {missing[0]!r} after {VIEW_NAME_ATTEMPTS} attempts")
    return found


def _label_ids(plpy: Any, plans: dict, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    keys = [k for k, _ in pairs]
    values = [v for _, v in pairs]
    ids: list[int | None] = [None] * len(pairs)
    for r in plpy.execute(plans["label_ids"], [keys, values]):
        ids[r["n"] - 1] = r["id"]
    missing = [i for i, label_id in enumerate(ids) if label_id is None]
    if missing:
        plpy.execute(plans["new_labels"], [[keys[i] for i in missing], [values[i] for i in missing]])
        for r in plpy.execute(plans["label_ids"], [[keys[i] for i in missing], [values[i] for i in missing]]):
            ids[missing[r["n"] - 1]] = r["id"]
    return dict(zip(pairs, ids))  # type: ignore[arg-type]


def _key_positions(plpy: Any, plans: dict, pairs: list[tuple[int, str]]) -> tuple[dict[tuple[int, str], int], list[int]]:
    """Position of each (metric id, key), created where missing; and the metrics that gained keys."""
    metric_col = [m for m, _ in pairs]
    keys = [k for _, k in pairs]
    positions: list[int | None] = [None] * len(pairs)
    for r in plpy.execute(plans["key_positions"], [metric_col, keys]):
        positions[r["n"] - 1] = r["pos"]
    missing = [i for i, pos in enumerate(positions) if pos is None]
    by_metric: dict[int, list[str]] = {}
    if missing:
        for i in missing:
            by_metric.setdefault(metric_col[i], []).append(keys[i])
        for metric_id in sorted(by_metric):  # metric-id order: see _prom_catalog.add_label_keys
            plpy.execute(plans["new_keys"], [metric_id, by_metric[metric_id]])
        for r in plpy.execute(plans["key_positions"], [[metric_col[i] for i in missing], [keys[i] for i in missing]]):
            positions[missing[r["n"] - 1]] = r["pos"]
    return dict(zip(pairs, positions)), sorted(by_metric)  # type: ignore[arg-type]
