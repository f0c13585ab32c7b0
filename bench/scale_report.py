"""Tables of `make bench-scale`: one per size (ingest, storage, memory; then every request),
and the curve (each per-request figure at every size) at the end.

Ratios are ours / Prometheus as times: for throughputs theirs / ours. Lower is better for us.

    python bench/scale_report.py bench/results/scale-*.json   # the tables of earlier runs (--json)
"""

from __future__ import annotations

from scale_queries import QUERIES, VIEW_QUERIES

GIB = 2**30


def _rate(phase: dict | None, key: str = "samples") -> float | None:
    if not phase or phase.get("incomplete"):
        return None
    return phase[key] / phase["seconds"]


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return text + unit


def _ratio(ours: float | None, theirs: float | None, throughput: bool = False) -> str:
    if not ours or not theirs:
        return "—"
    return f"{(theirs / ours if throughput else ours / theirs):.2f}"


def _table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def ingest_rows(ours: dict, theirs: dict) -> list[list[str]]:
    oi, ti = ours.get("ingest", {}), theirs.get("ingest", {})
    rows = []
    for label, phase, key in (("ingest with series creation (first minute), samples/s", "create", "samples"),
                              ("steady ingest, samples/s", "steady", "samples"),
                              ("new series/s under churn (every pod replaced in 10 min)", "churn", "created")):
        o, t = _rate(oi.get(phase), key), _rate(ti.get(phase), key)
        note = " (out of time)" if oi.get(phase, {}).get("incomplete") else ""
        if oi.get(phase, {}).get("incomplete"):
            part = oi[phase]
            o_text = f"{part['acked'] / part['seconds']:,.0f} on {part['acked']:,} of {part['samples']:,} samples"
        else:
            o_text = _fmt(o)
        rows.append([label + note, o_text, _fmt(t), _ratio(o, t, throughput=True)])
    o, t = oi.get("cold"), ti.get("cold")
    o_s = None if not o or o.get("incomplete") else o["seconds"]
    t_s = t["seconds"] if t else None
    restart = f" (+{o['restart_s']:.1f} s start)" if o and "restart_s" in o else ""
    rows.append(["cold connector's first minute, s (Prometheus: the same minute)", _fmt(o_s) + restart, _fmt(t_s),
                 _ratio(o_s, t_s)])
    if "analyze_s" in ours:
        rows.append(["VACUUM (ANALYZE) after ingest, s (what autovacuum would do)", _fmt(ours["analyze_s"]), "", ""])
    return rows


def storage_rows(ours: dict, theirs: dict) -> list[list[str]]:
    rows = []
    m = ours.get("maintenance")
    if m:
        rows.append([f"maintenance per hour of data, s ({m['minutes']:g} min of every series: "
                     f"{m['samples']:,} samples)",
                     _fmt(m["seconds_per_hour"]), "", ""])
        rows.append(["database size before → after that maintenance, GiB",
                     f"{m['db_bytes_before'] / GIB:.2f} → {m['db_bytes_after'] / GIB:.2f}", "", ""])
        compressed = {k: m["compressed_after"][k] - m["compressed_before"][k] for k in ("samples", "bytes")}
        if compressed["samples"]:
            rows.append(["bytes/sample of that hour compressed", _fmt(compressed["bytes"] / compressed["samples"]), "",
                         ""])
    before = ours.get("storage_before_maintenance", {}).get("head")
    if before and before["samples"]:
        rows.append(["head bytes/sample after ingest (the 15-minute partitions not flushed yet)",
                     _fmt(before["bytes"] / before["samples"]),
                     "", ""])
    history = ours.get("history_maintenance", {}).get("storage", {}).get("compressed")
    blocks = theirs.get("blocks")
    o = history["bytes"] / history["samples"] if history and history["samples"] else None
    t = blocks["bytes"] / blocks["samples"] if blocks and blocks["samples"] else None
    rows.append(["stored bytes/sample of the dashboard history (ours compressed, theirs blocks)", _fmt(o), _fmt(t),
                 _ratio(o, t)])
    catalog = ours.get("catalog")
    if catalog:
        rows.append([f"catalog bytes/series: series + label with indexes ({catalog['series']:,} series)",
                     _fmt(catalog["series_label_bytes_per_series"]), "", ""])
        rows.append(["catalog bytes/series: every _prom_catalog table", _fmt(catalog["catalog_bytes_per_series"]), "",
                     ""])
    mem = ours.get("memory", {})
    prom = theirs.get("memory", {}).get("prometheus")
    if mem:
        total = sum(mem.values())
        rows.append([f"peak memory, GiB (ours: PostgreSQL {mem.get('postgres', 0) / GIB:.2f} + connector "
                     f"{mem.get('connector', 0) / GIB:.2f}, PSS; Prometheus: RSS)", f"{total / GIB:.2f}",
                     f"{prom / GIB:.2f}" if prom else "—", _ratio(total, prom)])
    return rows


def request_rows(ours: dict, theirs: dict) -> list[list[str]]:
    oq, tq = ours.get("queries", {}), theirs.get("queries", {})
    rows = []
    for query in QUERIES:
        o, t = oq.get(query.name), tq.get(query.name)
        if not o and not t:
            continue

        def answer(timing: dict | None) -> str:
            if not timing:
                return "—"
            a = timing["answer"]
            return a if isinstance(a, str) else f"{a[0]}" + (f"×{a[1] / max(a[0], 1):.0f}" if a[1] else "")

        same = "" if not o or not t or o["answer"] == t["answer"] else " ≠"
        rows.append([query.name + ("" if query.fixed else " (grows)"),
                     _fmt(o and o["first_ms"]), _fmt(o and o["warm_ms"]), _fmt(t and t["first_ms"]),
                     _fmt(t and t["warm_ms"]), _ratio(o and o["warm_ms"], t and t["warm_ms"]),
                     f"{answer(o)} / {answer(t)}{same}"])
    for view in VIEW_QUERIES:
        v = ours.get("views", {}).get(view.name)
        if v:
            answer = v["answer"] if isinstance(v["answer"], str) else f"{v['answer'][0]} rows"
            rows.append([view.name + ("" if view.fixed else " (grows)"), _fmt(v["first_ms"]), _fmt(v["warm_ms"]),
                         "", "", "", answer])
    return rows


def print_size(entry: dict) -> None:
    ours, theirs = entry.get("ours", {}), entry.get("prometheus", {})
    print(f"\n## {entry['size']:,} series ({entry['hosts']} hosts, {entry['pods']} pods): "
          f"{entry['wall_s'] / 60:.1f} min wall time (budget for ours {entry['budget_min']:.0f} min); "
          f"load average {entry['load_average_before']:.1f} before, {entry['load_average_after']:.1f} after; "
          f"generator peak RSS {entry['generator_peak_rss'] / GIB:.1f} GiB")
    for note in ours.get("notes", []) + theirs.get("notes", []):
        print(f"note: {note}")
    print()
    _table(["figure", "ours", "Prometheus", "ratio (time, ours/theirs)"],
           ingest_rows(ours, theirs) + storage_rows(ours, theirs))
    print()
    _table(["request (ms)", "ours first", "ours warm", "Prom first", "Prom warm", "ratio warm",
            "answer: series×points (ours / Prom)"], request_rows(ours, theirs))


def print_curve(results: dict[int, dict]) -> None:
    """Each per-request figure at every size: flat rows are the goal for fixed work."""
    sizes = sorted(results)
    if not sizes:
        return
    labels = [f"{s // 1000}k" if s < 1_000_000 else f"{s / 1e6:g}M" for s in sizes]
    print("\n## Curve: warm ms (first ms for cold rows) at each size; (grows) marks work that grows with the size\n")
    rows = []

    def row(name: str, get, fmt=_fmt) -> None:
        ours = [get(results[s].get("ours", {})) for s in sizes]
        theirs = [get(results[s].get("prometheus", {})) for s in sizes]
        rows.append([name] + [fmt(v) for v in ours] + [fmt(v) for v in theirs])

    for query in QUERIES:
        row(query.name + ("" if query.fixed else " (grows)"),
            lambda side, q=query.name: (side.get("queries", {}).get(q) or {}).get("warm_ms"))
    row("one series 15m, first query of a fresh connection",
        lambda side: (side.get("queries", {}).get(QUERIES[0].name) or {}).get("first_ms"))
    for view in VIEW_QUERIES:
        row(view.name + ("" if view.fixed else " (grows)"),
            lambda side, v=view.name: (side.get("views", {}).get(v) or {}).get("warm_ms"))
    row("cold connector's first minute, s", lambda side: None if not side.get("ingest", {}).get("cold") or
        side["ingest"]["cold"].get("incomplete") else side["ingest"]["cold"]["seconds"])
    row("ingest with series creation, samples/s", lambda side: _rate(side.get("ingest", {}).get("create")))
    row("steady ingest, samples/s", lambda side: _rate(side.get("ingest", {}).get("steady")))
    row("new series/s under churn", lambda side: _rate(side.get("ingest", {}).get("churn"), "created"))
    row("maintenance s per hour of data", lambda side: (side.get("maintenance") or {}).get("seconds_per_hour"))
    row("catalog bytes/series (series + label)",
        lambda side: (side.get("catalog") or {}).get("series_label_bytes_per_series"))
    _table(["figure"] + [f"ours {label}" for label in labels] + [f"Prom {label}" for label in labels], rows)


def main(argv: list[str]) -> int:
    """Prints the tables of earlier runs: python bench/scale_report.py bench/results/scale-*.json"""
    import json

    for path in argv:
        results = {int(size): entry for size, entry in json.load(open(path))["results"].items()}
        print(f"# {path}")
        for size in sorted(results):
            print_size(results[size])
        print_curve(results)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
