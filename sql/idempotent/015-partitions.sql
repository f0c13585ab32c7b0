-- The partition manager: how every time-partitioned table of the extension gets a new partition
-- (head samples 050-sample-chunks.sql, compressed rows 310-compressed-partitions.sql, traces
-- 400-trace-chunks.sql). Each owner keeps its catalog and decides when a partition is needed;
-- the range arithmetic and the DDL that must not block readers live here, once.
--
-- Advisory locks that serialize creators, one key per catalog:
--   1886547822 sample chunks, 1886547825 compressed partitions, 1886614388 trace chunks.

-- The range of a new partition holding `t`: aligned to `part_interval` (on the Unix epoch, so
-- partitions of whole hours or days line up), clipped to the neighbours that already exist
-- (`lower_end`: the greatest end at or before t; `upper_start`: the least start after t; NULL
-- when none), open-ended (±infinity) where the aligned bounds would overflow the timestamptz range.
CREATE OR REPLACE FUNCTION _ps_catalog.partition_range(
    t timestamptz, part_interval interval, lower_end timestamptz, upper_start timestamptz,
    OUT range_start timestamptz, OUT range_end timestamptz)
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    BEGIN
        range_start := _prom_catalog.aligned_chunk_start(t, part_interval);
    EXCEPTION WHEN datetime_field_overflow THEN
        range_start := '-infinity';
    END;
    BEGIN
        range_end := range_start + part_interval;
    EXCEPTION WHEN datetime_field_overflow THEN
        range_end := 'infinity';
    END;
    range_start := greatest(range_start, lower_end);
    range_end := least(range_end, upper_start);
END
$$;
COMMENT ON FUNCTION _ps_catalog.partition_range(timestamptz, interval, timestamptz, timestamptz) IS
    'Range of a new partition holding a time: interval-aligned, clipped to its existing neighbours';

-- Creates partition `part_name` of `parent` (in the parent's schema) for [range_start, range_end)
-- of `range_column`. Created standalone with its keys and a CHECK constraint matching the range,
-- then attached: ATTACH takes only SHARE UPDATE EXCLUSIVE on the parent (running ingest and
-- queries go on) and, finding the constraint, skips scanning the new table. The parents have
-- no indexes of their own (see 0007-cold-tier.sql and 0010-trace-partition-indexes.sql): each
-- partition gets its primary key and indexes here. Caller holds its catalog's creation lock.
CREATE OR REPLACE FUNCTION _ps_catalog.create_range_partition(
    parent regclass,
    part_name name,
    range_column name,
    range_start timestamptz,
    range_end timestamptz,
    like_clause text,            -- e.g. 'LIKE prom_data.sample INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
    check_name name,
    extra_check text,            -- a further CHECK condition (e.g. 'level = 2'), or NULL
    primary_key text,            -- the primary key's columns, or NULL
    index_names name[],          -- names of plain indexes (NULL entries: PostgreSQL's default name)
    index_columns text[])        -- their column lists
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part_schema name := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.oid = parent);
    i int;
BEGIN
    EXECUTE format('CREATE TABLE %I.%I (%s)', part_schema, part_name, like_clause);
    EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT %I CHECK (%s%I >= %L AND %I < %L)',
                   part_schema, part_name, check_name, coalesce(extra_check || ' AND ', ''),
                   range_column, range_start, range_column, range_end);
    IF primary_key IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %I.%I ADD PRIMARY KEY (%s)', part_schema, part_name, primary_key);
    END IF;
    FOR i IN 1 .. coalesce(cardinality(index_columns), 0) LOOP
        IF index_names[i] IS NULL THEN
            EXECUTE format('CREATE INDEX ON %I.%I (%s)', part_schema, part_name, index_columns[i]);
        ELSE
            EXECUTE format('CREATE INDEX %I ON %I.%I (%s)', index_names[i], part_schema, part_name, index_columns[i]);
        END IF;
    END LOOP;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                   parent, part_schema, part_name, range_start, range_end);
END
$$;
COMMENT ON FUNCTION _ps_catalog.create_range_partition(regclass, name, name, timestamptz, timestamptz, text, name, text, text, name[], text[]) IS
    'Creates a partition with its keys and range constraint standalone, then attaches it to its parent';
