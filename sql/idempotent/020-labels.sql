-- Label helpers for analysts: decode label ids, and filter series by label in SQL:
--     SELECT * FROM prom_series.node_cpu_seconds_total WHERE label_ids ? ('mode' == 'idle');
--     SELECT * FROM prom_metric.up WHERE labels ? ('job' ==~ 'node|api');

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0003-catalog.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _prom_catalog.label TO prom_reader;

-- Label set of a series as a JSON object, e.g. {"__name__": "up", "job": "node"}.
CREATE OR REPLACE FUNCTION prom_api.jsonb(labels int[])
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_object_agg(l.key, l.value), '{}'::jsonb)
    FROM _prom_catalog.label l
    WHERE l.id = ANY (labels)
$$;
COMMENT ON FUNCTION prom_api.jsonb(int[]) IS 'Label set of a labels array (label ids) as a jsonb object';
GRANT EXECUTE ON FUNCTION prom_api.jsonb(int[]) TO prom_reader;

-- Value of one label id.
CREATE OR REPLACE FUNCTION prom_api.val(label_id int)
RETURNS text
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.value FROM _prom_catalog.label l WHERE l.id = label_id
$$;
COMMENT ON FUNCTION prom_api.val(int) IS 'Value of the label with this id';
GRANT EXECUTE ON FUNCTION prom_api.val(int) TO prom_reader;

-- Key of one label id.
CREATE OR REPLACE FUNCTION prom_api.key(label_id int)
RETURNS text
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.key FROM _prom_catalog.label l WHERE l.id = label_id
$$;
COMMENT ON FUNCTION prom_api.key(int) IS 'Key of the label with this id';
GRANT EXECUTE ON FUNCTION prom_api.key(int) TO prom_reader;

-- Label set of a series id as jsonb.
CREATE OR REPLACE FUNCTION prom_api.labels(series_id bigint)
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT prom_api.jsonb(s.labels) FROM _prom_catalog.series s WHERE s.id = series_id
$$;
COMMENT ON FUNCTION prom_api.labels(bigint) IS 'Label set of a series as a jsonb object';
GRANT EXECUTE ON FUNCTION prom_api.labels(bigint) TO prom_reader;

-- Matchers: ('key' == 'v') and ('key' ==~ 're') match series having that label;
-- ('key' !== 'v') and ('key' !=~ 're') match series NOT having it (series without
-- the key included). Regexes are anchored at both ends, as in PromQL. The types
-- prom_api.matcher_positive and matcher_negative and the operators == ==~ !== !=~ ?
-- are state, created once by sql/migrations/0012-label-matchers.sql; these are the
-- current definitions of the functions behind the operators.

CREATE OR REPLACE FUNCTION prom_api.label_eq(key text, value text)
RETURNS prom_api.matcher_positive
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(key, value, false)::prom_api.matcher_positive $$;
COMMENT ON FUNCTION prom_api.label_eq(text, text) IS 'Matcher for key == value (operator ==)';
GRANT EXECUTE ON FUNCTION prom_api.label_eq(text, text) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.label_re(key text, pattern text)
RETURNS prom_api.matcher_positive
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(key, pattern, true)::prom_api.matcher_positive $$;
COMMENT ON FUNCTION prom_api.label_re(text, text) IS 'Matcher for key =~ anchored regex (operator ==~)';
GRANT EXECUTE ON FUNCTION prom_api.label_re(text, text) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.label_ne(key text, value text)
RETURNS prom_api.matcher_negative
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(key, value, false)::prom_api.matcher_negative $$;
COMMENT ON FUNCTION prom_api.label_ne(text, text) IS 'Matcher for key != value (operator !==)';
GRANT EXECUTE ON FUNCTION prom_api.label_ne(text, text) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.label_nre(key text, pattern text)
RETURNS prom_api.matcher_negative
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(key, pattern, true)::prom_api.matcher_negative $$;
COMMENT ON FUNCTION prom_api.label_nre(text, text) IS 'Matcher for key !~ anchored regex (operator !=~)';
GRANT EXECUTE ON FUNCTION prom_api.label_nre(text, text) TO prom_reader, prom_tenant_reader;

-- Regexes of label matchers are PromQL's (RE2 syntax and semantics, fully anchored, a
-- linear-time engine: extension/promscale/catalog/regex_matchers.py), never PostgreSQL's `~`,
-- whose dialect differs: the same selector selects the same series in SQL, over remote_read
-- and in PromQL. An invalid pattern raises invalid_regular_expression with Go's message.

-- (whether the pattern matches "", ids of key's labels whose value it matches, ids of the
-- others): one pass over the key's values.
CREATE OR REPLACE FUNCTION _prom_catalog.regex_label_ids(
    key text, pattern text, OUT matches_empty boolean, OUT matching int[], OUT not_matching int[])
LANGUAGE plpython3u
STABLE
STRICT
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.catalog.regex_matchers")
try:
    return mod.label_ids(plpy, GD.setdefault("regex_matcher_plans", {}), key, pattern)
except mod.InvalidRegex as exc:
    plpy.error(str(exc), sqlstate=mod.INVALID_REGEX)
$python$;
COMMENT ON FUNCTION _prom_catalog.regex_label_ids(text, text) IS
    'Whether an anchored RE2 pattern matches "", and the ids of a key''s labels it matches and does not';
GRANT EXECUTE ON FUNCTION _prom_catalog.regex_label_ids(text, text) TO prom_reader;

-- Whether an anchored RE2 pattern matches all of value (PromQL's matcher semantics). As definer:
-- tenant readers (who match jsonb labels with it) may not read the module table it loads from.
CREATE OR REPLACE FUNCTION _prom_catalog.regex_full_match(value text, pattern text)
RETURNS boolean
LANGUAGE plpython3u
IMMUTABLE
STRICT
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.catalog.regex_matchers")
try:
    return mod.full_match(pattern, value)
except mod.InvalidRegex as exc:
    plpy.error(str(exc), sqlstate=mod.INVALID_REGEX)
$python$;
COMMENT ON FUNCTION _prom_catalog.regex_full_match(text, text) IS
    'Whether an anchored RE2 pattern (PromQL semantics) matches all of value';
GRANT EXECUTE ON FUNCTION _prom_catalog.regex_full_match(text, text) TO prom_reader, prom_tenant_reader;

-- Ids of the labels a matcher names (key and value or anchored regex).
CREATE OR REPLACE FUNCTION _prom_catalog.matcher_label_ids(key text, pattern text, is_regex boolean)
RETURNS int[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN is_regex
        THEN (_prom_catalog.regex_label_ids(matcher_label_ids.key, pattern)).matching
        ELSE (SELECT coalesce(array_agg(l.id), '{}') FROM _prom_catalog.label l
              WHERE l.key = matcher_label_ids.key AND l.value = pattern)
    END
$$;
COMMENT ON FUNCTION _prom_catalog.matcher_label_ids(text, text, boolean) IS 'Label ids with this key whose value matches';
GRANT EXECUTE ON FUNCTION _prom_catalog.matcher_label_ids(text, text, boolean) TO prom_reader;

-- The ids of the labels a positive matcher names: the index condition that the planner support
-- function of label_ids_match puts on series labels (src/label_matchers.c).
CREATE OR REPLACE FUNCTION _prom_catalog.matcher_ids(matcher prom_api.matcher_positive)
RETURNS int[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT _prom_catalog.matcher_label_ids((matcher).key, (matcher).pattern, (matcher).is_regex)
$$;
COMMENT ON FUNCTION _prom_catalog.matcher_ids(prom_api.matcher_positive) IS
    'Label ids a positive matcher names (the index condition of label_ids ? matcher)';
GRANT EXECUTE ON FUNCTION _prom_catalog.matcher_ids(prom_api.matcher_positive) TO prom_reader;

CREATE OR REPLACE FUNCTION _prom_catalog.label_ids_match_support(internal)
RETURNS internal
LANGUAGE c
STABLE
STRICT
AS '$libdir/promscale', 'label_ids_match_support';
COMMENT ON FUNCTION _prom_catalog.label_ids_match_support(internal) IS
    'Planner support of label_ids ? matcher: the GIN index condition labels && matcher_ids(matcher)';

-- The four `?` operator bodies below are LEAKPROOF, so that PostgreSQL pushes them into the
-- per-metric views, which are security barriers (030-metric-views.sql): their answer depends on
-- their arguments only, and an invalid regex fails the same way whatever the row. For that they are
-- not inlinable (C, or SQL with SET search_path): an inlined body would be judged by the functions
-- in it (arrayoverlap, ->>), which PostgreSQL does not mark leakproof. label_ids ? matcher keeps the
-- GIN index on series labels through its support function (src/label_matchers.c).
-- PARALLEL UNSAFE: a regex matcher runs PL/Python, whose SPI calls PostgreSQL refuses in parallel
-- mode (tests/sql/test_parallel_plans.py).
CREATE OR REPLACE FUNCTION prom_api.label_ids_match(label_ids int[], matcher prom_api.matcher_positive)
RETURNS boolean
LANGUAGE c STABLE STRICT LEAKPROOF PARALLEL UNSAFE
SUPPORT _prom_catalog.label_ids_match_support
AS '$libdir/promscale', 'label_ids_match_positive';
COMMENT ON FUNCTION prom_api.label_ids_match(int[], prom_api.matcher_positive) IS
    'True when the labels array contains a label the matcher names (operator ?)';
GRANT EXECUTE ON FUNCTION prom_api.label_ids_match(int[], prom_api.matcher_positive) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.label_ids_match(label_ids int[], matcher prom_api.matcher_negative)
RETURNS boolean
LANGUAGE c STABLE STRICT LEAKPROOF PARALLEL UNSAFE
AS '$libdir/promscale', 'label_ids_match_negative';
COMMENT ON FUNCTION prom_api.label_ids_match(int[], prom_api.matcher_negative) IS
    'True when the labels array contains no label the matcher names (operator ?)';
GRANT EXECUTE ON FUNCTION prom_api.label_ids_match(int[], prom_api.matcher_negative) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.labels_match(labels jsonb, matcher prom_api.matcher_positive)
RETURNS boolean
LANGUAGE sql IMMUTABLE LEAKPROOF PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN (matcher).is_regex
        THEN _prom_catalog.regex_full_match(labels OPERATOR(pg_catalog.->>) (matcher).key, (matcher).pattern)
        ELSE (labels OPERATOR(pg_catalog.->>) (matcher).key) OPERATOR(pg_catalog.=) (matcher).pattern
    END IS TRUE
$$;
COMMENT ON FUNCTION prom_api.labels_match(jsonb, prom_api.matcher_positive) IS
    'True when the jsonb label set has the label the matcher names (operator ?)';
GRANT EXECUTE ON FUNCTION prom_api.labels_match(jsonb, prom_api.matcher_positive) TO prom_reader, prom_tenant_reader;

CREATE OR REPLACE FUNCTION prom_api.labels_match(labels jsonb, matcher prom_api.matcher_negative)
RETURNS boolean
LANGUAGE sql IMMUTABLE LEAKPROOF PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT NOT (CASE WHEN (matcher).is_regex
        THEN _prom_catalog.regex_full_match(labels OPERATOR(pg_catalog.->>) (matcher).key, (matcher).pattern)
        ELSE (labels OPERATOR(pg_catalog.->>) (matcher).key) OPERATOR(pg_catalog.=) (matcher).pattern
    END IS TRUE)
$$;
COMMENT ON FUNCTION prom_api.labels_match(jsonb, prom_api.matcher_negative) IS
    'True when the jsonb label set lacks the label the matcher names (operator ?)';
GRANT EXECUTE ON FUNCTION prom_api.labels_match(jsonb, prom_api.matcher_negative) TO prom_reader, prom_tenant_reader;
