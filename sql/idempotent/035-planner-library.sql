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

-- The query kernels (src/query_kernels.c) in the same library: PL/Python opens its file with
-- ctypes (extension/promscale/promql/kernels.py). The answer is "<ABI version> <file>".
CREATE OR REPLACE FUNCTION _prom_catalog.query_kernels_library()
RETURNS text
LANGUAGE c
STABLE PARALLEL SAFE
AS '$libdir/promscale', 'query_kernels_library';
COMMENT ON FUNCTION _prom_catalog.query_kernels_library() IS
    'The ABI version of the query kernels and the file of the library that holds them (src/query_kernels.c)';
GRANT EXECUTE ON FUNCTION _prom_catalog.query_kernels_library() TO prom_reader, prom_tenant_reader;

-- A response body written in PL/Python, as text: the PL/Python functions that write large bodies
-- return them as UTF-8 bytea, and their SQL wrappers (100-promql.sql, 210-http-api.sql) make
-- text of it here, checked as UTF-8, without PL/Python's copies of a returned str. Called by
-- those SECURITY DEFINER wrappers only: no role is granted it.
CREATE OR REPLACE FUNCTION _prom_catalog.utf8_text(body bytea)
RETURNS text
LANGUAGE c
IMMUTABLE STRICT PARALLEL SAFE
AS '$libdir/promscale', 'utf8_text';
COMMENT ON FUNCTION _prom_catalog.utf8_text(bytea) IS
    'UTF-8 bytes as text (checked, converted to the database encoding when it is another)';
