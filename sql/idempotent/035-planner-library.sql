-- The planner library (src/compressed_time_bounds.c, installed as $libdir/promscale): time
-- filters on the prom_metric views bound the compressed rows they read. It must be loaded in
-- every session that plans a view query; without it the views answer the same, decoding every
-- compressed row of the metric. Here: in every new session of this database
-- (session_preload_libraries, kept with what the database already loads) and in this one.
-- Servers can load it for all databases instead (shared_preload_libraries, docs/operations.md).
DO $$
DECLARE
    configured text;
    libraries text[];
BEGIN
    SELECT substr(c, length('session_preload_libraries=') + 1) INTO configured
    FROM pg_catalog.pg_db_role_setting s
    CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) AS c
    WHERE s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
      AND s.setrole = 0 AND c LIKE 'session_preload_libraries=%';
    -- stored as a list of (possibly double-quoted) names separated by commas
    SELECT coalesce(pg_catalog.array_agg(pg_catalog.btrim(pg_catalog.btrim(l), '"')) FILTER (WHERE pg_catalog.btrim(l) <> ''), '{}')
    INTO libraries
    FROM pg_catalog.unnest(pg_catalog.string_to_array(coalesce(configured, pg_catalog.current_setting('session_preload_libraries')), ',')) AS l;
    IF NOT ('promscale' = ANY (libraries) OR '$libdir/promscale' = ANY (libraries)) THEN
        EXECUTE pg_catalog.format('ALTER DATABASE %I SET session_preload_libraries = %s', pg_catalog.current_database(),
            (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(l), ', ') FROM pg_catalog.unnest(libraries || 'promscale'::text) AS l));
    END IF;
END
$$;
LOAD 'promscale';
