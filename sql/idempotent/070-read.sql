-- The one read path: every reader gets samples through prom_api.get_samples
-- (per-series arrays, time-ordered, deduplicated on (series_id, time)).

CREATE OR REPLACE FUNCTION prom_api.get_samples(series_ids bigint[], start_time timestamptz, end_time timestamptz)
RETURNS TABLE (series_id bigint, times timestamptz[], vals double precision[])
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT d.series_id, array_agg(d.time ORDER BY d.time), array_agg(d.value ORDER BY d.time)
    FROM (
        SELECT DISTINCT ON (h.series_id, h.time) h.series_id, h.time, h.value
        FROM prom_data.sample h
        WHERE h.series_id = ANY (series_ids) AND h.time >= start_time AND h.time <= end_time
        ORDER BY h.series_id, h.time, h.value
    ) d
    GROUP BY d.series_id
$$;
COMMENT ON FUNCTION prom_api.get_samples(bigint[], timestamptz, timestamptz) IS
    'Samples of the given series within [start_time, end_time] (both inclusive) as time-ordered arrays, one row per series';
