-- remote_read: the series matching a query's matchers with their samples in a
-- millisecond range (both ends inclusive), read through prom_api.get_samples.

-- Milliseconds since the epoch as timestamptz, exact, clamped to the type's range.
CREATE OR REPLACE FUNCTION _prom_catalog.timestamptz_of_ms(millis bigint)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN millis <= -210866803200000 THEN '-infinity'::timestamptz
        WHEN millis >= 9224318015999999 THEN 'infinity'::timestamptz
        ELSE 'epoch'::timestamptz + millis * interval '1 millisecond'
    END
$$;
COMMENT ON FUNCTION _prom_catalog.timestamptz_of_ms(bigint) IS
    'Unix milliseconds as timestamptz, exact, clamped to ±infinity outside the timestamptz range';
GRANT EXECUTE ON FUNCTION _prom_catalog.timestamptz_of_ms(bigint) TO prom_reader;

-- Plain SQL on purpose: stale-marker NaN payloads stay bit-exact, and it is about twice as
-- fast as the PL/Python route through the PromQL engine's lookup (measured: 1,000 series x 1 h).
CREATE OR REPLACE FUNCTION prom_api.get_matching_samples(
    names text[], ops text[], patterns text[], start_ms bigint, end_ms bigint)
RETURNS TABLE (keys text[], vals text[], times_ms bigint[], samples double precision[])
LANGUAGE sql
STABLE
SECURITY DEFINER  -- prom_tenant_reader may not read the catalog: 012-tenancy.sql
SET search_path = pg_catalog, pg_temp
SET jit = off  -- JIT compiles each sample scan for ~200 ms (see docs/performance.md)
AS $$
    WITH ids AS (
        SELECT _prom_catalog.get_matching_series_ids(names, ops, patterns) AS ids
    )
    SELECT l.keys, l.vals,
           ARRAY(SELECT (extract(epoch FROM t) * 1000)::bigint FROM unnest(g.times) AS t),
           g.vals
    FROM ids,
         prom_api.get_samples(ids.ids, _prom_catalog.timestamptz_of_ms(start_ms), _prom_catalog.timestamptz_of_ms(end_ms)) g
    JOIN prom_api.get_series_labels(ids.ids) l ON l.series_id = g.series_id
$$;
COMMENT ON FUNCTION prom_api.get_matching_samples(text[], text[], text[], bigint, bigint) IS
    'Series matching all label matchers (op in = != =~ !~) with their samples in [start_ms, end_ms] as ms and values';
GRANT EXECUTE ON FUNCTION prom_api.get_matching_samples(text[], text[], text[], bigint, bigint)
    TO prom_reader, prom_tenant_reader;
