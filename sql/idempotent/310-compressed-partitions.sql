-- Partitions of prom_data.compressed_sample, created on demand like head partitions
-- (create standalone, then ATTACH: running readers are not blocked).

-- Time span of each partition of compressed rows: one day (a multiple of every allowed row span).
CREATE OR REPLACE FUNCTION _prom_catalog.get_compressed_partition_interval()
RETURNS interval
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT interval '1 day'
$$;
COMMENT ON FUNCTION _prom_catalog.get_compressed_partition_interval() IS 'Time span of each partition of compressed rows';

-- Creates the partition holding chunk_start `t`. Caller holds the creation lock.
CREATE OR REPLACE FUNCTION _prom_catalog.create_compressed_partition(t timestamptz)
RETURNS name
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part_interval interval := _prom_catalog.get_compressed_partition_interval();
    part_start timestamptz;
    part_end timestamptz;
    part_id bigint;
    part_table name;
BEGIN
    BEGIN
        part_start := _prom_catalog.aligned_chunk_start(t, part_interval);
    EXCEPTION WHEN datetime_field_overflow THEN
        part_start := '-infinity';
    END;
    BEGIN
        part_end := part_start + part_interval;
    EXCEPTION WHEN datetime_field_overflow THEN
        part_end := 'infinity';
    END;
    part_start := greatest(part_start,
        (SELECT max(p.end_time) FROM _prom_catalog.compressed_partition p WHERE p.end_time <= t));
    part_end := least(part_end,
        (SELECT min(p.start_time) FROM _prom_catalog.compressed_partition p WHERE p.start_time > t));
    INSERT INTO _prom_catalog.compressed_partition (table_name, start_time, end_time)
    VALUES ('pending', part_start, part_end)
    RETURNING id INTO part_id;
    part_table := format('compressed_%s', part_id);
    UPDATE _prom_catalog.compressed_partition p SET table_name = part_table WHERE p.id = part_id;

    EXECUTE format('CREATE TABLE prom_data.%I (LIKE prom_data.compressed_sample INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                   part_table);
    EXECUTE format('ALTER TABLE prom_data.%I ADD CONSTRAINT %I CHECK (chunk_start >= %L AND chunk_start < %L)',
                   part_table, part_table || '_range', part_start, part_end);
    EXECUTE format('ALTER TABLE prom_data.%I ADD PRIMARY KEY (series_id, chunk_start)', part_table);
    EXECUTE format('ALTER TABLE prom_data.compressed_sample ATTACH PARTITION prom_data.%I FOR VALUES FROM (%L) TO (%L)',
                   part_table, part_start, part_end);
    RETURN part_table;
END
$$;
COMMENT ON FUNCTION _prom_catalog.create_compressed_partition(timestamptz) IS
    'Creates the partition of prom_data.compressed_sample holding a chunk start';

-- Makes sure a partition exists for every given chunk start; returns how many were created.
CREATE OR REPLACE FUNCTION _prom_catalog.ensure_compressed_partitions(chunk_starts timestamptz[])
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
        -- lock the catalog rows of the partitions we will write: retention deletes the row
        -- before dropping the table, so it waits for us (or we see the row gone, and recreate)
        PERFORM 1 FROM _prom_catalog.compressed_partition p
        WHERE EXISTS (SELECT 1 FROM unnest(chunk_starts) AS x WHERE tstzrange(p.start_time, p.end_time) @> x)
        FOR KEY SHARE OF p;
        SELECT x INTO missing
        FROM unnest(chunk_starts) AS x
        WHERE x IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM _prom_catalog.compressed_partition p
            WHERE tstzrange(p.start_time, p.end_time) @> x)
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        IF NOT locked THEN
            PERFORM pg_advisory_xact_lock(1886547825);   -- 1886547825: compressed partitions
            locked := true;
            CONTINUE;
        END IF;
        PERFORM _prom_catalog.create_compressed_partition(missing);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION _prom_catalog.ensure_compressed_partitions(timestamptz[]) IS
    'Creates the missing partitions of prom_data.compressed_sample for a set of chunk starts';
