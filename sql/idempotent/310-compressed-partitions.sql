-- Partitions of prom_data.compressed_sample, created on demand like head partitions
-- (create standalone, then ATTACH: running readers are not blocked). Level 2 (compacted)
-- has one partition per day, level 1 (flushed) one per bucket (see 0007-cold-tier.sql).

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0007-cold-tier.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE prom_data.compressed_sample TO prom_reader;
GRANT SELECT ON TABLE prom_data.compressed_sample_flushed TO prom_reader;
GRANT SELECT ON TABLE prom_data.compressed_sample_compacted TO prom_reader;
GRANT SELECT ON TABLE _prom_catalog.compressed_partition TO prom_reader;

-- Time span of each partition of compacted rows: one day (a multiple of every allowed row span).
CREATE OR REPLACE FUNCTION _prom_catalog.get_compressed_partition_interval()
RETURNS interval
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT interval '1 day'
$$;
COMMENT ON FUNCTION _prom_catalog.get_compressed_partition_interval() IS 'Time span of each partition of compacted (level 2) rows';

-- Creates the partition of a level holding chunk_start `t`: aligned to a day (level 2) or to
-- the bucket (level 1), clipped to its neighbours of the same level. Caller holds the creation lock.
DROP FUNCTION IF EXISTS _prom_catalog.create_compressed_partition(timestamptz);  -- gained the level
CREATE OR REPLACE FUNCTION _prom_catalog.create_compressed_partition(t timestamptz, part_level smallint)
RETURNS name
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part_range record;
    part_id bigint;
    part_table name;
BEGIN
    part_range := _ps_catalog.partition_range(t,
        CASE part_level WHEN 2 THEN _prom_catalog.get_compressed_partition_interval()
                        ELSE prom_api.get_compressed_chunk_interval() END,
        (SELECT max(p.end_time) FROM _prom_catalog.compressed_partition p WHERE p.level = part_level AND p.end_time <= t),
        (SELECT min(p.start_time) FROM _prom_catalog.compressed_partition p WHERE p.level = part_level AND p.start_time > t));
    INSERT INTO _prom_catalog.compressed_partition (table_name, start_time, end_time, level)
    VALUES ('pending', part_range.range_start, part_range.range_end, part_level)
    RETURNING id INTO part_id;
    part_table := format(CASE part_level WHEN 2 THEN 'compressed_%s' ELSE 'flushed_%s' END, part_id);
    UPDATE _prom_catalog.compressed_partition p SET table_name = part_table WHERE p.id = part_id;
    -- STORAGE: the encoded arrays are EXTERNAL (already compressed: TOAST must not try pglz)
    PERFORM _ps_catalog.create_range_partition(
        CASE part_level WHEN 2 THEN 'prom_data.compressed_sample_compacted'
                        ELSE 'prom_data.compressed_sample_flushed' END::regclass,
        part_table, 'chunk_start', part_range.range_start, part_range.range_end,
        'LIKE prom_data.compressed_sample INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE',
        part_table || '_range', format('level = %s', part_level), 'series_id, chunk_start', NULL, NULL);
    RETURN part_table;
END
$$;
COMMENT ON FUNCTION _prom_catalog.create_compressed_partition(timestamptz, smallint) IS
    'Creates the partition of prom_data.compressed_sample of a level (1 flushed, 2 compacted) holding a chunk start';

-- Makes sure a partition of the level exists for every given chunk start; returns how many were created.
DROP FUNCTION IF EXISTS _prom_catalog.ensure_compressed_partitions(timestamptz[]);  -- gained the level
CREATE OR REPLACE FUNCTION _prom_catalog.ensure_compressed_partitions(chunk_starts timestamptz[], part_level smallint DEFAULT 2)
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
        -- lock the catalog rows of the partitions we will write: retention and compaction delete
        -- the row before dropping the table, so they wait for us (or we see the row gone, and recreate)
        PERFORM 1 FROM _prom_catalog.compressed_partition p
        WHERE p.level = part_level
          AND EXISTS (SELECT 1 FROM unnest(chunk_starts) AS x WHERE tstzrange(p.start_time, p.end_time) @> x)
        FOR KEY SHARE OF p;
        SELECT x INTO missing
        FROM unnest(chunk_starts) AS x
        WHERE x IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM _prom_catalog.compressed_partition p
            WHERE p.level = part_level AND tstzrange(p.start_time, p.end_time) @> x)
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        IF NOT locked THEN
            PERFORM pg_advisory_xact_lock(1886547825);   -- 1886547825: compressed partitions
            locked := true;
            CONTINUE;
        END IF;
        PERFORM _prom_catalog.create_compressed_partition(missing, part_level);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION _prom_catalog.ensure_compressed_partitions(timestamptz[], smallint) IS
    'Creates the missing partitions of prom_data.compressed_sample of a level for a set of chunk starts';
