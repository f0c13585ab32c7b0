-- Trace retention: whole chunks (span, event, link and packed partitions together) are dropped once
-- they end before now() - retention period. prom_api.execute_maintenance() calls
-- ps_trace.drop_expired_trace_partitions().

CREATE OR REPLACE FUNCTION ps_trace.get_trace_retention_period()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.get_interval_setting('trace_retention_period', interval '30 days')
$$;
COMMENT ON FUNCTION ps_trace.get_trace_retention_period() IS 'How long spans are kept (default 30 days)';
GRANT EXECUTE ON FUNCTION ps_trace.get_trace_retention_period() TO prom_reader;

CREATE OR REPLACE FUNCTION ps_trace.set_trace_retention_period(retention_period interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER  -- callers need no rights on the settings table; EXECUTE is granted to admins only
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_interval_setting('trace_retention_period', retention_period, interval '1 second');
    RETURN true;
END
$$;
COMMENT ON FUNCTION ps_trace.set_trace_retention_period(interval) IS
    'Sets how long spans are kept; older partitions go at the next maintenance run';
GRANT EXECUTE ON FUNCTION ps_trace.set_trace_retention_period(interval) TO prom_admin;

-- Drops trace chunks that end at or before `older_than` (default now() - retention), oldest
-- first, at most `max_chunks` of them (NULL: all); returns how many were dropped.
-- prom_api.execute_maintenance() calls it with max_chunks => 1 and commits between calls,
-- so each step holds its locks briefly.
DROP FUNCTION IF EXISTS ps_trace.drop_expired_trace_partitions(timestamptz);  -- replaced by the 2-argument form
CREATE OR REPLACE FUNCTION ps_trace.drop_expired_trace_partitions(
    older_than timestamptz DEFAULT NULL, max_chunks int DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    boundary timestamptz := coalesce(older_than, now() - ps_trace.get_trace_retention_period());
    chunk record;
    tbl text;
    dropped int := 0;
BEGIN
    -- serialise with chunk creation (and with concurrent maintenance runs)
    PERFORM pg_advisory_xact_lock(1886614388);
    FOR chunk IN
        SELECT c.id FROM _ps_trace.chunk c WHERE c.end_time <= boundary ORDER BY c.start_time LIMIT max_chunks
    LOOP
        FOREACH tbl IN ARRAY ARRAY['span', 'event', 'link', 'span_packed'] LOOP
            EXECUTE format('DROP TABLE IF EXISTS _ps_trace.%I', tbl || '_' || chunk.id);
        END LOOP;
        DELETE FROM _ps_trace.pack_dictionary d WHERE d.chunk_id = chunk.id;
        DELETE FROM _ps_trace.chunk c WHERE c.id = chunk.id;
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$$;
COMMENT ON FUNCTION ps_trace.drop_expired_trace_partitions(timestamptz, int) IS
    'Drops trace partitions older than the retention period (or a given time), at most max_chunks; returns how many';
GRANT EXECUTE ON FUNCTION ps_trace.drop_expired_trace_partitions(timestamptz, int)
    TO prom_maintenance, prom_admin;

-- Removes every stored span, event and link (interned services and operations stay).
CREATE OR REPLACE FUNCTION ps_trace.delete_all_traces()
RETURNS int
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ps_trace.drop_expired_trace_partitions('infinity')
$$;
COMMENT ON FUNCTION ps_trace.delete_all_traces() IS 'Drops all trace partitions; returns how many chunks were dropped';
GRANT EXECUTE ON FUNCTION ps_trace.delete_all_traces() TO prom_admin;
