-- Maintenance: retention, flushes, compaction and series garbage collection in bounded steps.
--     CALL prom_api.execute_maintenance();
-- Each step (one partition, one chunk) is its own transaction, so a long run holds no lock
-- for long and loses nothing when interrupted. Steps take advisory locks on their item:
-- several sessions may run maintenance at once and share the work.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0007-cold-tier.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _prom_catalog.maintenance_stat TO prom_reader;

-- Counts a finished step in _prom_catalog.maintenance_stat (shown by prom_info.maintenance).
CREATE OR REPLACE FUNCTION _prom_catalog.record_maintenance(task text, item text)
RETURNS void
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO _prom_catalog.maintenance_stat AS m (task, done, last_done_at, last_item)
    VALUES (task, 1, now(), item)
    ON CONFLICT (task) DO UPDATE SET done = m.done + 1, last_done_at = excluded.last_done_at, last_item = excluded.last_item
$$;
COMMENT ON FUNCTION _prom_catalog.record_maintenance(text, text) IS 'Records one finished maintenance step';
GRANT EXECUTE ON FUNCTION _prom_catalog.record_maintenance(text, text) TO prom_maintenance, prom_admin;

-- Runs maintenance until nothing is due (or max_duration has passed). Must be called
-- outside an explicit transaction block (it commits after every step). Cheap when nothing is
-- due (every check reads small catalog tables), so it can run every minute: flushes need that.
CREATE OR REPLACE PROCEDURE prom_api.execute_maintenance(max_duration interval DEFAULT NULL, log_steps boolean DEFAULT true)
LANGUAGE plpgsql
AS $$
DECLARE
    started timestamptz := pg_catalog.clock_timestamp();
    item record;
    result bigint;
    steps int := 0;
    pass int;
    compacting boolean;
BEGIN
    -- A procedure that commits cannot have a SET clause: the search_path is pinned for each
    -- transaction instead, here and after every COMMIT.
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    IF EXISTS (SELECT 1 FROM _prom_catalog.metric m WHERE m.views_stale) THEN
        result := prom_api.refresh_metric_views();
        PERFORM _prom_catalog.record_maintenance('refresh_views', result || ' metrics');
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
    END IF;

    -- Retention first (no point flushing expired data), and again after the flushes:
    -- partitions they created may hold rows some metric keeps for less long.
    FOR pass IN 1..2 LOOP
        FOR item IN SELECT * FROM _prom_catalog.retention_work() ORDER BY kind, item_id LOOP
            EXIT WHEN max_duration IS NOT NULL AND pg_catalog.clock_timestamp() - started > max_duration;
            result := _prom_catalog.apply_retention(item.kind, item.item_id, item.purge_period);
            IF result IS NOT NULL THEN
                PERFORM _prom_catalog.record_maintenance(item.kind, item.table_name);
                steps := steps + 1;
                IF log_steps THEN
                    RAISE NOTICE 'promscale maintenance: % %: % rows removed', item.kind, item.table_name, result;
                END IF;
            END IF;
            COMMIT;
            PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
        END LOOP;
        EXIT WHEN pass = 2;

        -- Flushes come first, and again between compaction slices: the head must stay short
        -- while a large bucket is compacted.
        LOOP
            FOR item IN SELECT * FROM _prom_catalog.chunks_to_flush() LOOP
                EXIT WHEN max_duration IS NOT NULL AND pg_catalog.clock_timestamp() - started > max_duration;
                result := _prom_catalog.flush_chunks(item.chunk_ids);
                IF result IS NOT NULL THEN
                    PERFORM _prom_catalog.record_maintenance('flush', array_to_string(item.table_names, ', '));
                    steps := steps + 1;
                    IF log_steps THEN
                        RAISE NOTICE 'promscale maintenance: flushed % (% to %)%: % samples',
                            array_to_string(item.table_names, ', '), item.start_time, item.end_time,
                            CASE WHEN item.late THEN ' late samples' ELSE '' END, result;
                    END IF;
                END IF;
                COMMIT;
                PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
            END LOOP;
            result := _prom_catalog.drop_flushed_chunks();
            IF result > 0 THEN
                PERFORM _prom_catalog.record_maintenance('drop_flushed', result || ' head partitions');
                IF log_steps THEN
                    RAISE NOTICE 'promscale maintenance: dropped % flushed head partitions', result;
                END IF;
            END IF;
            COMMIT;
            PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
            compacting := false;
            FOR item IN SELECT * FROM _prom_catalog.partitions_to_compact() LOOP
                EXIT WHEN max_duration IS NOT NULL AND pg_catalog.clock_timestamp() - started > max_duration;
                result := _prom_catalog.compact_partition(item.partition_id);
                CONTINUE WHEN result IS NULL;  -- another session compacts it
                IF log_steps THEN
                    RAISE NOTICE 'promscale maintenance: compacting % (% to %): % series', item.table_name,
                        item.start_time, item.end_time, result;
                END IF;
                PERFORM _prom_catalog.record_maintenance('compact', item.table_name);
                steps := steps + 1;
                compacting := true;
                COMMIT;
                PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
                EXIT;  -- one slice, then flushes again
            END LOOP;
            EXIT WHEN NOT compacting OR (max_duration IS NOT NULL AND pg_catalog.clock_timestamp() - started > max_duration);
        END LOOP;
        result := _prom_catalog.drop_compacted_partitions();
        IF result > 0 THEN
            PERFORM _prom_catalog.record_maintenance('drop_compacted', result || ' flushed partitions');
            IF log_steps THEN
                RAISE NOTICE 'promscale maintenance: dropped % compacted partitions', result;
            END IF;
        END IF;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
    END LOOP;

    -- rollups: their retention (rows span a day or 30 days: checked once an hour), then the
    -- windows that compaction made final (326-rollups.sql), a slice of at most a day (or a
    -- budget of series) per transaction
    IF coalesce((SELECT m.last_done_at FROM _prom_catalog.maintenance_stat m WHERE m.task = 'rollup_retention'),
                '-infinity') < now() - interval '1 hour' THEN
        result := _prom_catalog.apply_rollup_retention();
        PERFORM _prom_catalog.record_maintenance('rollup_retention', result || ' rollup rows');
        IF result > 0 AND log_steps THEN
            RAISE NOTICE 'promscale maintenance: removed % expired rollup rows', result;
        END IF;
    END IF;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
    LOOP
        EXIT WHEN max_duration IS NOT NULL AND pg_catalog.clock_timestamp() - started > max_duration;
        result := _prom_catalog.compute_rollups();
        EXIT WHEN result IS NULL OR result = 0;
        PERFORM _prom_catalog.record_maintenance('rollup', 'until ' || prom_api.get_rollups_done_until());
        steps := steps + 1;
        IF log_steps THEN
            RAISE NOTICE 'promscale maintenance: rollups computed until %: % windows',
                prom_api.get_rollups_done_until(), result;
        END IF;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
    END LOOP;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it

    result := ps_trace.drop_expired_trace_partitions();
    IF result > 0 THEN
        PERFORM _prom_catalog.record_maintenance('drop_trace_chunks', result || ' trace chunks');
        IF log_steps THEN
            RAISE NOTICE 'promscale maintenance: dropped % expired trace chunks', result;
        END IF;
    END IF;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it

    -- pack closed trace partitions, one per transaction (late spans make a packed one due again)
    FOR pass IN 1..100000 LOOP  -- ends when nothing is due
        EXIT WHEN max_duration IS NOT NULL AND pg_catalog.clock_timestamp() - started > max_duration;
        result := ps_trace.pack_trace_partitions(max_chunks => 1);
        EXIT WHEN result = 0;
        PERFORM _prom_catalog.record_maintenance('pack_trace_chunks', result || ' trace chunk');
        steps := steps + 1;
        IF log_steps THEN
            RAISE NOTICE 'promscale maintenance: packed % trace chunk', result;
        END IF;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
    END LOOP;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it

    -- exemplars have no index on time: their purge reads them all, so once an hour
    IF coalesce((SELECT m.last_done_at FROM _prom_catalog.maintenance_stat m WHERE m.task = 'purge_exemplars'),
                '-infinity') < now() - interval '1 hour' THEN
        result := _prom_catalog.purge_exemplars();
        PERFORM _prom_catalog.record_maintenance('purge_exemplars', result || ' exemplars');
    END IF;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it

    result := _prom_catalog.delete_marked_series();
    IF result > 0 THEN
        PERFORM _prom_catalog.record_maintenance('delete_series', result || ' series');
        IF log_steps THEN
            RAISE NOTICE 'promscale maintenance: deleted % series without samples', result;
        END IF;
    END IF;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);  -- COMMIT ended it
    IF log_steps THEN
        RAISE NOTICE 'promscale maintenance: done, % steps in %', steps, pg_catalog.clock_timestamp() - started;
    END IF;
END
$$;
COMMENT ON PROCEDURE prom_api.execute_maintenance(interval, boolean) IS
    'Applies retention, flushes and compacts samples, drops what they made redundant and deletes unused series, committing after each step';
GRANT EXECUTE ON PROCEDURE prom_api.execute_maintenance(interval, boolean) TO prom_maintenance, prom_admin;

-- Flushes every due head partition and compacts every due bucket now, in one transaction
-- (for operators and tests; maintenance does the same in steps, and then drops what these made
-- redundant, which needs a transaction of its own). Returns the samples flushed.
CREATE OR REPLACE FUNCTION prom_api.compress_due_chunks()
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    total bigint := 0;
    c record;
BEGIN
    FOR c IN SELECT * FROM _prom_catalog.chunks_to_flush() LOOP
        total := total + coalesce(_prom_catalog.flush_chunks(c.chunk_ids), 0);
    END LOOP;
    FOR c IN SELECT * FROM _prom_catalog.partitions_to_compact() LOOP
        LOOP
            EXIT WHEN coalesce(_prom_catalog.compact_partition(c.partition_id, interval '1 day'), 0) = 0
                   OR (SELECT p.compacted_xid IS NOT NULL FROM _prom_catalog.compressed_partition p WHERE p.id = c.partition_id);
        END LOOP;
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION prom_api.compress_due_chunks() IS
    'Flushes all due head partitions and compacts all due buckets in one transaction; returns samples flushed (execute_maintenance does it in steps)';
GRANT EXECUTE ON FUNCTION prom_api.compress_due_chunks() TO prom_maintenance, prom_admin;

-- Schedules execute_maintenance with pg_cron (when pg_cron is installed in this database).
DROP FUNCTION IF EXISTS prom_api.schedule_maintenance(text);  -- its default changed
CREATE OR REPLACE FUNCTION prom_api.schedule_maintenance(schedule text DEFAULT '* * * * *')
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'undefined_object',
                  HINT = 'install postgresql-15-cron, add pg_cron to shared_preload_libraries, set cron.database_name to this '
                         'database and CREATE EXTENSION pg_cron; or let the connector run maintenance (--maintenance-interval)';
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)'
        INTO job
        USING 'promscale_maintenance', schedule, 'CALL prom_api.execute_maintenance(log_steps => false)';
    RETURN job;
END
$$;
COMMENT ON FUNCTION prom_api.schedule_maintenance(text) IS
    'Runs prom_api.execute_maintenance() on a pg_cron schedule (default every minute); returns the cron job id';
GRANT EXECUTE ON FUNCTION prom_api.schedule_maintenance(text) TO prom_admin;

CREATE OR REPLACE FUNCTION prom_api.unschedule_maintenance()
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' INTO removed USING 'promscale_maintenance';
    RETURN removed;
END
$$;
COMMENT ON FUNCTION prom_api.unschedule_maintenance() IS 'Removes the pg_cron job made by prom_api.schedule_maintenance()';
GRANT EXECUTE ON FUNCTION prom_api.unschedule_maintenance() TO prom_admin;
