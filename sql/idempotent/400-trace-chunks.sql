-- Partitions (chunks) of _ps_trace.span, event and link, created on demand for any time.
-- One chunk is one time range with a partition in each of the three tables, so retention
-- drops a span together with its events and links.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0009-trace-schema.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT USAGE ON SCHEMA _ps_trace TO prom_reader;
-- analysts of one tenant read no table of it; the unpack functions the ps_trace views call run as
-- them and fetch their tenant's dictionaries by name (405-trace-packed-read.sql)
GRANT USAGE ON SCHEMA _ps_trace TO prom_tenant_reader;
GRANT USAGE ON SCHEMA ps_trace TO prom_reader, prom_tenant_reader;
GRANT SELECT ON TABLE _ps_trace.chunk TO prom_reader;

-- Time span of each new trace chunk.
CREATE OR REPLACE FUNCTION ps_trace.get_trace_chunk_interval()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('trace_chunk_interval', interval '6 hours')
$$;
COMMENT ON FUNCTION ps_trace.get_trace_chunk_interval() IS 'Time span of each new partition (chunk) of the trace tables';
GRANT EXECUTE ON FUNCTION ps_trace.get_trace_chunk_interval() TO prom_reader;

CREATE OR REPLACE FUNCTION ps_trace.set_trace_chunk_interval(chunk_interval interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER  -- callers need no rights on the settings table; EXECUTE is granted to admins only
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_interval_setting('trace_chunk_interval', chunk_interval, interval '1 minute');
    RETURN true;
END
$$;
COMMENT ON FUNCTION ps_trace.set_trace_chunk_interval(interval) IS
    'Sets the time span of trace partitions created from now on (existing ones keep theirs)';
GRANT EXECUTE ON FUNCTION ps_trace.set_trace_chunk_interval(interval) TO prom_admin;

-- Creates the chunk holding `t`, aligned to the interval and clipped to its neighbours.
-- Caller holds the trace chunk-creation lock.
CREATE OR REPLACE FUNCTION _ps_trace.create_chunk(t timestamptz)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    chunk_range record;
    chunk_id bigint;
    tbl text;
BEGIN
    chunk_range := _ps_catalog.partition_range(t, ps_trace.get_trace_chunk_interval(),
        (SELECT max(c.end_time) FROM _ps_trace.chunk c WHERE c.end_time <= t),
        (SELECT min(c.start_time) FROM _ps_trace.chunk c WHERE c.start_time > t));
    INSERT INTO _ps_trace.chunk (start_time, end_time) VALUES (chunk_range.range_start, chunk_range.range_end)
    RETURNING id INTO chunk_id;
    FOREACH tbl IN ARRAY ARRAY['span', 'event', 'link'] LOOP
        -- span: the primary key serves trace fetch, trees, and deduplication of retried exports
        -- (ON CONFLICT DO NOTHING), per tenant; (operation_id, start_time): Jaeger searches, a
        -- service's operations newest first (operations are per tenant). event, link: by their span.
        PERFORM _ps_catalog.create_range_partition(
            format('_ps_trace.%I', tbl)::regclass, tbl || '_' || chunk_id,
            CASE tbl WHEN 'span' THEN 'start_time' ELSE 'span_start_time' END,
            chunk_range.range_start, chunk_range.range_end,
            format('LIKE _ps_trace.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS', tbl),
            tbl || '_' || chunk_id || '_time_range', NULL,
            CASE tbl WHEN 'span' THEN 'trace_id, tenant, span_id, start_time' END,
            ARRAY[NULL]::name[],
            ARRAY[CASE tbl WHEN 'span' THEN 'operation_id, start_time' ELSE 'trace_id, span_id' END]);
    END LOOP;
    RETURN chunk_id;
END
$$;
COMMENT ON FUNCTION _ps_trace.create_chunk(timestamptz) IS
    'Creates the partitions of _ps_trace.span, event and link holding a time';

-- Makes sure a chunk exists for every given time; returns how many were created.
CREATE OR REPLACE FUNCTION _ps_trace.ensure_chunks(times timestamptz[])
RETURNS int
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing timestamptz;
    created int := 0;
    locked boolean := false;
BEGIN
    LOOP
        SELECT x INTO missing
        FROM unnest(times) AS x
        WHERE x IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM _ps_trace.chunk c WHERE tstzrange(c.start_time, c.end_time) @> x)
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        IF NOT locked THEN
            PERFORM pg_advisory_xact_lock(1886614388);   -- 'ps_t': trace chunks
            locked := true;
            CONTINUE;
        END IF;
        -- each chunk holds locks on three tables and their indexes until commit: a request whose
        -- times are scattered (a sender's broken clock) would exhaust the lock table, and the
        -- client would retry that 503 forever; refuse it as bad data instead
        IF created >= 100 THEN
            RAISE EXCEPTION 'the spans of one request fall into more than 100 new trace partitions (of %); '
                            'check the senders'' clocks, or send fewer time ranges per request',
                            ps_trace.get_trace_chunk_interval()
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM _ps_trace.create_chunk(missing);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION _ps_trace.ensure_chunks(timestamptz[]) IS
    'Creates the missing trace partitions for a set of span start times; returns how many were created';
