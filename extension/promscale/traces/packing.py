"""The packed tier of trace storage: one compressed row per trace in a closed chunk.

A trace's spans (with their events and links) become one JSON document, compressed with raw
deflate against a preset dictionary built once per chunk from a sample of its own traces.
Traces are small (a few kB of JSON), far too small for a compressor to learn the attribute keys,
resource-like values and span names that make up most of a span; the dictionary supplies them,
so each trace costs about what is unique in it (ids, times, URLs, user ids...). Each tenant of a
chunk has its own dictionary: one made of several tenants' traces would hand B's spans to every
reader of A's rows.

Every field is kept exactly: times as integer microseconds plus the stored nanosecond rest,
attributes as the text of their jsonb (jsonb text → jsonb is lossless), NULLs as JSON null.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

DICTIONARY_BYTES = 32 * 1024  # deflate's window: a longer dictionary is not used
DICTIONARY_SAMPLE_TRACES = 200  # traces read before the dictionary is built
FETCH_ROWS = 2000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# span document fields, in order (events and links nested per span)
SPAN_FIELDS = ("span_id", "parent_span_id", "start_off_us", "start_ns", "duration_us", "end_ns",
               "operation_id", "resource_id", "scope_id", "trace_state", "flags", "status_code",
               "status_message", "attributes", "dropped_attributes_count", "dropped_events_count",
               "dropped_links_count", "events", "links")


def timestamp_text(us: int) -> str:
    """Exact timestamptz input text for microseconds since 1970 (UTC)."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


# --- encoding -------------------------------------------------------------------------------

def encode_trace(spans: list[dict], events: dict, links: dict) -> bytes:
    """The JSON document of one trace's spans. ``events``/``links`` map (span_id, start_us) to
    lists of rows; span rows carry start_us/end_us (microseconds since 1970)."""
    base = min(s["start_us"] for s in spans)
    doc = []
    for s in spans:
        key = (s["span_id"], s["start_us"])
        doc.append([
            s["span_id"], s["parent_span_id"], s["start_us"] - base, s["start_ns"], s["end_us"] - s["start_us"],
            s["end_ns"], s["operation_id"], s["resource_id"], s["scope_id"], s["trace_state"], s["flags"],
            s["status_code"], s["status_message"], s["attributes"], s["dropped_attributes_count"],
            s["dropped_events_count"], s["dropped_links_count"],
            [[e["event_nbr"], e["time_us"] - s["start_us"], e["time_ns"], e["name"], e["attributes"],
              e["dropped_attributes_count"]] for e in events.get(key, ())],
            [[ln["link_nbr"], ln["linked_trace_id"], ln["linked_span_id"], ln["trace_state"], ln["flags"],
              ln["attributes"], ln["dropped_attributes_count"]] for ln in links.get(key, ())],
        ])
    return json.dumps([base, doc], separators=(",", ":"), ensure_ascii=False).encode()


def build_dictionary(samples: list[bytes]) -> bytes:
    """A preset dictionary from sample documents: deflate looks back at most 32 kB, and favours
    the end of the dictionary (shorter distances), so the samples are spread and cut to fit."""
    out = bytearray()
    for doc in samples:
        out += doc
    return bytes(out[-DICTIONARY_BYTES:])


def compress(doc: bytes, dictionary: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
    return c.compress(doc) + c.flush()


def decompress(data: bytes, dictionary: bytes) -> bytes:
    d = zlib.decompressobj(-15, dictionary)
    return d.decompress(data) + d.flush()


# --- decoding -------------------------------------------------------------------------------

_DOC_CACHE: OrderedDict = OrderedDict()  # the last few decoded rows: spans, events, links of one trace
_DICTIONARIES: dict = {}  # (chunk id, tenant) -> dictionary
_GET_DICTIONARY: list = []  # the prepared plan of _ps_trace.get_pack_dictionary


def _dictionary(plpy: Any, chunk_id: int, tenant: str) -> bytes:
    # Fetched through _ps_trace.get_pack_dictionary, which refuses a tenant the transaction may
    # not see; a fetched one is kept for the session (sessions do not change tenant grants
    # underneath: a session that SET ROLEs down keeps what it loaded before, docs/traces.md).
    dictionary = _DICTIONARIES.get((chunk_id, tenant))
    if dictionary is None:
        if not _GET_DICTIONARY:
            _GET_DICTIONARY.append(plpy.prepare("SELECT _ps_trace.get_pack_dictionary($1, $2) AS d",
                                                ["bigint", "text"]))
        rows = plpy.execute(_GET_DICTIONARY[0], [chunk_id, tenant])
        if not rows or rows[0]["d"] is None:
            plpy.error(f"promscale: trace chunk {chunk_id} has no pack dictionary for tenant {tenant!r}")
        dictionary = _DICTIONARIES[(chunk_id, tenant)] = bytes(rows[0]["d"])
    return dictionary


def _document(plpy: Any, row: dict) -> list:
    data = bytes(row["data"])
    tenant = row.get("tenant") or ""
    key = (row["chunk_id"], tenant, data)
    doc = _DOC_CACHE.get(key)
    if doc is None:
        doc = json.loads(decompress(data, _dictionary(plpy, row["chunk_id"], tenant)))
        _DOC_CACHE[key] = doc
        if len(_DOC_CACHE) > 64:
            _DOC_CACHE.popitem(last=False)
    return doc


def unpack_spans(plpy: Any, row: dict) -> Iterator[tuple]:
    """Rows of _ps_trace.span (column order) from a packed row."""
    base, doc = _document(plpy, row)
    trace_id, tenant = row["trace_id"], row.get("tenant") or ""
    for s in doc:
        start_us = base + s[2]
        yield (trace_id, s[0], s[1], timestamp_text(start_us), timestamp_text(start_us + s[4]), s[3], s[5],
               s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15], s[16], tenant)


def unpack_spans_with_events(plpy: Any, row: dict, operation_ids: list | None) -> Iterator[tuple]:
    """(span row, its events as a jsonb array of {"name", "attributes"} or None) of the spans of
    some operations (None: all) in a packed row: what a Jaeger search needs of a span, in one
    call, without building rows for the spans of other operations."""
    base, doc = _document(plpy, row)
    wanted = None if operation_ids is None else set(operation_ids)
    trace_id, tenant = row["trace_id"], row.get("tenant") or ""
    for s in doc:
        if wanted is not None and s[6] not in wanted:
            continue
        start_us = base + s[2]
        span = (trace_id, s[0], s[1], timestamp_text(start_us), timestamp_text(start_us + s[4]), s[3], s[5],
                s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15], s[16], tenant)
        events = None
        if s[17]:
            events = "[" + ",".join('{"name":%s,"attributes":%s}' % (json.dumps(e[3]), e[4]) for e in s[17]) + "]"
        yield span, events


def unpack_events(plpy: Any, row: dict) -> Iterator[tuple]:
    """Rows of _ps_trace.event (column order) from a packed row."""
    base, doc = _document(plpy, row)
    trace_id, tenant = row["trace_id"], row.get("tenant") or ""
    for s in doc:
        start_us = base + s[2]
        start = timestamp_text(start_us)
        for e in s[17]:
            yield (trace_id, s[0], start, e[0], timestamp_text(start_us + e[1]), e[2], e[3], e[4], e[5], tenant)


def unpack_links(plpy: Any, row: dict) -> Iterator[tuple]:
    """Rows of _ps_trace.link (column order) from a packed row."""
    base, doc = _document(plpy, row)
    trace_id, tenant = row["trace_id"], row.get("tenant") or ""
    for s in doc:
        start = timestamp_text(base + s[2])
        for ln in s[18]:
            yield (trace_id, s[0], start, ln[0], ln[1], ln[2], ln[3], ln[4], ln[5], ln[6], tenant)


# --- packing a chunk ------------------------------------------------------------------------

_US = "(extract(epoch FROM {0}) * 1000000)::bigint"

# ordered by (trace id, tenant): the spans' key order; the tenant in "C" order, Python's
_SPANS_SQL = f"""
    SELECT trace_id::text, tenant, span_id, parent_span_id, {_US.format('start_time')} AS start_us, start_ns,
           {_US.format('end_time')} AS end_us, end_ns, operation_id, resource_id, scope_id, trace_state, flags,
           status_code, status_message, attributes::text AS attributes, dropped_attributes_count,
           dropped_events_count, dropped_links_count
    FROM _ps_trace.{{table}} ORDER BY trace_id, tenant COLLATE "C", start_time, span_id"""
_EVENTS_SQL = f"""
    SELECT trace_id::text, tenant, span_id, {_US.format('span_start_time')} AS span_start_us, event_nbr,
           {_US.format('time')} AS time_us, time_ns, name, attributes::text AS attributes, dropped_attributes_count
    FROM _ps_trace.{{table}} ORDER BY trace_id, tenant COLLATE "C", span_id, span_start_time, event_nbr"""
_LINKS_SQL = f"""
    SELECT trace_id::text, tenant, span_id, {_US.format('span_start_time')} AS span_start_us, link_nbr,
           linked_trace_id::text, linked_span_id, trace_state, flags, attributes::text AS attributes,
           dropped_attributes_count
    FROM _ps_trace.{{table}} ORDER BY trace_id, tenant COLLATE "C", span_id, span_start_time, link_nbr"""
_INSERT_SQL = """
    INSERT INTO _ps_trace.{table} (trace_id, start_time, max_start_time, chunk_id, span_count, operation_ids, data,
                                   tenant)
    VALUES ($1::uuid, $2::timestamptz, $3::timestamptz, $4, $5, $6, $7, $8)"""


def _grouped(plpy: Any, query: str) -> Iterator[tuple[tuple[str, str], list[dict]]]:
    """((trace_id, tenant), rows) groups of a query ordered by them, read in batches."""
    cursor = plpy.cursor(query)
    current, group = None, []
    while True:
        batch = cursor.fetch(FETCH_ROWS)
        if not batch:
            break
        for row in batch:
            key = (row["trace_id"], row["tenant"])
            if key != current:
                if group:
                    yield current, group
                current, group = key, []
            group.append(row)
    if group:
        yield current, group


def _traces(plpy: Any, chunk_id: int) -> Iterator[tuple[tuple[str, str], list[dict], dict, dict]]:
    """Each trace (of one tenant) of the chunk's row partitions with its events and links (merge
    of three cursors ordered by trace id and tenant)."""
    events = _grouped(plpy, _EVENTS_SQL.format(table=f"event_{chunk_id}"))
    links = _grouped(plpy, _LINKS_SQL.format(table=f"link_{chunk_id}"))
    next_event, next_link = next(events, None), next(links, None)
    for key, spans in _grouped(plpy, _SPANS_SQL.format(table=f"span_{chunk_id}")):
        by_span_events: dict = {}
        by_span_links: dict = {}
        while next_event is not None and next_event[0] <= key:
            if next_event[0] == key:
                for e in next_event[1]:
                    by_span_events.setdefault((e["span_id"], e["span_start_us"]), []).append(e)
            next_event = next(events, None)
        while next_link is not None and next_link[0] <= key:
            if next_link[0] == key:
                for ln in next_link[1]:
                    by_span_links.setdefault((ln["span_id"], ln["span_start_us"]), []).append(ln)
            next_link = next(links, None)
        yield key, spans, by_span_events, by_span_links


def pack_chunk(plpy: Any, chunk_id: int) -> int:
    """Packs the rows of a chunk's span, event and link partitions into its span_packed
    partition (which must exist); returns the number of spans packed. The caller locks the
    partitions against writers and empties them afterwards. Each tenant's rows are compressed
    with the tenant's dictionary, made from its first traces when it has none yet."""
    plan = plpy.prepare("SELECT tenant, dictionary FROM _ps_trace.pack_dictionary WHERE chunk_id = $1", ["bigint"])
    dictionaries = {row["tenant"]: bytes(row["dictionary"]) for row in plpy.execute(plan, [chunk_id])}
    insert = plpy.prepare(_INSERT_SQL.format(table=f"span_packed_{chunk_id}"),
                          ["text", "text", "text", "bigint", "int", "bigint[]", "bytea", "text"])
    pending: dict = {}  # tenant -> documents waiting for its dictionary
    packed = 0

    def write(trace_id: str, tenant: str, spans: list[dict], doc: bytes) -> None:
        starts = [s["start_us"] for s in spans]
        operations = sorted({s["operation_id"] for s in spans})
        plpy.execute(insert, [trace_id, timestamp_text(min(starts)), timestamp_text(max(starts)), chunk_id,
                              len(spans), operations, compress(doc, dictionaries[tenant]), tenant])

    def flush(tenant: str) -> None:
        waiting = pending.pop(tenant)
        dictionaries[tenant] = _new_dictionary(plpy, chunk_id, tenant, [p[2] for p in waiting])
        for trace_id, spans, doc in waiting:
            write(trace_id, tenant, spans, doc)

    for (trace_id, tenant), spans, events, links in _traces(plpy, chunk_id):
        doc = encode_trace(spans, events, links)
        packed += len(spans)
        if tenant not in dictionaries:
            waiting = pending.setdefault(tenant, [])
            waiting.append((trace_id, spans, doc))
            if len(waiting) >= DICTIONARY_SAMPLE_TRACES:
                flush(tenant)
            continue
        write(trace_id, tenant, spans, doc)
    for tenant in list(pending):
        flush(tenant)
    return packed


def _new_dictionary(plpy: Any, chunk_id: int, tenant: str, samples: list[bytes]) -> bytes:
    dictionary = build_dictionary(samples)
    plan = plpy.prepare("INSERT INTO _ps_trace.pack_dictionary (chunk_id, tenant, dictionary) VALUES ($1, $2, $3)",
                        ["bigint", "text", "bytea"])
    plpy.execute(plan, [chunk_id, tenant, dictionary])
    _DICTIONARIES.pop((chunk_id, tenant), None)
    return dictionary
