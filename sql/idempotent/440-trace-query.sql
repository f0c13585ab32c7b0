-- What the Jaeger query API needs: services, operations, trace search, trace fetch, dependencies.
-- The connector only turns these rows into Jaeger JSON.
--
-- Each answers from the tenants this transaction may see (_prom_catalog.visible_tenants(): the
-- request's tenant, the calling role's grants): operations are per tenant, so a search through
-- a tenant's operation ids reads that tenant's spans only; trace fetches read _ps_trace.span_all,
-- which filters. SECURITY DEFINER: analysts of one tenant (prom_tenant_reader) read no trace table.

CREATE OR REPLACE FUNCTION ps_trace.get_services()
RETURNS SETOF text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT o.service_name FROM _ps_trace.operation o
    WHERE (SELECT _prom_catalog.visible_tenants()) IS NULL OR o.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[])
    ORDER BY 1
$$;
COMMENT ON FUNCTION ps_trace.get_services() IS 'Names of the services that sent spans';
GRANT EXECUTE ON FUNCTION ps_trace.get_services() TO prom_reader, prom_tenant_reader;

-- Operations of a service; span_kind NULL means every kind.
CREATE OR REPLACE FUNCTION ps_trace.get_operations(_service_name text, _span_kind text DEFAULT NULL)
RETURNS TABLE (span_name text, span_kind text)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT o.span_name, ps_trace.span_kind_name(o.span_kind)  -- (one row for several visible tenants)
    FROM _ps_trace.operation o
    WHERE o.service_name = _service_name
      AND (_span_kind IS NULL OR ps_trace.span_kind_name(o.span_kind) = _span_kind)
      AND ((SELECT _prom_catalog.visible_tenants()) IS NULL OR o.tenant = ANY ((SELECT _prom_catalog.visible_tenants())::text[]))
    ORDER BY 1, 2
$$;
COMMENT ON FUNCTION ps_trace.get_operations(text, text) IS 'Operations (span name, span kind) of a service';
GRANT EXECUTE ON FUNCTION ps_trace.get_operations(text, text) TO prom_reader, prom_tenant_reader;

-- Does a span match a Jaeger tag filter? Tags match span attributes, resource (process)
-- attributes, event attributes, and the tags Jaeger derives from OTLP fields.
-- `events`: the span's events as a jsonb array of {"name", "attributes"} when the caller has
-- them at hand (a packed span), NULL to read them from storage.
CREATE OR REPLACE FUNCTION _ps_trace.span_matches_tag(
    s _ps_trace.span, resource_attributes jsonb, span_kind smallint, tag_key text, tag_value text,
    events jsonb)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(s.attributes ->> tag_key = tag_value, false)
        OR coalesce(resource_attributes ->> tag_key = tag_value, false)
        OR (tag_key = 'error' AND tag_value = 'true' AND s.status_code = 2)
        OR (tag_key = 'span.kind' AND ps_trace.span_kind_name(span_kind) = tag_value)
        OR (tag_key = 'otel.status_code' AND upper(ps_trace.status_code_name(s.status_code)) = tag_value)
        OR (tag_key = 'otel.status_description' AND s.status_message IS NOT DISTINCT FROM tag_value)
        OR (tag_key = 'w3c.tracestate' AND s.trace_state IS NOT DISTINCT FROM tag_value)
        OR CASE WHEN events IS NOT NULL THEN
            EXISTS (SELECT 1 FROM jsonb_array_elements(events) e
                    WHERE e -> 'attributes' ->> tag_key = tag_value OR (tag_key = 'event' AND e ->> 'name' = tag_value))
        ELSE
            EXISTS (SELECT 1 FROM _ps_trace.event_all e
                    WHERE e.trace_id = s.trace_id AND e.tenant = s.tenant AND e.span_id = s.span_id
                      AND e.span_start_time = s.start_time
                      AND (e.attributes ->> tag_key = tag_value OR (tag_key = 'event' AND e.name = tag_value)))
        END
$$;
COMMENT ON FUNCTION _ps_trace.span_matches_tag(_ps_trace.span, jsonb, smallint, text, text, jsonb) IS
    'Whether a span matches one Jaeger search tag';
GRANT EXECUTE ON FUNCTION _ps_trace.span_matches_tag(_ps_trace.span, jsonb, smallint, text, text, jsonb)
    TO prom_reader;

CREATE OR REPLACE FUNCTION _ps_trace.span_matches_tag(
    s _ps_trace.span, resource_attributes jsonb, span_kind smallint, tag_key text, tag_value text)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _ps_trace.span_matches_tag(s, resource_attributes, span_kind, tag_key, tag_value, NULL)
$$;
COMMENT ON FUNCTION _ps_trace.span_matches_tag(_ps_trace.span, jsonb, smallint, text, text) IS
    'Whether a span matches one Jaeger search tag (its events read from storage)';
GRANT EXECUTE ON FUNCTION _ps_trace.span_matches_tag(_ps_trace.span, jsonb, smallint, text, text)
    TO prom_reader;

-- Traces with a span that matches everything given (NULL = no filter), most recent first.
-- Reads the service's spans newest first and stops at `_limit` distinct traces: partitions
-- from the newest down, and inside one a merge of (operation_id, start_time) index scans
-- (one per operation of the service), so a search costs about what its answer costs,
-- however many spans the window holds. A packed chunk is read in slices from its end down:
-- a slice [x, hi) ends at the latest span start x of the next few packed rows (of the
-- service's operations, by the (max_start_time) index), and unpacks the rows whose latest span
-- starts at or after x, which hold every packed span of the slice.
CREATE OR REPLACE FUNCTION ps_trace.find_trace_ids(
    _service_name text, _operation text, _tags jsonb, _start_time timestamptz, _end_time timestamptz,
    _min_duration interval, _max_duration interval, _limit int)
RETURNS TABLE (trace_id uuid, start_time timestamptz)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    newest_first text;
    packed_newest_first text;
    ops bigint[];
    op_tenants text[];  -- the tenants of those operations (one for a tenant's request)
    chunk record;
    found_ids uuid[] := '{}';
    r record;
    tag record;
    matches boolean;
    resource_attributes jsonb;
    slice_lo timestamptz;
    slice_hi timestamptz;
    rows_per_slice int := greatest(_limit, 16);
    visible text[] := _prom_catalog.visible_tenants();
BEGIN
    SELECT string_agg(format(
        '(SELECT s, %s::smallint AS kind, s.start_time AS t, NULL::jsonb AS events FROM _ps_trace.span s WHERE s.operation_id = %s'
        ' AND s.start_time >= $1 AND s.start_time < $2 ORDER BY s.start_time DESC)', o.span_kind, o.id),
        ' UNION ALL '), array_agg(o.id), array_agg(DISTINCT o.tenant)
    INTO newest_first, ops, op_tenants
    FROM _ps_trace.operation o
    WHERE o.service_name = _service_name AND (_operation IS NULL OR o.span_name = _operation)
      AND (visible IS NULL OR o.tenant = ANY (visible));  -- the visible tenants' operations: their spans only
    IF newest_first IS NULL OR coalesce(_limit, 0) <= 0 THEN
        RETURN;
    END IF;
    packed_newest_first := 'SELECT * FROM (' || newest_first || ' UNION ALL '
        '(SELECT u.s, o.span_kind AS kind, (u.s).start_time AS t, coalesce(u.events, ''[]'') AS events'
        ' FROM _ps_trace.span_packed p CROSS JOIN LATERAL _ps_trace.unpack_spans_with_events(p, $3) u'
        ' JOIN _ps_trace.operation o ON o.id = (u.s).operation_id'
        ' WHERE p.start_time < $2 AND p.max_start_time >= $1 AND p.operation_ids && $3 AND p.tenant = ANY ($4)'
        '   AND (u.s).operation_id = ANY ($3) AND (u.s).start_time >= $1 AND (u.s).start_time < $2)) u ORDER BY t DESC';
    newest_first := 'SELECT * FROM (' || newest_first || ') u ORDER BY t DESC';
    FOR chunk IN
        SELECT greatest(c.start_time, _start_time) AS lo, least(c.end_time, _end_time + interval '1 microsecond') AS hi,
               c.packed_at IS NOT NULL AS packed
        FROM _ps_trace.chunk c
        WHERE c.start_time <= _end_time AND c.end_time > _start_time
        ORDER BY c.start_time DESC
    LOOP
        slice_hi := chunk.hi;
        WHILE slice_hi > chunk.lo LOOP
            slice_lo := NULL;
            IF chunk.packed THEN
                -- one tenant's rows (the (tenant, max_start_time) index): other tenants' traces
                -- of the same times are not read; several tenants (a role that sees them) walk
                -- the (max_start_time) index
                IF cardinality(op_tenants) = 1 THEN
                    SELECT p.max_start_time INTO slice_lo
                    FROM _ps_trace.span_packed p
                    WHERE p.tenant = op_tenants[1]
                      AND p.max_start_time < slice_hi AND p.max_start_time >= chunk.lo AND p.start_time < slice_hi
                      AND p.operation_ids && ops
                    ORDER BY p.max_start_time DESC OFFSET rows_per_slice - 1 LIMIT 1;
                ELSE
                    SELECT p.max_start_time INTO slice_lo
                    FROM _ps_trace.span_packed p
                    WHERE p.max_start_time < slice_hi AND p.max_start_time >= chunk.lo AND p.start_time < slice_hi
                      AND p.operation_ids && ops
                    ORDER BY p.max_start_time DESC OFFSET rows_per_slice - 1 LIMIT 1;
                END IF;
            END IF;
            slice_lo := coalesce(slice_lo, chunk.lo);
            FOR r IN EXECUTE CASE WHEN chunk.packed THEN packed_newest_first ELSE newest_first END
                USING slice_lo, slice_hi, ops, op_tenants
            LOOP
                -- (a trace id sent by two visible tenants is one answer, as get_trace_spans shows it)
                CONTINUE WHEN (r.s).trace_id = ANY (found_ids);
                CONTINUE WHEN _min_duration IS NOT NULL AND (r.s).end_time - (r.s).start_time < _min_duration;
                CONTINUE WHEN _max_duration IS NOT NULL AND (r.s).end_time - (r.s).start_time > _max_duration;
                IF _tags IS NOT NULL THEN
                    SELECT res.attributes INTO resource_attributes FROM _ps_trace.resource res WHERE res.id = (r.s).resource_id;
                    matches := true;
                    FOR tag IN SELECT * FROM jsonb_each_text(_tags) LOOP
                        IF NOT coalesce(_ps_trace.span_matches_tag(r.s, resource_attributes, r.kind, tag.key, tag.value, r.events), false) THEN
                            matches := false;
                            EXIT;
                        END IF;
                    END LOOP;
                    CONTINUE WHEN NOT matches;
                END IF;
                found_ids := found_ids || (r.s).trace_id;
                trace_id := (r.s).trace_id;
                start_time := (r.s).start_time;
                RETURN NEXT;
                EXIT WHEN cardinality(found_ids) >= _limit;
            END LOOP;
            EXIT WHEN cardinality(found_ids) >= _limit;
            slice_hi := slice_lo;
        END LOOP;
        EXIT WHEN cardinality(found_ids) >= _limit;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ps_trace.find_trace_ids(text, text, jsonb, timestamptz, timestamptz, interval, interval, int) IS
    'Ids of the traces with a span matching service, operation, tags, time window and duration (Jaeger search)';
GRANT EXECUTE ON FUNCTION ps_trace.find_trace_ids(
    text, text, jsonb, timestamptz, timestamptz, interval, interval, int)
    TO prom_reader, prom_tenant_reader;

-- Every span of the given traces, with resource, scope, events and links, for rendering.
CREATE OR REPLACE FUNCTION ps_trace.get_trace_spans(
    _trace_ids uuid[], _start_time timestamptz DEFAULT '-infinity', _end_time timestamptz DEFAULT 'infinity')
RETURNS TABLE (
    trace_id uuid, span_id bigint, parent_span_id bigint, service_name text, resource_id bigint,
    resource_attributes jsonb, span_name text, span_kind smallint, start_time_unix_nano bigint,
    end_time_unix_nano bigint, flags bigint, trace_state text, attributes jsonb, status_code smallint,
    status_message text, scope_name text, scope_version text, events jsonb, links jsonb)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- each packed trace row is unpacked once for its spans, events and links
    WITH s AS MATERIALIZED (
        SELECT * FROM _ps_trace.span_all s
        WHERE s.trace_id = ANY (_trace_ids) AND s.start_time >= _start_time AND s.start_time <= _end_time
    ), ev AS MATERIALIZED (  -- aggregated once (the planner cannot estimate unpacked rows)
        SELECT e.trace_id, e.tenant, e.span_id, e.span_start_time,
               jsonb_agg(jsonb_build_object('time_unix_nano', _ps_trace.unix_nano(e.time, e.time_ns),
                                            'name', e.name, 'attributes', e.attributes) ORDER BY e.event_nbr) AS events
        FROM _ps_trace.event_all e
        WHERE e.trace_id = ANY (_trace_ids) AND e.span_start_time >= _start_time AND e.span_start_time <= _end_time
        GROUP BY 1, 2, 3, 4
    ), ln AS MATERIALIZED (
        SELECT l.trace_id, l.tenant, l.span_id, l.span_start_time,
               jsonb_agg(jsonb_build_object('trace_id', ps_trace.trace_id_hex(l.linked_trace_id),
                                            'span_id', ps_trace.span_id_hex(l.linked_span_id)) ORDER BY l.link_nbr) AS links
        FROM _ps_trace.link_all l
        WHERE l.trace_id = ANY (_trace_ids) AND l.span_start_time >= _start_time AND l.span_start_time <= _end_time
        GROUP BY 1, 2, 3, 4
    )
    SELECT s.trace_id, s.span_id, s.parent_span_id, o.service_name, s.resource_id, r.attributes, o.span_name,
        o.span_kind, _ps_trace.unix_nano(s.start_time, s.start_ns), _ps_trace.unix_nano(s.end_time, s.end_ns),
        s.flags, s.trace_state, s.attributes, s.status_code, s.status_message, sc.name, sc.version,
        ev.events, ln.links
    FROM s
    JOIN _ps_trace.operation o ON o.id = s.operation_id
    JOIN _ps_trace.resource r ON r.id = s.resource_id
    JOIN _ps_trace.scope sc ON sc.id = s.scope_id
    LEFT JOIN ev ON ev.trace_id = s.trace_id AND ev.tenant = s.tenant AND ev.span_id = s.span_id
        AND ev.span_start_time = s.start_time
    LEFT JOIN ln ON ln.trace_id = s.trace_id AND ln.tenant = s.tenant AND ln.span_id = s.span_id
        AND ln.span_start_time = s.start_time
    ORDER BY s.trace_id, s.start_time, s.span_id
$$;
COMMENT ON FUNCTION ps_trace.get_trace_spans(uuid[], timestamptz, timestamptz) IS
    'All spans of some traces with their resource, scope, events and links (what a trace view renders)';
GRANT EXECUTE ON FUNCTION ps_trace.get_trace_spans(uuid[], timestamptz, timestamptz) TO prom_reader, prom_tenant_reader;

-- Calls between services among spans starting in [start, end) (Jaeger /api/dependencies).
-- Calls inside one service are left out: the graph shows service-to-service edges.
CREATE OR REPLACE FUNCTION ps_trace.get_dependencies(_start_time timestamptz, _end_time timestamptz)
RETURNS TABLE (parent text, child text, call_count bigint)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.service_name, c.service_name, sum(calls.cnt)::bigint
    FROM ps_trace.operation_calls(_start_time, _end_time) calls
    JOIN _ps_trace.operation p ON p.id = calls.parent_operation_id
    JOIN _ps_trace.operation c ON c.id = calls.child_operation_id
    WHERE p.service_name <> c.service_name
    GROUP BY 1, 2
    ORDER BY 1, 2
$$;
COMMENT ON FUNCTION ps_trace.get_dependencies(timestamptz, timestamptz) IS
    'Service-to-service call counts among spans starting in [start, end)';
GRANT EXECUTE ON FUNCTION ps_trace.get_dependencies(timestamptz, timestamptz) TO prom_reader, prom_tenant_reader;
