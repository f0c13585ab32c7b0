-- Trace ingest: one call per OTLP request, all rows in the caller's transaction.
-- Arrays come in parallel (one element per resource, scope, span, event, link); the
-- connector decodes OTLP into them. Index arguments are 1-based positions.
--
-- Multitenancy (docs/traces.md "Tenants"): each resource's spans belong to one tenant, the
-- request's (prom_api.set_request_tenant) or, outside a tenant context, the one its __tenant__
-- attribute names ('' none). A request's tenant is stamped as the resource attribute
-- __tenant__; a resource naming another tenant refuses the whole request, as does a tenant
-- outside the writing role's grants (_prom_catalog.visible_tenants()).

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0009-trace-schema.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _ps_trace.resource TO prom_reader;
GRANT SELECT ON TABLE _ps_trace.scope TO prom_reader;
GRANT SELECT ON TABLE _ps_trace.operation TO prom_reader;
GRANT SELECT ON TABLE _ps_trace.span TO prom_reader;
GRANT SELECT ON TABLE _ps_trace.event TO prom_reader;
GRANT SELECT ON TABLE _ps_trace.link TO prom_reader;

-- md5 of a row's identifying fields: the interning key of resources and scopes.
CREATE OR REPLACE FUNCTION _ps_trace.digest(VARIADIC parts text[])
RETURNS bytea
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT decode(md5(array_to_string(parts, chr(1), chr(2))), 'hex')
$$;
COMMENT ON FUNCTION _ps_trace.digest(text[]) IS 'Interning key of a resource or scope';

-- Interning is two statements on purpose: in a VOLATILE SQL function each statement takes a
-- fresh snapshot, so the lookup sees rows that a concurrent request committed while our
-- INSERT ... ON CONFLICT waited for it (one statement would see NULL ids).

-- Interns resources; returns their ids in input order.
CREATE OR REPLACE FUNCTION _ps_trace.get_or_create_resource_ids(
    service_names text[], attributes jsonb[], dropped_counts bigint[], schema_urls text[])
RETURNS bigint[]
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _ps_trace.resource (service_name, attributes, dropped_attributes_count, schema_url, digest)
    SELECT DISTINCT ON (digest) s, a, d, u, digest
    FROM (SELECT s, a, d, u, _ps_trace.digest(s, a::text, d::text, u) AS digest
          FROM unnest(service_names, attributes, dropped_counts, schema_urls) AS i(s, a, d, u)) x
    ORDER BY digest
    ON CONFLICT (digest) DO NOTHING;

    SELECT array_agg(r.id ORDER BY i.o)
    FROM unnest(service_names, attributes, dropped_counts, schema_urls) WITH ORDINALITY AS i(s, a, d, u, o)
    JOIN _ps_trace.resource r ON r.digest = _ps_trace.digest(i.s, i.a::text, i.d::text, i.u);
$$;
COMMENT ON FUNCTION _ps_trace.get_or_create_resource_ids(text[], jsonb[], bigint[], text[]) IS
    'Interns OTLP resources; returns their ids in input order';

CREATE OR REPLACE FUNCTION _ps_trace.get_or_create_scope_ids(
    names text[], versions text[], attributes jsonb[], dropped_counts bigint[], schema_urls text[])
RETURNS bigint[]
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _ps_trace.scope (name, version, attributes, dropped_attributes_count, schema_url, digest)
    SELECT DISTINCT ON (digest) n, v, a, d, u, digest
    FROM (SELECT n, v, a, d, u, _ps_trace.digest(n, v, a::text, d::text, u) AS digest
          FROM unnest(names, versions, attributes, dropped_counts, schema_urls) AS i(n, v, a, d, u)) x
    ORDER BY digest
    ON CONFLICT (digest) DO NOTHING;

    SELECT array_agg(sc.id ORDER BY i.o)
    FROM unnest(names, versions, attributes, dropped_counts, schema_urls) WITH ORDINALITY AS i(n, v, a, d, u, o)
    JOIN _ps_trace.scope sc ON sc.digest = _ps_trace.digest(i.n, i.v, i.a::text, i.d::text, i.u);
$$;
COMMENT ON FUNCTION _ps_trace.get_or_create_scope_ids(text[], text[], jsonb[], bigint[], text[]) IS
    'Interns OTLP instrumentation scopes; returns their ids in input order';

-- Interns operations (per tenant); returns their ids in input order.
DROP FUNCTION IF EXISTS _ps_trace.get_or_create_operation_ids(text[], text[], bigint[]);  -- before tenants
CREATE OR REPLACE FUNCTION _ps_trace.get_or_create_operation_ids(
    tenants text[], service_names text[], span_names text[], span_kinds bigint[])
RETURNS bigint[]
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _ps_trace.operation (tenant, service_name, span_name, span_kind)
    SELECT DISTINCT t, s, n, k::smallint FROM unnest(tenants, service_names, span_names, span_kinds) AS i(t, s, n, k)
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (tenant, service_name, span_name, span_kind) DO NOTHING;

    SELECT array_agg(op.id ORDER BY i.o)
    FROM unnest(tenants, service_names, span_names, span_kinds) WITH ORDINALITY AS i(t, s, n, k, o)
    JOIN _ps_trace.operation op
        ON (op.tenant, op.service_name, op.span_name, op.span_kind) = (i.t, i.s, i.n, i.k::smallint);
$$;
COMMENT ON FUNCTION _ps_trace.get_or_create_operation_ids(text[], text[], text[], bigint[]) IS
    'Interns (tenant, service, span name, span kind) operations; returns their ids in input order';

-- The rows themselves. Spans already stored (same trace_id, tenant, span_id, start_time: a
-- retried export) are skipped together with their events and links, so a retry never duplicates.
DROP FUNCTION IF EXISTS _ps_trace.insert_spans(bigint[], bigint[], bigint[], uuid[], bigint[], bigint[], text[],
    bigint[], timestamptz[], bigint[], timestamptz[], bigint[], jsonb[], bigint[], bigint[], bigint[], bigint[], text[],
    bigint[], bigint[], timestamptz[], bigint[], text[], jsonb[], bigint[],
    bigint[], bigint[], uuid[], bigint[], text[], bigint[], jsonb[], bigint[]);  -- before tenants
CREATE OR REPLACE FUNCTION _ps_trace.insert_spans(
    tenants text[], resource_ids bigint[], scope_ids bigint[], operation_ids bigint[],
    trace_ids uuid[], span_ids bigint[], parent_span_ids bigint[], trace_states text[], flags bigint[],
    start_times timestamptz[], start_ns bigint[], end_times timestamptz[], end_ns bigint[],
    attributes jsonb[], dropped_attributes bigint[], dropped_events bigint[], dropped_links bigint[],
    status_codes bigint[], status_messages text[],
    event_span bigint[], event_nbr bigint[], event_times timestamptz[], event_ns bigint[], event_names text[],
    event_attributes jsonb[], event_dropped bigint[],
    link_span bigint[], link_nbr bigint[], link_trace_ids uuid[], link_span_ids bigint[], link_trace_states text[],
    link_flags bigint[], link_attributes jsonb[], link_dropped bigint[])
RETURNS bigint
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH s AS (
        SELECT * FROM unnest(tenants, resource_ids, scope_ids, operation_ids, trace_ids, span_ids, parent_span_ids,
                             trace_states, flags, start_times, start_ns, end_times, end_ns, attributes,
                             dropped_attributes, dropped_events, dropped_links, status_codes, status_messages)
            WITH ORDINALITY AS s(tenant, resource_id, scope_id, operation_id, trace_id, span_id, parent_span_id,
                                 trace_state, flags, start_time, start_ns, end_time, end_ns, attributes,
                                 dropped_attributes, dropped_events, dropped_links, status_code, status_message, ord)
    ), ins AS (
        INSERT INTO _ps_trace.span (trace_id, span_id, parent_span_id, start_time, end_time, start_ns, end_ns,
            operation_id, resource_id, scope_id, trace_state, flags, status_code, status_message, attributes,
            dropped_attributes_count, dropped_events_count, dropped_links_count, tenant)
        SELECT trace_id, span_id, nullif(parent_span_id, 0), start_time, end_time, start_ns, end_ns,
            operation_id, resource_id, scope_id, nullif(trace_state, ''), flags, status_code,
            nullif(status_message, ''), attributes, dropped_attributes, dropped_events, dropped_links, tenant
        FROM s
        -- a retried span may already be packed (docs: 455-trace-packing.sql); only spans older
        -- than the newest packed chunk's end need the look
        WHERE NOT coalesce(s.start_time < (SELECT max(c.end_time) FROM _ps_trace.chunk c WHERE c.packed_at IS NOT NULL)
            AND EXISTS (
                SELECT 1 FROM _ps_trace.span_packed p
                WHERE p.trace_id = s.trace_id AND p.tenant = s.tenant
                  AND p.start_time <= s.start_time AND p.max_start_time >= s.start_time
                  AND EXISTS (SELECT 1 FROM _ps_trace.unpack_spans(p) u
                              WHERE u.span_id = s.span_id AND u.start_time = s.start_time)), false)
        ON CONFLICT DO NOTHING
        RETURNING trace_id, tenant, span_id, start_time
    ), new_span AS (
        SELECT s.ord, s.trace_id, s.tenant, s.span_id, s.start_time
        FROM s JOIN ins USING (trace_id, tenant, span_id, start_time)
    ), ev AS (
        INSERT INTO _ps_trace.event (trace_id, span_id, span_start_time, event_nbr, time, time_ns, name,
            attributes, dropped_attributes_count, tenant)
        SELECT n.trace_id, n.span_id, n.start_time, e.nbr, e.t, e.ns, e.name, e.attributes, e.dropped, n.tenant
        FROM unnest(event_span, event_nbr, event_times, event_ns, event_names, event_attributes, event_dropped)
            AS e(span, nbr, t, ns, name, attributes, dropped)
        JOIN new_span n ON n.ord = e.span
    ), ln AS (
        INSERT INTO _ps_trace.link (trace_id, span_id, span_start_time, link_nbr, linked_trace_id, linked_span_id,
            trace_state, flags, attributes, dropped_attributes_count, tenant)
        SELECT n.trace_id, n.span_id, n.start_time, l.nbr, l.trace_id, l.span_id, nullif(l.trace_state, ''),
            l.flags, l.attributes, l.dropped, n.tenant
        FROM unnest(link_span, link_nbr, link_trace_ids, link_span_ids, link_trace_states, link_flags,
                    link_attributes, link_dropped)
            AS l(span, nbr, trace_id, span_id, trace_state, flags, attributes, dropped)
        JOIN new_span n ON n.ord = l.span
    )
    SELECT count(*) FROM ins
$$;
COMMENT ON FUNCTION _ps_trace.insert_spans(text[], bigint[], bigint[], bigint[], uuid[], bigint[], bigint[], text[], bigint[],
    timestamptz[], bigint[], timestamptz[], bigint[], jsonb[], bigint[], bigint[], bigint[], bigint[], text[],
    bigint[], bigint[], timestamptz[], bigint[], text[], jsonb[], bigint[],
    bigint[], bigint[], uuid[], bigint[], text[], bigint[], jsonb[], bigint[]) IS
    'Inserts spans with their events and links; spans already stored are skipped with theirs';

-- Writes one OTLP request. Resources and scopes are given once each; spans point at them
-- (span_resource, span_scope: 1-based positions); events and links point at their span.
-- Returns the number of spans written (retried spans already stored are not counted).
CREATE OR REPLACE FUNCTION ps_trace.put_spans(
    resource_service_names text[], resource_attributes jsonb[], resource_dropped bigint[], resource_schema_urls text[],
    scope_names text[], scope_versions text[], scope_attributes jsonb[], scope_dropped bigint[], scope_schema_urls text[],
    span_resource bigint[], span_scope bigint[],
    trace_ids uuid[], span_ids bigint[], parent_span_ids bigint[], trace_states text[], flags bigint[],
    names text[], kinds bigint[], start_times timestamptz[], start_ns bigint[], end_times timestamptz[], end_ns bigint[],
    attributes jsonb[], dropped_attributes bigint[], dropped_events bigint[], dropped_links bigint[],
    status_codes bigint[], status_messages text[],
    event_span bigint[], event_nbr bigint[], event_times timestamptz[], event_ns bigint[], event_names text[],
    event_attributes jsonb[], event_dropped bigint[],
    link_span bigint[], link_nbr bigint[], link_trace_ids uuid[], link_span_ids bigint[], link_trace_states text[],
    link_flags bigint[], link_attributes jsonb[], link_dropped bigint[])
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    resource_ids bigint[];
    scope_ids bigint[];
    operation_ids bigint[];
    span_resource_ids bigint[];
    span_scope_ids bigint[];
    span_tenants text[];
    span_services text[];
    requested text := _prom_catalog.request_tenant();
    visible text[] := _prom_catalog.visible_tenants();
    resource_tenants text[];
    sent jsonb;
    tenant text;
    written bigint;
BEGIN
    IF cardinality(trace_ids) IS DISTINCT FROM cardinality(span_ids)
       OR cardinality(trace_ids) IS DISTINCT FROM cardinality(start_times)
       OR cardinality(trace_ids) IS DISTINCT FROM cardinality(span_resource)
       OR cardinality(trace_ids) IS DISTINCT FROM cardinality(attributes) THEN
        RAISE EXCEPTION 'span arrays must all have the same length' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(trace_ids), 0) = 0 THEN
        RETURN 0;
    END IF;
    FOR i IN 1 .. coalesce(cardinality(resource_attributes), 0) LOOP
        sent := resource_attributes[i] -> '__tenant__';
        IF sent IS NOT NULL AND pg_catalog.jsonb_typeof(sent) <> 'string' THEN
            RAISE EXCEPTION 'the resource attribute __tenant__ must be a string, got %', left(sent::text, 160)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF requested IS NOT NULL AND sent IS NOT NULL AND sent #>> '{}' <> requested THEN
            RAISE EXCEPTION 'the resource attribute __tenant__ % is not the request''s tenant: %', left(sent::text, 160),
                CASE WHEN requested = '' THEN 'a request without tenant may not send one'
                     ELSE pg_catalog.format('it must be %s or absent', pg_catalog.to_json(requested)) END
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        tenant := coalesce(requested, sent #>> '{}', '');
        IF tenant <> '' THEN
            PERFORM _prom_catalog.check_tenant_name(tenant);
        END IF;
        IF visible IS NOT NULL AND NOT tenant = ANY (visible) THEN
            RAISE EXCEPTION 'spans of tenant % may not be written here: this role''s tenant grants do not cover it',
                pg_catalog.to_json(tenant) USING ERRCODE = 'invalid_parameter_value';
        END IF;
        resource_tenants[i] := tenant;
        IF tenant <> '' AND sent IS NULL THEN  -- the tenant travels with the spans (Jaeger shows it as a process tag)
            resource_attributes[i] := resource_attributes[i] || pg_catalog.jsonb_build_object('__tenant__', tenant);
        END IF;
    END LOOP;
    resource_ids := _ps_trace.get_or_create_resource_ids(
        resource_service_names, resource_attributes, resource_dropped, resource_schema_urls);
    scope_ids := _ps_trace.get_or_create_scope_ids(
        scope_names, scope_versions, scope_attributes, scope_dropped, scope_schema_urls);
    SELECT array_agg(resource_ids[r] ORDER BY o), array_agg(scope_ids[c] ORDER BY o),
           array_agg(resource_tenants[r] ORDER BY o), array_agg(resource_service_names[r] ORDER BY o)
    INTO span_resource_ids, span_scope_ids, span_tenants, span_services
    FROM unnest(span_resource, span_scope) WITH ORDINALITY AS x(r, c, o);
    operation_ids := _ps_trace.get_or_create_operation_ids(span_tenants, span_services, names, kinds);
    -- closed chunks may be packed concurrently: wait for a packer at work on them, keep the
    -- next one out until we commit (455-trace-packing.sql)
    PERFORM 1 FROM _ps_trace.chunk c
    WHERE (c.end_time <= clock_timestamp() OR c.packed_at IS NOT NULL)
      AND c.end_time > (SELECT min(t) FROM unnest(start_times) t)
      AND c.start_time <= (SELECT max(t) FROM unnest(start_times) t)
    ORDER BY c.start_time
    FOR KEY SHARE;
    BEGIN
        written := _ps_trace.insert_spans(span_tenants, span_resource_ids, span_scope_ids, operation_ids,
            trace_ids, span_ids, parent_span_ids, trace_states, flags, start_times, start_ns, end_times, end_ns,
            attributes, dropped_attributes, dropped_events, dropped_links, status_codes, status_messages,
            event_span, event_nbr, event_times, event_ns, event_names, event_attributes, event_dropped,
            link_span, link_nbr, link_trace_ids, link_span_ids, link_trace_states, link_flags, link_attributes,
            link_dropped);
    EXCEPTION WHEN check_violation THEN
        -- "no partition of relation span found for row": make them, then retry once
        PERFORM _ps_trace.ensure_chunks(start_times);
        written := _ps_trace.insert_spans(span_tenants, span_resource_ids, span_scope_ids, operation_ids,
            trace_ids, span_ids, parent_span_ids, trace_states, flags, start_times, start_ns, end_times, end_ns,
            attributes, dropped_attributes, dropped_events, dropped_links, status_codes, status_messages,
            event_span, event_nbr, event_times, event_ns, event_names, event_attributes, event_dropped,
            link_span, link_nbr, link_trace_ids, link_span_ids, link_trace_states, link_flags, link_attributes,
            link_dropped);
    END;
    RETURN written;
END
$$;
COMMENT ON FUNCTION ps_trace.put_spans(text[], jsonb[], bigint[], text[], text[], text[], jsonb[], bigint[], text[],
    bigint[], bigint[], uuid[], bigint[], bigint[], text[], bigint[], text[], bigint[], timestamptz[], bigint[],
    timestamptz[], bigint[], jsonb[], bigint[], bigint[], bigint[], bigint[], text[],
    bigint[], bigint[], timestamptz[], bigint[], text[], jsonb[], bigint[],
    bigint[], bigint[], uuid[], bigint[], text[], bigint[], jsonb[], bigint[]) IS
    'Writes the spans of one OTLP request (with their resources, scopes, events and links); returns spans written';
GRANT EXECUTE ON FUNCTION ps_trace.put_spans(
    text[], jsonb[], bigint[], text[], text[], text[], jsonb[], bigint[], text[], bigint[],
    bigint[], uuid[], bigint[], bigint[], text[], bigint[], text[], bigint[], timestamptz[],
    bigint[], timestamptz[], bigint[], jsonb[], bigint[], bigint[], bigint[], bigint[], text[],
    bigint[], bigint[], timestamptz[], bigint[], text[], jsonb[], bigint[], bigint[], bigint[],
    uuid[], bigint[], text[], bigint[], jsonb[], bigint[])
    TO prom_writer;
