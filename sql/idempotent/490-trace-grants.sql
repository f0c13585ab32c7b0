-- Trace privileges: readers query views and functions, writers ingest through put_spans only,
-- admins configure retention and chunking, maintenance drops expired partitions.
REVOKE ALL ON ALL TABLES IN SCHEMA _ps_trace, ps_trace FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA _ps_trace, ps_trace FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA _ps_trace, ps_trace FROM PUBLIC;  -- not in ALL FUNCTIONS
REVOKE ALL ON ALL SEQUENCES IN SCHEMA _ps_trace FROM PUBLIC;

GRANT USAGE ON SCHEMA _ps_trace, ps_trace TO prom_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA _ps_trace, ps_trace TO prom_reader;
GRANT EXECUTE ON FUNCTION
    ps_trace.get_trace_chunk_interval(),
    ps_trace.get_trace_retention_period(),
    ps_trace.span_kind_name(smallint),
    ps_trace.status_code_name(smallint),
    ps_trace.trace_id(text),
    ps_trace.span_id(text),
    ps_trace.span_id_hex(bigint),
    ps_trace.trace_id_hex(uuid),
    _ps_trace.unix_nano(timestamptz, int),
    ps_trace.trace_tree(uuid),
    ps_trace.upstream_spans(uuid, bigint, int),
    ps_trace.downstream_spans(uuid, bigint, int),
    ps_trace.span_tree(uuid, bigint, int),
    ps_trace.operation_calls(timestamptz, timestamptz),
    ps_trace.get_services(),
    ps_trace.get_operations(text, text),
    _ps_trace.span_matches_tag(_ps_trace.span, jsonb, smallint, text, text),
    _ps_trace.span_matches_tag(_ps_trace.span, jsonb, smallint, text, text, jsonb),
    _ps_trace.unpack_spans_with_events(_ps_trace.span_packed, bigint[]),
    ps_trace.find_trace_ids(text, text, jsonb, timestamptz, timestamptz, interval, interval, int),
    ps_trace.get_trace_spans(uuid[], timestamptz, timestamptz),
    ps_trace.get_dependencies(timestamptz, timestamptz),
    ps_trace.get_trace_pack_delay(),
    _ps_trace.unpack_spans(_ps_trace.span_packed),
    _ps_trace.unpack_events(_ps_trace.span_packed),
    _ps_trace.unpack_links(_ps_trace.span_packed),
    _ps_trace.spans_between(timestamptz, timestamptz, bigint[]),
    ps_trace.span_between(timestamptz, timestamptz)
TO prom_reader;

GRANT EXECUTE ON FUNCTION
    ps_trace.put_spans(text[], jsonb[], bigint[], text[], text[], text[], jsonb[], bigint[], text[],
        bigint[], bigint[], uuid[], bigint[], bigint[], text[], bigint[], text[], bigint[], timestamptz[], bigint[],
        timestamptz[], bigint[], jsonb[], bigint[], bigint[], bigint[], bigint[], text[],
        bigint[], bigint[], timestamptz[], bigint[], text[], jsonb[], bigint[],
        bigint[], bigint[], uuid[], bigint[], text[], bigint[], jsonb[], bigint[])
TO prom_writer;

GRANT EXECUTE ON FUNCTION
    ps_trace.set_trace_retention_period(interval),
    ps_trace.set_trace_chunk_interval(interval),
    ps_trace.delete_all_traces(),
    ps_trace.set_trace_pack_delay(interval)
TO prom_admin;

GRANT EXECUTE ON FUNCTION ps_trace.drop_expired_trace_partitions(timestamptz, int) TO prom_maintenance, prom_admin;
GRANT EXECUTE ON FUNCTION ps_trace.pack_trace_partitions(timestamptz, int) TO prom_maintenance, prom_admin;
