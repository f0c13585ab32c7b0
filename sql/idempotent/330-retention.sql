-- Retention: drop whole partitions past the longest retention period in force, and delete
-- the rows of metrics with shorter periods partition by partition. Applied by maintenance.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0007-cold-tier.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _prom_catalog.metric_retention TO prom_reader;

-- Retention period of every metric: its override, or the default.
CREATE OR REPLACE FUNCTION _prom_catalog.retention_periods_in_force()
RETURNS TABLE (retention_period interval)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT prom_api.get_default_retention_period()
    UNION
    SELECT r.retention_period FROM _prom_catalog.metric_retention r
$$;
COMMENT ON FUNCTION _prom_catalog.retention_periods_in_force() IS 'The distinct retention periods that apply to some metric';
GRANT EXECUTE ON FUNCTION _prom_catalog.retention_periods_in_force() TO prom_reader;

-- Retention work due now, one row per step:
--   drop_head / drop_compressed: a partition older than every retention period, dropped whole;
--   purge_head / purge_compressed: a partition past some metrics' shorter periods: their rows deleted.
CREATE OR REPLACE FUNCTION _prom_catalog.retention_work()
RETURNS TABLE (kind text, item_id bigint, table_name name, purge_period interval)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH periods AS (SELECT p.retention_period FROM _prom_catalog.retention_periods_in_force() p),
    longest AS (SELECT max(p.retention_period) AS r FROM periods p),
    head AS (
        SELECT c.id, c.table_name, c.end_time, s.purged_up_to,
               (SELECT max(p.retention_period) FROM periods p WHERE c.end_time <= now() - p.retention_period) AS expired
        FROM _prom_catalog.sample_chunk c LEFT JOIN _prom_catalog.sample_chunk_state s ON s.chunk_id = c.id),
    cold AS (
        SELECT c.id, c.table_name, c.end_time, c.purged_up_to,
               (SELECT max(p.retention_period) FROM periods p WHERE c.end_time <= now() - p.retention_period) AS expired
        FROM _prom_catalog.compressed_partition c)
    SELECT 'drop_head', h.id, h.table_name, NULL::interval FROM head h, longest l WHERE h.expired = l.r
    UNION ALL
    SELECT 'drop_compressed', c.id, c.table_name, NULL FROM cold c, longest l WHERE c.expired = l.r
    UNION ALL
    SELECT 'purge_head', h.id, h.table_name, h.expired FROM head h, longest l
    WHERE h.expired < l.r AND h.expired > coalesce(h.purged_up_to, interval '-1 second')
    UNION ALL
    SELECT 'purge_compressed', c.id, c.table_name, c.expired FROM cold c, longest l
    WHERE c.expired < l.r AND c.expired > coalesce(c.purged_up_to, interval '-1 second')
$$;
COMMENT ON FUNCTION _prom_catalog.retention_work() IS 'Partitions that retention must drop or purge now';
GRANT EXECUTE ON FUNCTION _prom_catalog.retention_work() TO prom_reader;

-- One retention step on one partition. Returns the series that lost data there (candidates
-- for garbage collection), or NULL when another session is working on the partition or its
-- lock could not be had quickly (the next maintenance retries).
CREATE OR REPLACE FUNCTION _prom_catalog.apply_retention(kind text, item_id bigint, purge_period interval)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
DECLARE
    tbl name;
    dropped_end timestamptz;
    touched bigint[];
    removed bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(1886547828, ((item_id * 4 + CASE kind WHEN 'drop_head' THEN 0 WHEN 'drop_compressed' THEN 1
                                                     WHEN 'purge_head' THEN 2 ELSE 3 END) % 2147483647)::int) THEN
        RETURN NULL;
    END IF;
    IF kind IN ('drop_head', 'purge_head') THEN
        SELECT c.table_name INTO tbl FROM _prom_catalog.sample_chunk c WHERE c.id = item_id;
    ELSE
        SELECT c.table_name INTO tbl FROM _prom_catalog.compressed_partition c WHERE c.id = item_id;
    END IF;
    IF tbl IS NULL THEN
        RETURN NULL;
    END IF;
    -- only what the retention settings make due: prom_maintenance may call this step directly, and
    -- must not be able to drop or purge current data with it
    IF NOT EXISTS (SELECT 1 FROM _prom_catalog.retention_work() w
                   WHERE w.kind = apply_retention.kind AND w.item_id = apply_retention.item_id
                     AND w.purge_period IS NOT DISTINCT FROM apply_retention.purge_period) THEN
        RAISE NOTICE 'promscale maintenance: % of % refused: not due under the retention settings', kind, tbl;
        RETURN NULL;
    END IF;
    -- not while a writer or a flush is in the head partition (322-flush.sql), or a compaction
    -- in the level-1 partition (324-compaction.sql); the next run retries
    IF kind = 'drop_head' AND NOT pg_try_advisory_xact_lock(1886547831, (item_id % 2147483647)::int)
       OR kind = 'drop_compressed' AND NOT pg_try_advisory_xact_lock(1886547832, (item_id % 2147483647)::int) THEN
        RETURN NULL;
    END IF;
    BEGIN
        IF kind IN ('drop_compressed', 'purge_compressed') THEN
            -- flushes and compaction read and rewrite rows; wait until none is running
            PERFORM pg_advisory_xact_lock(1886547827, -1);
        END IF;
        IF kind IN ('drop_head', 'drop_compressed') THEN
            -- catalog row first: a flush or compaction holding it locked finishes before we drop
            IF kind = 'drop_head' THEN
                DELETE FROM _prom_catalog.sample_chunk c WHERE c.id = item_id RETURNING c.end_time INTO dropped_end;
            ELSE
                DELETE FROM _prom_catalog.compressed_partition c WHERE c.id = item_id RETURNING c.end_time INTO dropped_end;
            END IF;
            IF NOT FOUND THEN
                RETURN NULL;  -- dropped meanwhile (a flushed or compacted partition)
            END IF;
            -- no raw sample is left before the dropped partition's end: PromQL reads rollups there
            -- (326-rollups.sql); the retention_work check above keeps this to expired partitions
            PERFORM _prom_catalog.note_raw_dropped(dropped_end);
            DELETE FROM _prom_catalog.sample_chunk_state s WHERE kind = 'drop_head' AND s.chunk_id = item_id;
            EXECUTE format('SELECT array(SELECT DISTINCT series_id FROM prom_data.%I)', tbl) INTO touched;
            EXECUTE format('SELECT count(*) FROM prom_data.%I', tbl) INTO removed;
            EXECUTE format('DROP TABLE prom_data.%I', tbl);
        ELSE
            EXECUTE format($q$
                WITH gone AS (
                    DELETE FROM prom_data.%I t
                    USING _prom_catalog.series s
                    LEFT JOIN _prom_catalog.metric_retention r ON r.metric_id = s.metric_id
                    WHERE s.id = t.series_id
                      AND coalesce(r.retention_period, prom_api.get_default_retention_period()) <= $1
                    RETURNING t.series_id)
                SELECT array(SELECT DISTINCT g.series_id FROM gone g), (SELECT count(*) FROM gone)$q$, tbl)
                INTO touched, removed USING purge_period;
            IF kind = 'purge_head' THEN
                INSERT INTO _prom_catalog.sample_chunk_state AS s (chunk_id, purged_up_to) VALUES (item_id, purge_period)
                ON CONFLICT ON CONSTRAINT sample_chunk_state_pkey DO UPDATE SET purged_up_to = excluded.purged_up_to;
            ELSE
                UPDATE _prom_catalog.compressed_partition c SET purged_up_to = purge_period WHERE c.id = item_id;
            END IF;
        END IF;
    EXCEPTION WHEN lock_not_available THEN
        RAISE NOTICE 'promscale maintenance: % of % postponed: its table is busy', kind, tbl;
        RETURN NULL;
    END;
    PERFORM _prom_catalog.mark_unused_series(touched);
    RETURN removed;
END
$$;
COMMENT ON FUNCTION _prom_catalog.apply_retention(text, bigint, interval) IS
    'Drops or purges one partition for retention; returns the rows removed, NULL when postponed';
GRANT EXECUTE ON FUNCTION _prom_catalog.apply_retention(text, bigint, interval)
    TO prom_maintenance, prom_admin;

-- Exemplars past their metric's retention period.
CREATE OR REPLACE FUNCTION _prom_catalog.purge_exemplars()
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed bigint;
BEGIN
    DELETE FROM prom_data.exemplar e
    USING _prom_catalog.series s
    LEFT JOIN _prom_catalog.metric_retention r ON r.metric_id = s.metric_id
    WHERE s.id = e.series_id
      AND e.time < now() - coalesce(r.retention_period, prom_api.get_default_retention_period());
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION _prom_catalog.purge_exemplars() IS 'Deletes exemplars older than their metric''s retention period';
GRANT EXECUTE ON FUNCTION _prom_catalog.purge_exemplars() TO prom_maintenance, prom_admin;
