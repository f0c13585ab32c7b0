-- Maintenance: retention, compression and series garbage collection in bounded steps.
--     CALL prom_api.execute_maintenance();
-- Each step (one partition, one chunk) is its own transaction, so a long run holds no lock
-- for long and loses nothing when interrupted. Steps take advisory locks on their item:
-- several sessions may run maintenance at once and share the work.

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

-- Runs maintenance until nothing is due (or max_duration has passed). Must be called
-- outside an explicit transaction block (it commits after every step).
CREATE OR REPLACE PROCEDURE prom_api.execute_maintenance(max_duration interval DEFAULT NULL, log_steps boolean DEFAULT true)
LANGUAGE plpgsql
AS $$
DECLARE
    started timestamptz := pg_catalog.clock_timestamp();
    item record;
    result bigint;
    steps int := 0;
    pass int;
BEGIN
    -- Transaction-local: a procedure that commits cannot have a SET clause.
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    IF EXISTS (SELECT 1 FROM _prom_catalog.metric m WHERE m.views_stale) THEN
        result := prom_api.refresh_metric_views();
        PERFORM _prom_catalog.record_maintenance('refresh_views', result || ' metrics');
        COMMIT;
    END IF;

    -- Retention first (no point compressing expired data), and again after compression:
    -- partitions that compression created may hold rows some metric keeps for less long.
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
        END LOOP;
        EXIT WHEN pass = 2;
        FOR item IN SELECT * FROM _prom_catalog.chunk_groups_to_compress() LOOP
            EXIT WHEN max_duration IS NOT NULL AND pg_catalog.clock_timestamp() - started > max_duration;
            result := _prom_catalog.compress_chunks(item.chunk_ids);
            IF result IS NOT NULL THEN
                PERFORM _prom_catalog.record_maintenance('compress', array_to_string(item.table_names, ', '));
                steps := steps + 1;
                IF log_steps THEN
                    RAISE NOTICE 'promscale maintenance: compressed % (% to %)%: % samples',
                        array_to_string(item.table_names, ', '), item.start_time, item.end_time,
                        CASE WHEN item.late THEN ' late samples' ELSE '' END, result;
                END IF;
            END IF;
            COMMIT;
        END LOOP;
    END LOOP;

    result := ps_trace.drop_expired_trace_partitions();
    IF result > 0 THEN
        PERFORM _prom_catalog.record_maintenance('drop_trace_chunks', result || ' trace chunks');
        IF log_steps THEN
            RAISE NOTICE 'promscale maintenance: dropped % expired trace chunks', result;
        END IF;
    END IF;
    COMMIT;

    result := _prom_catalog.purge_exemplars();
    IF result > 0 THEN
        PERFORM _prom_catalog.record_maintenance('purge_exemplars', result || ' exemplars');
    END IF;
    COMMIT;

    result := _prom_catalog.delete_marked_series();
    IF result > 0 THEN
        PERFORM _prom_catalog.record_maintenance('delete_series', result || ' series');
        IF log_steps THEN
            RAISE NOTICE 'promscale maintenance: deleted % series without samples', result;
        END IF;
    END IF;
    COMMIT;
    IF log_steps THEN
        RAISE NOTICE 'promscale maintenance: done, % steps in %', steps, pg_catalog.clock_timestamp() - started;
    END IF;
END
$$;
COMMENT ON PROCEDURE prom_api.execute_maintenance(interval, boolean) IS
    'Applies retention, compresses due head partitions and deletes unused series, committing after each step';

-- Schedules execute_maintenance with pg_cron (when pg_cron is installed in this database).
CREATE OR REPLACE FUNCTION prom_api.schedule_maintenance(schedule text DEFAULT '*/30 * * * *')
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
    'Runs prom_api.execute_maintenance() on a pg_cron schedule (default every 30 minutes); returns the cron job id';

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
