"""The packed trace document: encode → deflate with a dictionary → unpack gives every field back."""

from __future__ import annotations

from plpy_stub import PlpyStub
from promscale.traces import packing


def span(span_id: int, start_us: int, **extra) -> dict:
    row = {"span_id": span_id, "parent_span_id": None, "start_us": start_us, "start_ns": 999, "end_us": start_us + 5,
           "end_ns": 1, "operation_id": 3, "resource_id": 4, "scope_id": 5, "trace_state": None, "flags": 0x301,
           "status_code": 2, "status_message": 'ü "q" \\', "attributes": '{"a": 1.0, "b": [1, "x"]}',
           "dropped_attributes_count": 1, "dropped_events_count": 2, "dropped_links_count": 3}
    row.update(extra)
    return row


def test_round_trip_with_dictionary():
    spans = [span(-5, 10**15, trace_state="k=v"), span(7, 10**15 - 3, parent_span_id=-5)]
    events = {(-5, 10**15): [{"event_nbr": 0, "time_us": 10**15 + 2, "time_ns": 5, "name": "e",
                              "attributes": '{"k": "v"}', "dropped_attributes_count": 4}]}
    links = {(7, 10**15 - 3): [{"link_nbr": 0, "linked_trace_id": "00000000-0000-0000-0000-00000000000a",
                                "linked_span_id": 1, "trace_state": None, "flags": 1, "attributes": "{}",
                                "dropped_attributes_count": 0}]}
    doc = packing.encode_trace(spans, events, links)
    dictionary = packing.build_dictionary([doc, doc])
    data = packing.compress(doc, dictionary)
    assert len(data) < len(doc) // 4  # the dictionary holds the document already
    assert packing.decompress(data, dictionary) == doc

    plpy = PlpyStub()
    plpy.on("get_pack_dictionary", lambda *a: [{"d": dictionary}])
    packing._DICTIONARIES.pop((99, "t"), None)
    row = {"trace_id": "00000000-0000-0000-0000-00000000000a", "chunk_id": 99, "data": data, "tenant": "t"}
    got = list(packing.unpack_spans(plpy, row))
    assert got[0][:7] == (row["trace_id"], -5, None, "2001-09-09T01:46:40+00:00", "2001-09-09T01:46:40.000005+00:00",
                          999, 1)
    assert got[0][7:] == (3, 4, 5, "k=v", 0x301, 2, 'ü "q" \\', '{"a": 1.0, "b": [1, "x"]}', 1, 2, 3, "t")
    assert got[1][2] == -5 and got[1][3] == "2001-09-09T01:46:39.999997+00:00"
    assert list(packing.unpack_events(plpy, row)) == [
        (row["trace_id"], -5, "2001-09-09T01:46:40+00:00", 0, "2001-09-09T01:46:40.000002+00:00", 5, "e",
         '{"k": "v"}', 4, "t")]
    assert list(packing.unpack_links(plpy, row)) == [
        (row["trace_id"], 7, "2001-09-09T01:46:39.999997+00:00", 0, "00000000-0000-0000-0000-00000000000a", 1, None,
         1, "{}", 0, "t")]
    with_events = list(packing.unpack_spans_with_events(plpy, row, [3]))
    assert with_events[0][1] == '[{"name":"e","attributes":{"k": "v"}}]' and with_events[1][1] is None
    assert list(packing.unpack_spans_with_events(plpy, row, [4])) == []


def test_times_before_1970_are_exact():
    assert packing.timestamp_text(-1) == "1969-12-31T23:59:59.999999+00:00"
    assert packing.timestamp_text(0) == "1970-01-01T00:00:00+00:00"
