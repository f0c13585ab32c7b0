-- Partitions (chunks) of prom_data.sample, created on demand for any timestamp.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migrations
-- 0002-schemas.sql, 0004-samples.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT USAGE ON SCHEMA prom_data TO prom_reader;
GRANT SELECT ON TABLE prom_data.sample TO prom_reader;
GRANT SELECT ON TABLE _prom_catalog.sample_chunk TO prom_reader;
GRANT SELECT ON TABLE prom_data.exemplar TO prom_reader;

-- Aligned start of the chunk that would hold `t` under the current chunk interval.
CREATE OR REPLACE FUNCTION _prom_catalog.aligned_chunk_start(t timestamptz, chunk_interval interval)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- whole seconds stay exact in float8 across the timestamptz range (1970 and the far future)
    SELECT to_timestamp(floor(extract(epoch FROM t)::float8 / extract(epoch FROM chunk_interval)::float8)
                        * extract(epoch FROM chunk_interval)::float8)
$$;
COMMENT ON FUNCTION _prom_catalog.aligned_chunk_start(timestamptz, interval) IS
    'Start of the interval-aligned chunk that contains a time';

-- Creates the chunk holding `t`: aligned to the chunk interval, clipped to its neighbours
-- (which may have another interval). Caller holds the chunk-creation lock.
CREATE OR REPLACE FUNCTION _prom_catalog.create_sample_chunk(t timestamptz)
RETURNS name
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    chunk_range record;
    chunk_id bigint;
    chunk_table name;
BEGIN
    -- the first and last chunks of the timestamptz range are open-ended
    chunk_range := _ps_catalog.partition_range(t, prom_api.get_default_chunk_interval(),
        (SELECT max(c.end_time) FROM _prom_catalog.sample_chunk c WHERE c.end_time <= t),
        (SELECT min(c.start_time) FROM _prom_catalog.sample_chunk c WHERE c.start_time > t));
    INSERT INTO _prom_catalog.sample_chunk (table_name, start_time, end_time)
    VALUES ('pending', chunk_range.range_start, chunk_range.range_end)
    RETURNING id INTO chunk_id;
    chunk_table := format('sample_%s', chunk_id);
    UPDATE _prom_catalog.sample_chunk c SET table_name = chunk_table WHERE c.id = chunk_id;
    -- the per-series path: a read of k series costs O(k x their samples), whatever else the
    -- partition holds. series_id alone, not (series_id, time): btree deduplication keeps it at a
    -- few bytes per row, and it costs ~1 us less per ingested row (docs/performance.md, "Head
    -- index"); rows of a series sit in time order in the heap, and readers filter the time range.
    -- No index on time: partitions are short, so pruning does that job (a BRIN index there made
    -- the planner AND its lossy bitmap with the series_id one, rechecking whole partitions).
    PERFORM _ps_catalog.create_range_partition(
        'prom_data.sample', chunk_table, 'time', chunk_range.range_start, chunk_range.range_end,
        'LIKE prom_data.sample INCLUDING DEFAULTS INCLUDING CONSTRAINTS', chunk_table || '_time_range', NULL,
        NULL, ARRAY[chunk_table || '_series_id']::name[], ARRAY['series_id']);
    RETURN chunk_table;
END
$$;
COMMENT ON FUNCTION _prom_catalog.create_sample_chunk(timestamptz) IS 'Creates the partition of prom_data.sample holding a time';

-- How many head partitions one write may create. Creating a partition costs milliseconds and
-- grows with the partitions attached (PostgreSQL rebuilds the parent's partition descriptor),
-- and every query over prom_data.sample plans over all of them until maintenance flushes them:
-- one remote_write of 2,000 samples an hour apart took 19 s and left 2,000 partitions. The
-- default, a day of 15-minute partitions, is far above what a Prometheus catching up from its
-- WAL sends in one request.
CREATE OR REPLACE FUNCTION prom_api.get_max_new_chunks_per_write()
RETURNS int
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(_ps_catalog.get_setting('max_new_chunks_per_write')::int, 96)
$$;
COMMENT ON FUNCTION prom_api.get_max_new_chunks_per_write() IS
    'How many head partitions one write may create (96 unless set); a write needing more is refused';
GRANT EXECUTE ON FUNCTION prom_api.get_max_new_chunks_per_write() TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_max_new_chunks_per_write(max_new int)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER  -- callers need no rights on the settings table; EXECUTE is granted to admins only
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_int_setting('max_new_chunks_per_write', max_new, 1);
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_max_new_chunks_per_write(int) IS
    'Sets how many head partitions one write may create';
GRANT EXECUTE ON FUNCTION prom_api.set_max_new_chunks_per_write(int) TO prom_admin;

-- The earliest of the given times in each chunk interval that no partition covers, in time
-- order (grouped by interval number: no timestamp arithmetic that could overflow at the ends).
CREATE OR REPLACE FUNCTION _prom_catalog.uncovered_chunk_times(times timestamptz[], interval_seconds float8)
RETURNS timestamptz[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(m ORDER BY m), '{}') FROM (
        SELECT min(x) AS m FROM unnest(times) AS x
        WHERE x IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM _prom_catalog.sample_chunk c WHERE tstzrange(c.start_time, c.end_time) @> x)
        GROUP BY floor(extract(epoch FROM x)::float8 / interval_seconds)) AS g
$$;
COMMENT ON FUNCTION _prom_catalog.uncovered_chunk_times(timestamptz[], float8) IS
    'One time of each chunk interval of the given times that no partition of prom_data.sample covers';

-- Makes sure a partition exists for every given time, creating at most max_new of them
-- (NULL: no limit); returns how many were created. Writers call it after an insert found
-- no partition.
DROP FUNCTION IF EXISTS _prom_catalog.ensure_sample_chunks(timestamptz[]);  -- gained max_new
CREATE OR REPLACE FUNCTION _prom_catalog.ensure_sample_chunks(times timestamptz[], max_new int DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing timestamptz;
    created int := 0;
    created_in_pass int;
    locked boolean := false;
    interval_seconds float8 := extract(epoch FROM prom_api.get_default_chunk_interval());
    limit_per_write int := prom_api.get_max_new_chunks_per_write();
    -- one time of every interval that no partition covers: what a pass creates
    uncovered timestamptz[];
BEGIN
    uncovered := _prom_catalog.uncovered_chunk_times(times, interval_seconds);
    -- the bound on one write, checked before creating anything (the writer's first call sees
    -- every uncovered interval)
    IF cardinality(uncovered) > limit_per_write THEN
        -- invalid_parameter_value: the connector answers 400, so a client does not retry it forever
        RAISE EXCEPTION 'samples span % time ranges without a head partition, and one write may create at most % (send old data in smaller time slices, or raise the limit with prom_api.set_max_new_chunks_per_write)',
            cardinality(uncovered), limit_per_write
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A pass creates a chunk for one time of every uncovered interval; chunks are clipped to
    -- their neighbours, so another pass picks up times a clipped chunk left out. Passes stop
    -- when one creates nothing (or at max_new).
    LOOP
        created_in_pass := 0;
        FOREACH missing IN ARRAY uncovered LOOP
            EXIT WHEN created >= max_new;
            IF NOT locked THEN
                -- one creator at a time; what others made while we waited is seen below
                PERFORM pg_advisory_xact_lock(1886547822);   -- 1886547822: 'prom' sample chunks
                locked := true;
            END IF;
            -- made meanwhile by another writer, or by this pass (clipped neighbours)
            CONTINUE WHEN EXISTS (SELECT 1 FROM _prom_catalog.sample_chunk c
                                  WHERE tstzrange(c.start_time, c.end_time) @> missing);
            PERFORM _prom_catalog.create_sample_chunk(missing);
            created := created + 1;
            created_in_pass := created_in_pass + 1;
        END LOOP;
        EXIT WHEN created_in_pass = 0 OR created >= max_new;
        uncovered := _prom_catalog.uncovered_chunk_times(times, interval_seconds);
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION _prom_catalog.ensure_sample_chunks(timestamptz[], int) IS
    'Creates missing partitions of prom_data.sample for a set of times (at most max_new); returns how many were created';

-- For writers of batches that span many chunks (backfill): creating hundreds of partitions in
-- one transaction holds a lock on each until commit and can exhaust the lock table, so the
-- connector calls this, one transaction at a time, until it returns 0.
CREATE OR REPLACE FUNCTION prom_api.prepare_sample_chunks(times timestamptz[], max_new int DEFAULT 50)
RETURNS int
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.ensure_sample_chunks(times, max_new)
$$;
COMMENT ON FUNCTION prom_api.prepare_sample_chunks(timestamptz[], int) IS
    'Creates up to max_new missing partitions for the given sample times; returns how many it created (call in separate transactions until 0)';
GRANT EXECUTE ON FUNCTION prom_api.prepare_sample_chunks(timestamptz[], int) TO prom_writer;
