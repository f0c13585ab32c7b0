-- Install-time checks: refuse to finish an install that breaks the project's own rules.
DO $$
DECLARE
    offender text;
BEGIN
    -- Every function runs with a fixed search_path, except the operator bodies that must
    -- be inlined (they qualify every name; see 040-series.sql), and the
    -- per-row expressions of activity bounds, inlined for speed (045-activity.sql), and the
    -- per-row test of tenant visibility (012-tenancy.sql).
    SELECT string_agg(p.oid::regprocedure::text, ', ') INTO offender
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_depend d ON d.objid = p.oid AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'promscale'
    WHERE NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, pg_temp'], false)
      AND p.proname NOT IN ('label_pair_bytes', 'activity_granularity',
                            'activity_roundable', 'activity_shift', 'activity_grid', 'series_last_seen', 'unix_ms',
                            'labels_visible')
      -- builtin C functions under another signature and the planner library's (src/) resolve no
      -- names through the search_path
      AND p.prolang NOT IN (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname IN ('internal', 'c'))
      -- procedures that COMMIT cannot have a SET clause; they must not be SECURITY DEFINER
      AND NOT (p.prokind = 'p' AND NOT p.prosecdef);
    IF offender IS NOT NULL THEN
        RAISE EXCEPTION 'promscale functions without SET search_path = pg_catalog, pg_temp: %', offender;
    END IF;

    -- PL/Python wraps each SPI call in a subtransaction, which parallel mode forbids (in the
    -- leader too): a function that may run in a parallel plan must not touch SPI, nor the module
    -- loader (it reads its table with SPI). Such functions embed their modules instead.
    SELECT string_agg(p.oid::regprocedure::text, ', ') INTO offender
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_depend d ON d.objid = p.oid AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'promscale'
    WHERE p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'plpython3u')
      AND p.proparallel <> 'u'
      -- (embedded sources, on their marker's line, are data: the loader's own SPI code is not run)
      AND pg_catalog.regexp_replace(p.prosrc, '^.*# promscale-embed: .*$', '', 'gn')
          ~ '(plpy\.(execute|prepare|cursor|subtransaction|commit|rollback)|python_bootstrap|GD\[.promscale.\])';
    IF offender IS NOT NULL THEN
        RAISE EXCEPTION 'promscale PL/Python functions marked PARALLEL SAFE or RESTRICTED that use SPI: %', offender;
    END IF;

    SELECT string_agg(p.oid::regprocedure::text, ', ') INTO offender
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_depend d ON d.objid = p.oid AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'promscale'
    WHERE p.pronamespace IN ('prom_api'::regnamespace)
      AND pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL;
    IF offender IS NOT NULL THEN
        RAISE EXCEPTION 'public promscale functions without COMMENT ON: %', offender;
    END IF;
END
$$;
