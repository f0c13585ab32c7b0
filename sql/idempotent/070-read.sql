-- The one read path: every reader gets samples through prom_api.get_samples
-- (per-series arrays, time-ordered, deduplicated on (series_id, time)).

-- Compressed rows (decoded by _prom_catalog.compressed_samples) and head rows are merged,
-- then deduplicated keeping the smallest value per (series_id, time), the same choice
-- compression makes, so a query's answer does not change when its data is compressed.
CREATE OR REPLACE FUNCTION prom_api.get_samples(series_ids bigint[], start_time timestamptz, end_time timestamptz)
RETURNS TABLE (series_id bigint, times timestamptz[], vals double precision[])
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- d arrives sorted by (series_id, time), so the group aggregate collects each series in time
    -- order; an ORDER BY inside array_agg would sort every series again (about half the cost)
    SELECT d.series_id, array_agg(d.time), array_agg(d.value)
    FROM (
        SELECT DISTINCT ON (u.series_id, u.time) u.series_id, u.time, u.value
        FROM (
            -- a join on the unnested ids (hash join), not "= ANY (series_ids)": the array is a
            -- parameter here, so ANY would compare every row with every id (30x slower for 500 ids)
            SELECT h.series_id, h.time, h.value
            FROM prom_data.sample h
            JOIN unnest(series_ids) AS wanted(id) ON h.series_id = wanted.id
            WHERE h.time >= start_time AND h.time <= end_time
            UNION ALL
            SELECT c.series_id, timestamptz '2000-01-01 00:00:00+00' + x.t * interval '1 microsecond', x.v
            FROM _prom_catalog.compressed_samples(series_ids, start_time, end_time,
                     _prom_catalog.timestamptz_to_us(start_time), _prom_catalog.timestamptz_to_us(end_time)) c
            CROSS JOIN LATERAL unnest(c.times_us, c.vals) AS x(t, v)
        ) u
        ORDER BY u.series_id, u.time, u.value
    ) d
    GROUP BY d.series_id
$$;
COMMENT ON FUNCTION prom_api.get_samples(bigint[], timestamptz, timestamptz) IS
    'Samples of the given series within [start_time, end_time] (both inclusive) as time-ordered arrays, one row per series; merges compressed and head data';
