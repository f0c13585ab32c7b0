-- Packing closed trace chunks (docs/traces.md "Storage and retention"). A chunk is closed once
-- it ended before now() - delay; packing moves the rows of its span, event and link partitions
-- into its span_packed partition (one row per trace) and empties them. Spans that arrive later
-- for the chunk land in the emptied partitions and are packed by the next run, as extra rows.
--
-- Writers and the packer never lose or duplicate a span: put_spans takes FOR KEY SHARE locks on
-- the closed (ended) or packed chunks it writes to, the packer a FOR UPDATE lock on the chunk it
-- packs. A request either commits before the packer reads (its spans get packed) or waits for
-- the packer's commit and then sees the packed rows when it deduplicates retried spans.
-- (Packing a chunk that has not ended, with an explicit `older_than` in the future, is allowed;
-- there a retry racing the first packing could be stored twice.)

CREATE OR REPLACE FUNCTION ps_trace.get_trace_pack_delay()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(_ps_catalog.get_setting('trace_pack_delay'), '1 hour')::interval
$$;
COMMENT ON FUNCTION ps_trace.get_trace_pack_delay() IS
    'How long after its end a trace partition is packed (default 1 hour)';
GRANT EXECUTE ON FUNCTION ps_trace.get_trace_pack_delay() TO prom_reader;

CREATE OR REPLACE FUNCTION ps_trace.set_trace_pack_delay(pack_delay interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pack_delay IS NULL OR pack_delay < interval '0' THEN
        RAISE EXCEPTION 'invalid trace pack delay %: it must be zero or positive', coalesce(pack_delay::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO _ps_catalog.setting (key, value) VALUES ('trace_pack_delay', pack_delay::text)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
    RETURN true;
END
$$;
COMMENT ON FUNCTION ps_trace.set_trace_pack_delay(interval) IS
    'Sets how long after its end a trace partition is packed by maintenance';
GRANT EXECUTE ON FUNCTION ps_trace.set_trace_pack_delay(interval) TO prom_admin;

CREATE OR REPLACE FUNCTION _ps_trace.pack_chunk_rows(chunk_id bigint)
RETURNS bigint
LANGUAGE plpython3u
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
return GD["promscale"].module(plpy, "promscale.traces.packing").pack_chunk(plpy, chunk_id)
$python$;
COMMENT ON FUNCTION _ps_trace.pack_chunk_rows(bigint) IS
    'Writes the rows of a chunk''s span, event and link partitions as packed rows; returns spans packed';

-- Packs chunks ending at or before `older_than` (default now() - pack delay), oldest first, at most `max_chunks` (NULL: all): the ones never
-- packed and the ones that received late spans. Returns how many chunks were packed.
CREATE OR REPLACE FUNCTION ps_trace.pack_trace_partitions(older_than timestamptz DEFAULT NULL, max_chunks int DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    boundary timestamptz := coalesce(older_than, now() - ps_trace.get_trace_pack_delay());
    chunk record;
    has_rows boolean;
    was_packed_at timestamptz;
    done int := 0;
BEGIN
    FOR chunk IN
        SELECT c.id, c.start_time, c.end_time, c.packed_at FROM _ps_trace.chunk c
        WHERE c.end_time <= boundary ORDER BY c.start_time
    LOOP
        EXIT WHEN done >= max_chunks;
        IF chunk.packed_at IS NOT NULL THEN
            -- packed, and no late span since? (checked without a lock: maintenance runs every
            -- minute, and locking every packed chunk's row each time would write for nothing)
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM _ps_trace.%I)', 'span_' || chunk.id) INTO has_rows;
            CONTINUE WHEN NOT has_rows;
        END IF;
        -- wait for the writers of this chunk (and another packer), keep new ones out until commit
        SELECT c.packed_at INTO was_packed_at FROM _ps_trace.chunk c WHERE c.id = chunk.id FOR UPDATE;
        CONTINUE WHEN NOT FOUND;  -- dropped meanwhile
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM _ps_trace.%I)', 'span_' || chunk.id) INTO has_rows;
        CONTINUE WHEN was_packed_at IS NOT NULL AND NOT has_rows;
        IF to_regclass(format('_ps_trace.%I', 'span_packed_' || chunk.id)) IS NULL THEN
            EXECUTE format('CREATE TABLE _ps_trace.%I (LIKE _ps_trace.span_packed INCLUDING DEFAULTS)',
                           'span_packed_' || chunk.id);
            EXECUTE format('CREATE INDEX ON _ps_trace.%I (trace_id)', 'span_packed_' || chunk.id);
            EXECUTE format('CREATE INDEX ON _ps_trace.%I (max_start_time)', 'span_packed_' || chunk.id);
            -- a tenant's Jaeger search walks its own packed rows newest first (440-trace-query.sql)
            EXECUTE format('CREATE INDEX ON _ps_trace.%I (tenant, max_start_time)', 'span_packed_' || chunk.id);
            EXECUTE format('ALTER TABLE _ps_trace.span_packed ATTACH PARTITION _ps_trace.%I FOR VALUES FROM (%L) TO (%L)',
                           'span_packed_' || chunk.id, chunk.start_time, chunk.end_time);
        END IF;
        PERFORM _ps_trace.pack_chunk_rows(chunk.id);
        EXECUTE format('TRUNCATE _ps_trace.%I, _ps_trace.%I, _ps_trace.%I',
                       'span_' || chunk.id, 'event_' || chunk.id, 'link_' || chunk.id);
        UPDATE _ps_trace.chunk c SET packed_at = coalesce(c.packed_at, now()) WHERE c.id = chunk.id;
        done := done + 1;
    END LOOP;
    RETURN done;
END
$$;
COMMENT ON FUNCTION ps_trace.pack_trace_partitions(timestamptz, int) IS
    'Packs closed trace partitions (never packed, or holding late spans) into one compressed row per trace; returns how many';
GRANT EXECUTE ON FUNCTION ps_trace.pack_trace_partitions(timestamptz, int) TO prom_maintenance, prom_admin;
