-- Public trace views and id helpers (ps_trace). Ids: trace_id is a uuid, span ids are the
-- 8 OTLP bytes as a signed big-endian bigint; the helpers convert from and to hex.
-- The views show the rows of the tenants this transaction may see (_ps_trace.span_all and its
-- siblings filter them, sql/idempotent/405-trace-packed-read.sql): analysts of one tenant
-- (prom_api.grant_tenant, prom_tenant_reader) read them too.

-- OTLP SpanKind number → name ('unspecified', 'internal', 'server', 'client', 'producer', 'consumer').
CREATE OR REPLACE FUNCTION ps_trace.span_kind_name(kind smallint)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (ARRAY['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'])[kind + 1]
$$;
COMMENT ON FUNCTION ps_trace.span_kind_name(smallint) IS 'Name of an OTLP span kind number';
GRANT EXECUTE ON FUNCTION ps_trace.span_kind_name(smallint) TO prom_reader, prom_tenant_reader;

-- OTLP StatusCode number → name ('unset', 'ok', 'error').
CREATE OR REPLACE FUNCTION ps_trace.status_code_name(code smallint)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (ARRAY['unset', 'ok', 'error'])[code + 1]
$$;
COMMENT ON FUNCTION ps_trace.status_code_name(smallint) IS 'Name of an OTLP status code number';
GRANT EXECUTE ON FUNCTION ps_trace.status_code_name(smallint) TO prom_reader, prom_tenant_reader;

-- '5b8efff798038103d269b633813fc60c' (or a uuid text) → trace id; 16 hex digits fill the low half, as in Jaeger.
CREATE OR REPLACE FUNCTION ps_trace.trace_id(hex text)
RETURNS uuid
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT lpad(replace(hex, '-', ''), 32, '0')::uuid
$$;
COMMENT ON FUNCTION ps_trace.trace_id(text) IS 'Trace id from its hex text (as in exemplars, Jaeger and OTLP JSON)';
GRANT EXECUTE ON FUNCTION ps_trace.trace_id(text) TO prom_reader, prom_tenant_reader;

-- 'eee19b7ec3c1b174' → span id (the bigint stored in span_id columns).
CREATE OR REPLACE FUNCTION ps_trace.span_id(hex text)
RETURNS bigint
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ('x' || lpad(hex, 16, '0'))::bit(64)::bigint
$$;
COMMENT ON FUNCTION ps_trace.span_id(text) IS 'Span id (bigint) from its 16 hex digits';
GRANT EXECUTE ON FUNCTION ps_trace.span_id(text) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION ps_trace.span_id_hex(span_id bigint)
RETURNS text
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT lpad(to_hex(span_id), 16, '0')
$$;
COMMENT ON FUNCTION ps_trace.span_id_hex(bigint) IS 'The 16 hex digits of a span id';
GRANT EXECUTE ON FUNCTION ps_trace.span_id_hex(bigint) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION ps_trace.trace_id_hex(trace_id uuid)
RETURNS text
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT replace(trace_id::text, '-', '')
$$;
COMMENT ON FUNCTION ps_trace.trace_id_hex(uuid) IS 'The 32 hex digits of a trace id';
GRANT EXECUTE ON FUNCTION ps_trace.trace_id_hex(uuid) TO prom_reader, prom_tenant_reader;

-- Exact OTLP nanoseconds of a stored time (microsecond timestamptz plus the nanosecond rest).
CREATE OR REPLACE FUNCTION _ps_trace.unix_nano(t timestamptz, ns int)
RETURNS bigint
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (extract(epoch FROM t) * 1000000)::bigint * 1000 + ns
$$;
COMMENT ON FUNCTION _ps_trace.unix_nano(timestamptz, int) IS 'Nanoseconds since 1970 of a stored time';
GRANT EXECUTE ON FUNCTION _ps_trace.unix_nano(timestamptz, int) TO prom_reader, prom_tenant_reader;

-- The trace views show the tenants this transaction may see (_ps_trace.span_all and the others filter
-- by _prom_catalog.visible_tenants()); as security barriers, a condition of the caller's that is not
-- leakproof (a function of their own, a cast that can fail) runs only on rows that filter let through.
-- Comparisons of time, ids and names with values of their own type are leakproof and still reach the
-- scans and indexes.
CREATE OR REPLACE VIEW ps_trace.operation WITH (security_barrier) AS
SELECT o.id, o.service_name, o.span_name, ps_trace.span_kind_name(o.span_kind) AS span_kind, o.tenant
FROM _ps_trace.operation o
WHERE (SELECT _prom_catalog.visible_tenants()) IS NULL OR o.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]);
COMMENT ON VIEW ps_trace.operation IS
    'Operations: (service, span name, span kind) of a tenant; operation_calls refers to their ids';
GRANT SELECT ON TABLE ps_trace.operation TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE VIEW ps_trace.span WITH (security_barrier) AS
SELECT
    s.trace_id,
    s.span_id,
    s.trace_state,
    s.parent_span_id,
    s.parent_span_id IS NULL AS is_root_span,
    o.service_name,
    o.span_name,
    ps_trace.span_kind_name(o.span_kind) AS span_kind,
    s.start_time,
    s.end_time,
    _ps_trace.unix_nano(s.start_time, s.start_ns) AS start_time_unix_nano,
    _ps_trace.unix_nano(s.end_time, s.end_ns) AS end_time_unix_nano,
    (_ps_trace.unix_nano(s.end_time, s.end_ns) - _ps_trace.unix_nano(s.start_time, s.start_ns)) / 1e6::float8 AS duration_ms,
    s.flags,
    s.attributes AS span_tags,
    s.dropped_attributes_count AS dropped_tags_count,
    s.dropped_events_count,
    s.dropped_links_count AS dropped_link_count,
    ps_trace.status_code_name(s.status_code) AS status_code,
    s.status_message,
    sc.name AS instrumentation_lib_name,
    sc.version AS instrumentation_lib_version,
    sc.schema_url AS instrumentation_lib_schema_url,
    sc.attributes AS instrumentation_lib_tags,
    sc.dropped_attributes_count AS instrumentation_lib_dropped_tags_count,
    r.attributes AS resource_tags,
    r.dropped_attributes_count AS resource_dropped_tags_count,
    r.schema_url AS resource_schema_url,
    s.operation_id,
    s.tenant
FROM _ps_trace.span_all s
JOIN _ps_trace.operation o ON o.id = s.operation_id
JOIN _ps_trace.resource r ON r.id = s.resource_id
JOIN _ps_trace.scope sc ON sc.id = s.scope_id;
COMMENT ON VIEW ps_trace.span IS
    'Spans (of the tenants this transaction may see) with their service, operation, scope and resource attributes';
GRANT SELECT ON TABLE ps_trace.span TO prom_reader, prom_tenant_reader;

-- The rows of ps_trace.span starting in [start, end): a filter on the view's start_time cannot
-- reach the start range of packed rows (each is unpacked to be tested), this can.
CREATE OR REPLACE FUNCTION ps_trace.span_between(_start_time timestamptz, _end_time timestamptz)
RETURNS SETOF ps_trace.span
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader reads no trace table; spans_between shows the caller's tenants only
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT
        s.trace_id,
        s.span_id,
        s.trace_state,
        s.parent_span_id,
        s.parent_span_id IS NULL AS is_root_span,
        o.service_name,
        o.span_name,
        ps_trace.span_kind_name(o.span_kind) AS span_kind,
        s.start_time,
        s.end_time,
        _ps_trace.unix_nano(s.start_time, s.start_ns) AS start_time_unix_nano,
        _ps_trace.unix_nano(s.end_time, s.end_ns) AS end_time_unix_nano,
        (_ps_trace.unix_nano(s.end_time, s.end_ns) - _ps_trace.unix_nano(s.start_time, s.start_ns)) / 1e6::float8 AS duration_ms,
        s.flags,
        s.attributes AS span_tags,
        s.dropped_attributes_count AS dropped_tags_count,
        s.dropped_events_count,
        s.dropped_links_count AS dropped_link_count,
        ps_trace.status_code_name(s.status_code) AS status_code,
        s.status_message,
        sc.name AS instrumentation_lib_name,
        sc.version AS instrumentation_lib_version,
        sc.schema_url AS instrumentation_lib_schema_url,
        sc.attributes AS instrumentation_lib_tags,
        sc.dropped_attributes_count AS instrumentation_lib_dropped_tags_count,
        r.attributes AS resource_tags,
        r.dropped_attributes_count AS resource_dropped_tags_count,
        r.schema_url AS resource_schema_url,
        s.operation_id,
        s.tenant
    FROM _ps_trace.spans_between(_start_time, _end_time) s
    JOIN _ps_trace.operation o ON o.id = s.operation_id
    JOIN _ps_trace.resource r ON r.id = s.resource_id
    JOIN _ps_trace.scope sc ON sc.id = s.scope_id
$$;
COMMENT ON FUNCTION ps_trace.span_between(timestamptz, timestamptz) IS
    'Spans starting in [start, end), as ps_trace.span shows them, reading only the packed rows of that range';
GRANT EXECUTE ON FUNCTION ps_trace.span_between(timestamptz, timestamptz) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE VIEW ps_trace.event WITH (security_barrier) AS
SELECT
    e.trace_id,
    e.span_id,
    e.span_start_time,
    e.event_nbr,
    e.time,
    _ps_trace.unix_nano(e.time, e.time_ns) AS time_unix_nano,
    e.name,
    e.attributes AS tags,
    e.dropped_attributes_count AS dropped_tags_count,
    e.tenant
FROM _ps_trace.event_all e;
COMMENT ON VIEW ps_trace.event IS 'Span events (join to ps_trace.span on trace_id, tenant, span_id)';
GRANT SELECT ON TABLE ps_trace.event TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE VIEW ps_trace.link WITH (security_barrier) AS
SELECT
    l.trace_id,
    l.span_id,
    l.span_start_time,
    l.link_nbr,
    l.linked_trace_id,
    l.linked_span_id,
    l.trace_state,
    l.flags,
    l.attributes AS link_tags,
    l.dropped_attributes_count AS dropped_tags_count,
    l.tenant
FROM _ps_trace.link_all l;
COMMENT ON VIEW ps_trace.link IS 'Span links: the span (trace_id, span_id) points at (linked_trace_id, linked_span_id)';
GRANT SELECT ON TABLE ps_trace.link TO prom_reader, prom_tenant_reader;
