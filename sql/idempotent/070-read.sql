-- The one read path: every reader gets samples through prom_api.get_samples
-- (per-series arrays, time-ordered, deduplicated on (series_id, time)).

-- Compressed rows (decoded by _prom_catalog.compressed_samples) and head rows are merged,
-- then deduplicated keeping the smallest value per (series_id, time), the same choice
-- compression makes, so a query's answer does not change when its data is compressed.
-- Series with no head rows in the range skip the merge: their decoded arrays are already
-- ordered and deduplicated.
CREATE OR REPLACE FUNCTION prom_api.get_samples(series_ids bigint[], start_time timestamptz, end_time timestamptz)
RETURNS TABLE (series_id bigint, times timestamptz[], vals double precision[])
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH head AS MATERIALIZED (
        -- "= ANY" is an index condition on each head partition's series_id btree: k series
        -- cost k index descents per partition in the range, whatever else it holds
        SELECT h.series_id, h.time, h.value
        FROM prom_data.sample h
        WHERE h.series_id = ANY (series_ids) AND h.time >= start_time AND h.time <= end_time),
    cold AS MATERIALIZED (
        SELECT c.series_id, c.times_us, c.value_bits
        FROM _prom_catalog.compressed_samples(series_ids, start_time, end_time,
                 _prom_catalog.timestamptz_to_us(start_time), _prom_catalog.timestamptz_to_us(end_time)) c)
    SELECT c.series_id,
           ARRAY(SELECT _prom_catalog.timestamptz_from_us(x.t) FROM unnest(c.times_us) WITH ORDINALITY AS x(t, o) ORDER BY x.o),
           ARRAY(SELECT _prom_catalog.float8_from_bits(x.b) FROM unnest(c.value_bits) WITH ORDINALITY AS x(b, o) ORDER BY x.o)
    FROM cold c
    WHERE NOT EXISTS (SELECT 1 FROM head h WHERE h.series_id = c.series_id)
    UNION ALL
    -- d arrives sorted by (series_id, time), so the group aggregate collects each series in time
    -- order; an ORDER BY inside array_agg would sort every series again
    SELECT d.series_id, array_agg(d.time), array_agg(d.value)
    FROM (
        SELECT DISTINCT ON (u.series_id, u.time) u.series_id, u.time, u.value
        FROM (
            SELECT h.series_id, h.time, h.value FROM head h
            UNION ALL
            SELECT c.series_id, _prom_catalog.timestamptz_from_us(x.t), _prom_catalog.float8_from_bits(x.b)
            FROM cold c
            CROSS JOIN LATERAL unnest(c.times_us, c.value_bits) AS x(t, b)
            WHERE EXISTS (SELECT 1 FROM head h WHERE h.series_id = c.series_id)
        ) u
        ORDER BY u.series_id, u.time, u.value
    ) d
    GROUP BY d.series_id
$$;
COMMENT ON FUNCTION prom_api.get_samples(bigint[], timestamptz, timestamptz) IS
    'Samples of the given series within [start_time, end_time] (both inclusive) as time-ordered arrays, one row per series; merges compressed and head data';
GRANT EXECUTE ON FUNCTION prom_api.get_samples(bigint[], timestamptz, timestamptz) TO prom_reader;
