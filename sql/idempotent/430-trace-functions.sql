-- Trace navigation and the service dependency graph. Each reads the spans of the tenants this
-- transaction may see (_ps_trace.span_all, spans_between), and relates spans of one tenant only:
-- SECURITY DEFINER so that analysts of one tenant (prom_tenant_reader), who read no trace
-- table, may call them.

-- Every span of a trace reachable from its root spans, with depth and the span-id path.
CREATE OR REPLACE FUNCTION ps_trace.trace_tree(_trace_id uuid)
RETURNS TABLE (trace_id uuid, parent_span_id bigint, span_id bigint, lvl int, path bigint[])
LANGUAGE sql
STABLE
PARALLEL UNSAFE  -- packed rows are unpacked by PL/Python with SPI (405-trace-packed-read.sql)
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE t AS MATERIALIZED (  -- the trace's spans, read once (packed rows unpack once)
        SELECT s.trace_id, s.parent_span_id, s.span_id, s.tenant FROM _ps_trace.span_all s WHERE s.trace_id = _trace_id
    ), x(trace_id, parent_span_id, span_id, lvl, path, tenant) AS (
        SELECT s.trace_id, s.parent_span_id, s.span_id, 1, ARRAY[s.span_id], s.tenant
        FROM t s
        WHERE s.parent_span_id IS NULL
        UNION ALL
        SELECT s.trace_id, s.parent_span_id, s.span_id, x.lvl + 1, x.path || s.span_id, s.tenant
        FROM x
        JOIN t s ON s.parent_span_id = x.span_id AND s.tenant = x.tenant
        WHERE s.span_id <> ALL (x.path)  -- a cycle in bad data must not recurse forever
    )
    SELECT x.trace_id, x.parent_span_id, x.span_id, x.lvl, x.path FROM x
$$;
COMMENT ON FUNCTION ps_trace.trace_tree(uuid) IS
    'Spans of a trace from its root spans down: (trace_id, parent_span_id, span_id, lvl, path of span ids)';
GRANT EXECUTE ON FUNCTION ps_trace.trace_tree(uuid) TO prom_reader, prom_tenant_reader;

-- The span and its ancestors up to max_dist steps (NULL: all), dist 0 being the span itself.
CREATE OR REPLACE FUNCTION ps_trace.upstream_spans(_trace_id uuid, _span_id bigint, _max_dist int DEFAULT NULL)
RETURNS TABLE (trace_id uuid, parent_span_id bigint, span_id bigint, dist int, path bigint[])
LANGUAGE sql
STABLE
PARALLEL UNSAFE  -- packed rows are unpacked by PL/Python with SPI (405-trace-packed-read.sql)
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE t AS MATERIALIZED (
        SELECT s.trace_id, s.parent_span_id, s.span_id, s.tenant FROM _ps_trace.span_all s WHERE s.trace_id = _trace_id
    ), x(trace_id, parent_span_id, span_id, dist, path, tenant) AS (
        SELECT s.trace_id, s.parent_span_id, s.span_id, 0, ARRAY[s.span_id], s.tenant
        FROM t s
        WHERE s.span_id = _span_id
        UNION ALL
        SELECT s.trace_id, s.parent_span_id, s.span_id, x.dist + 1, s.span_id || x.path, s.tenant
        FROM x
        JOIN t s ON s.span_id = x.parent_span_id AND s.tenant = x.tenant
        WHERE (_max_dist IS NULL OR x.dist < _max_dist) AND s.span_id <> ALL (x.path)
    )
    SELECT x.trace_id, x.parent_span_id, x.span_id, x.dist, x.path FROM x
$$;
COMMENT ON FUNCTION ps_trace.upstream_spans(uuid, bigint, int) IS
    'A span and its ancestors up to max_dist steps: (trace_id, parent_span_id, span_id, dist, path from the top)';
GRANT EXECUTE ON FUNCTION ps_trace.upstream_spans(uuid, bigint, int) TO prom_reader, prom_tenant_reader;

-- The span and its descendants down to max_dist steps (NULL: all).
CREATE OR REPLACE FUNCTION ps_trace.downstream_spans(_trace_id uuid, _span_id bigint, _max_dist int DEFAULT NULL)
RETURNS TABLE (trace_id uuid, parent_span_id bigint, span_id bigint, dist int, path bigint[])
LANGUAGE sql
STABLE
PARALLEL UNSAFE  -- packed rows are unpacked by PL/Python with SPI (405-trace-packed-read.sql)
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE t AS MATERIALIZED (
        SELECT s.trace_id, s.parent_span_id, s.span_id, s.tenant FROM _ps_trace.span_all s WHERE s.trace_id = _trace_id
    ), x(trace_id, parent_span_id, span_id, dist, path, tenant) AS (
        SELECT s.trace_id, s.parent_span_id, s.span_id, 0, ARRAY[s.span_id], s.tenant
        FROM t s
        WHERE s.span_id = _span_id
        UNION ALL
        SELECT s.trace_id, s.parent_span_id, s.span_id, x.dist + 1, x.path || s.span_id, s.tenant
        FROM x
        JOIN t s ON s.parent_span_id = x.span_id AND s.tenant = x.tenant
        WHERE (_max_dist IS NULL OR x.dist < _max_dist) AND s.span_id <> ALL (x.path)
    )
    SELECT x.trace_id, x.parent_span_id, x.span_id, x.dist, x.path FROM x
$$;
COMMENT ON FUNCTION ps_trace.downstream_spans(uuid, bigint, int) IS
    'A span and its descendants down to max_dist steps: (trace_id, parent_span_id, span_id, dist, path from the span)';
GRANT EXECUTE ON FUNCTION ps_trace.downstream_spans(uuid, bigint, int) TO prom_reader, prom_tenant_reader;

-- Both directions at once; the span itself is both upstream and downstream (dist 0).
CREATE OR REPLACE FUNCTION ps_trace.span_tree(_trace_id uuid, _span_id bigint, _max_dist int DEFAULT NULL)
RETURNS TABLE (trace_id uuid, parent_span_id bigint, span_id bigint, dist int,
               is_upstream boolean, is_downstream boolean, path bigint[])
LANGUAGE sql
STABLE
PARALLEL UNSAFE  -- packed rows are unpacked by PL/Python with SPI (405-trace-packed-read.sql)
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.trace_id, u.parent_span_id, u.span_id, u.dist, true, u.dist = 0, u.path
    FROM ps_trace.upstream_spans(_trace_id, _span_id, _max_dist) u
    UNION ALL
    SELECT d.trace_id, d.parent_span_id, d.span_id, d.dist, false, true, d.path
    FROM ps_trace.downstream_spans(_trace_id, _span_id, _max_dist) d
    WHERE d.dist > 0
$$;
COMMENT ON FUNCTION ps_trace.span_tree(uuid, bigint, int) IS
    'Ancestors and descendants of a span with is_upstream / is_downstream flags';
GRANT EXECUTE ON FUNCTION ps_trace.span_tree(uuid, bigint, int) TO prom_reader, prom_tenant_reader;

-- How often each operation called each other operation: child spans of spans starting in
-- [start, end). Backs the Jaeger dependency graph.
CREATE OR REPLACE FUNCTION ps_trace.operation_calls(_start_time timestamptz, _end_time timestamptz)
RETURNS TABLE (parent_operation_id bigint, child_operation_id bigint, cnt bigint)
LANGUAGE sql
STABLE
PARALLEL UNSAFE  -- packed rows are unpacked by PL/Python with SPI (405-trace-packed-read.sql)
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- children from the row partitions and the packed rows overlapping the window; their
    -- parents start before them, at most a day earlier (keeps the read to few partitions)
    -- (visible tenants: spans_between; a parent is of its child's tenant)
    WITH c AS MATERIALIZED (
        SELECT s.trace_id, s.tenant, s.parent_span_id, s.operation_id, s.start_time
        FROM _ps_trace.spans_between(_start_time, _end_time) s
        WHERE s.parent_span_id IS NOT NULL
    ), p AS (
        SELECT s.trace_id, s.tenant, s.span_id, s.operation_id, s.start_time
        FROM c JOIN _ps_trace.span s ON s.trace_id = c.trace_id AND s.tenant = c.tenant AND s.span_id = c.parent_span_id
            AND s.start_time <= c.start_time + interval '1 hour'
            AND s.start_time >= _start_time - interval '1 day' AND s.start_time < _end_time
        UNION  -- several children share a parent
        SELECT pk.trace_id, pk.tenant, u.span_id, u.operation_id, u.start_time
        FROM _ps_trace.span_packed pk CROSS JOIN LATERAL _ps_trace.unpack_spans(pk) u
        WHERE (pk.trace_id, pk.tenant) IN (SELECT c.trace_id, c.tenant FROM c)
          AND pk.start_time < _end_time AND pk.max_start_time >= _start_time - interval '1 day'
    )
    SELECT p.operation_id, c.operation_id, count(*)
    FROM c JOIN p ON p.trace_id = c.trace_id AND p.tenant = c.tenant AND p.span_id = c.parent_span_id
        AND p.start_time <= c.start_time + interval '1 hour'
        AND p.start_time >= _start_time - interval '1 day' AND p.start_time < _end_time
    GROUP BY 1, 2
$$;
COMMENT ON FUNCTION ps_trace.operation_calls(timestamptz, timestamptz) IS
    'Calls between operations (parent span operation → child span operation) among spans starting in [start, end)';
GRANT EXECUTE ON FUNCTION ps_trace.operation_calls(timestamptz, timestamptz) TO prom_reader, prom_tenant_reader;
