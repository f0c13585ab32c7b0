-- Reading the packed tier: unpack functions give packed rows back as rows of _ps_trace.span,
-- event and link; _ps_trace.span_all, event_all and link_all are the row partitions plus the
-- unpacked rows, and every reader (views, trees, Jaeger functions) reads those. Their packed
-- branch takes trace_id from the packed row itself, so `trace_id = ...` reaches the packed
-- rows' (trace_id) index before anything is unpacked.
--
-- Multitenancy: span_all, event_all and link_all hold only the rows of the tenants this
-- transaction may see (_prom_catalog.visible_tenants(), evaluated once per statement); the
-- packed branch tests the packed row's tenant before unpacking it. Each tenant's packed rows
-- of a chunk decompress with that tenant's dictionary (get_pack_dictionary), which only a
-- transaction that may see the tenant gets.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0011-trace-packed.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _ps_trace.span_packed TO prom_reader;

-- The dictionary of a chunk's packed rows of one tenant, for the unpack functions, which run as
-- their caller: an analyst of one tenant (prom_tenant_reader) reads no chunk table, and gets
-- no other tenant's dictionary (a dictionary is made of sample traces).
CREATE OR REPLACE FUNCTION _ps_trace.get_pack_dictionary(chunk_id bigint, tenant text)
RETURNS bytea
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    visible text[] := _prom_catalog.visible_tenants();
    found bytea;
BEGIN
    IF visible IS NOT NULL AND NOT tenant = ANY (visible) THEN
        RAISE EXCEPTION 'packed trace rows of tenant % are not visible to this transaction', pg_catalog.to_json(tenant)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT d.dictionary INTO found FROM _ps_trace.pack_dictionary d
    WHERE d.chunk_id = get_pack_dictionary.chunk_id AND d.tenant = get_pack_dictionary.tenant;
    RETURN found;
END
$$;
COMMENT ON FUNCTION _ps_trace.get_pack_dictionary(bigint, text) IS
    'The packing dictionary of a chunk and tenant (NULL: none); refused for a tenant this transaction may not see';
GRANT EXECUTE ON FUNCTION _ps_trace.get_pack_dictionary(bigint, text) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION _ps_trace.unpack_spans(p _ps_trace.span_packed)
RETURNS SETOF _ps_trace.span
LANGUAGE plpython3u
STABLE
STRICT
PARALLEL UNSAFE  -- reads the chunk's dictionary with SPI, which PL/Python cannot do in parallel mode
ROWS 10
SET search_path = pg_catalog, pg_temp
AS $python$
unpack = SD.get("unpack")
if unpack is None:
    if "promscale" not in GD:
        plpy.execute("SELECT _ps_catalog.python_bootstrap()")
    unpack = SD["unpack"] = GD["promscale"].module(plpy, "promscale.traces.packing").unpack_spans
return list(unpack(plpy, p))
$python$;
COMMENT ON FUNCTION _ps_trace.unpack_spans(_ps_trace.span_packed) IS 'The spans of a packed trace row';
GRANT EXECUTE ON FUNCTION _ps_trace.unpack_spans(_ps_trace.span_packed) TO prom_reader, prom_tenant_reader;

-- The spans of a packed row (of some operations, NULL: all) with their events (jsonb array of {"name", "attributes"}, NULL
-- when none): a Jaeger tag search matches event attributes without a second unpack per span.
CREATE OR REPLACE FUNCTION _ps_trace.unpack_spans_with_events(p _ps_trace.span_packed, operation_ids bigint[])
RETURNS TABLE (s _ps_trace.span, events jsonb)
LANGUAGE plpython3u
STABLE
PARALLEL UNSAFE  -- reads the chunk's dictionary with SPI, which PL/Python cannot do in parallel mode
ROWS 10
SET search_path = pg_catalog, pg_temp
AS $python$
unpack = SD.get("unpack")
if unpack is None:
    if "promscale" not in GD:
        plpy.execute("SELECT _ps_catalog.python_bootstrap()")
    unpack = SD["unpack"] = GD["promscale"].module(plpy, "promscale.traces.packing").unpack_spans_with_events
return list(unpack(plpy, p, operation_ids)) if p is not None else []
$python$;
COMMENT ON FUNCTION _ps_trace.unpack_spans_with_events(_ps_trace.span_packed, bigint[]) IS
    'The spans of some operations (NULL: all) of a packed trace row, each with its events (name and attributes)';
GRANT EXECUTE ON FUNCTION _ps_trace.unpack_spans_with_events(_ps_trace.span_packed, bigint[]) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION _ps_trace.unpack_events(p _ps_trace.span_packed)
RETURNS SETOF _ps_trace.event
LANGUAGE plpython3u
STABLE
STRICT
PARALLEL UNSAFE  -- reads the chunk's dictionary with SPI, which PL/Python cannot do in parallel mode
ROWS 10
SET search_path = pg_catalog, pg_temp
AS $python$
unpack = SD.get("unpack")
if unpack is None:
    if "promscale" not in GD:
        plpy.execute("SELECT _ps_catalog.python_bootstrap()")
    unpack = SD["unpack"] = GD["promscale"].module(plpy, "promscale.traces.packing").unpack_events
return list(unpack(plpy, p))
$python$;
COMMENT ON FUNCTION _ps_trace.unpack_events(_ps_trace.span_packed) IS 'The span events of a packed trace row';
GRANT EXECUTE ON FUNCTION _ps_trace.unpack_events(_ps_trace.span_packed) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION _ps_trace.unpack_links(p _ps_trace.span_packed)
RETURNS SETOF _ps_trace.link
LANGUAGE plpython3u
STABLE
STRICT
PARALLEL UNSAFE  -- reads the chunk's dictionary with SPI, which PL/Python cannot do in parallel mode
ROWS 2
SET search_path = pg_catalog, pg_temp
AS $python$
unpack = SD.get("unpack")
if unpack is None:
    if "promscale" not in GD:
        plpy.execute("SELECT _ps_catalog.python_bootstrap()")
    unpack = SD["unpack"] = GD["promscale"].module(plpy, "promscale.traces.packing").unpack_links
return list(unpack(plpy, p))
$python$;
COMMENT ON FUNCTION _ps_trace.unpack_links(_ps_trace.span_packed) IS 'The span links of a packed trace row';
GRANT EXECUTE ON FUNCTION _ps_trace.unpack_links(_ps_trace.span_packed) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE VIEW _ps_trace.span_all AS
SELECT s.trace_id, s.span_id, s.parent_span_id, s.start_time, s.end_time, s.start_ns, s.end_ns, s.operation_id,
       s.resource_id, s.scope_id, s.trace_state, s.flags, s.status_code, s.status_message, s.attributes,
       s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count, s.tenant
FROM _ps_trace.span s
WHERE ((SELECT _prom_catalog.visible_tenants()) IS NULL OR s.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]))
UNION ALL
SELECT p.trace_id, u.span_id, u.parent_span_id, u.start_time, u.end_time, u.start_ns, u.end_ns, u.operation_id,
       u.resource_id, u.scope_id, u.trace_state, u.flags, u.status_code, u.status_message, u.attributes,
       u.dropped_attributes_count, u.dropped_events_count, u.dropped_links_count, p.tenant
FROM _ps_trace.span_packed p CROSS JOIN LATERAL _ps_trace.unpack_spans(p) u
WHERE ((SELECT _prom_catalog.visible_tenants()) IS NULL OR p.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]));
COMMENT ON VIEW _ps_trace.span_all IS 'Every stored span visible to this transaction: row partitions and packed rows';
GRANT SELECT ON TABLE _ps_trace.span_all TO prom_reader;

CREATE OR REPLACE VIEW _ps_trace.event_all AS
SELECT e.trace_id, e.span_id, e.span_start_time, e.event_nbr, e.time, e.time_ns, e.name, e.attributes,
       e.dropped_attributes_count, e.tenant
FROM _ps_trace.event e
WHERE ((SELECT _prom_catalog.visible_tenants()) IS NULL OR e.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]))
UNION ALL
SELECT p.trace_id, u.span_id, u.span_start_time, u.event_nbr, u.time, u.time_ns, u.name, u.attributes,
       u.dropped_attributes_count, p.tenant
FROM _ps_trace.span_packed p CROSS JOIN LATERAL _ps_trace.unpack_events(p) u
WHERE ((SELECT _prom_catalog.visible_tenants()) IS NULL OR p.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]));
COMMENT ON VIEW _ps_trace.event_all IS 'Every stored span event visible to this transaction: row partitions and packed rows';
GRANT SELECT ON TABLE _ps_trace.event_all TO prom_reader;

CREATE OR REPLACE VIEW _ps_trace.link_all AS
SELECT l.trace_id, l.span_id, l.span_start_time, l.link_nbr, l.linked_trace_id, l.linked_span_id, l.trace_state,
       l.flags, l.attributes, l.dropped_attributes_count, l.tenant
FROM _ps_trace.link l
WHERE ((SELECT _prom_catalog.visible_tenants()) IS NULL OR l.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]))
UNION ALL
SELECT p.trace_id, u.span_id, u.span_start_time, u.link_nbr, u.linked_trace_id, u.linked_span_id, u.trace_state,
       u.flags, u.attributes, u.dropped_attributes_count, p.tenant
FROM _ps_trace.span_packed p CROSS JOIN LATERAL _ps_trace.unpack_links(p) u
WHERE ((SELECT _prom_catalog.visible_tenants()) IS NULL OR p.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]));
COMMENT ON VIEW _ps_trace.link_all IS 'Every stored span link visible to this transaction: row partitions and packed rows';
GRANT SELECT ON TABLE _ps_trace.link_all TO prom_reader;

-- Spans (row partitions and packed) starting in [lo, hi) of the tenants this transaction may
-- see: packed rows are chosen by their start range and tenant before anything is unpacked.
-- `operation_ids` NULL means every operation.
CREATE OR REPLACE FUNCTION _ps_trace.spans_between(lo timestamptz, hi timestamptz, operation_ids bigint[] DEFAULT NULL)
RETURNS SETOF _ps_trace.span
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.* FROM _ps_trace.span s
    WHERE s.start_time >= lo AND s.start_time < hi
      AND (operation_ids IS NULL OR s.operation_id = ANY (operation_ids))
      AND ((SELECT _prom_catalog.visible_tenants()) IS NULL OR s.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]))
    UNION ALL
    SELECT u.* FROM _ps_trace.span_packed p CROSS JOIN LATERAL _ps_trace.unpack_spans(p) u
    WHERE p.start_time < hi AND p.max_start_time >= lo
      AND (operation_ids IS NULL OR p.operation_ids && operation_ids)
      AND ((SELECT _prom_catalog.visible_tenants()) IS NULL OR p.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]))
      AND u.start_time >= lo AND u.start_time < hi
      AND (operation_ids IS NULL OR u.operation_id = ANY (operation_ids))
$$;
COMMENT ON FUNCTION _ps_trace.spans_between(timestamptz, timestamptz, bigint[]) IS
    'Stored spans starting in [lo, hi) of the visible tenants, packed or not, optionally of some operations only';
GRANT EXECUTE ON FUNCTION _ps_trace.spans_between(timestamptz, timestamptz, bigint[]) TO prom_reader;
