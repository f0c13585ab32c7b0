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
GRANT EXECUTE ON FUNCTION prom_api.label_eq(text, text) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.label_re(key text, pattern text)
RETURNS prom_api.matcher_positive
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(key, pattern, true)::prom_api.matcher_positive $$;
COMMENT ON FUNCTION prom_api.label_re(text, text) IS 'Matcher for key =~ anchored regex (operator ==~)';
GRANT EXECUTE ON FUNCTION prom_api.label_re(text, text) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.label_ne(key text, value text)
RETURNS prom_api.matcher_negative
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(key, value, false)::prom_api.matcher_negative $$;
COMMENT ON FUNCTION prom_api.label_ne(text, text) IS 'Matcher for key != value (operator !==)';
GRANT EXECUTE ON FUNCTION prom_api.label_ne(text, text) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.label_nre(key text, pattern text)
RETURNS prom_api.matcher_negative
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(key, pattern, true)::prom_api.matcher_negative $$;
COMMENT ON FUNCTION prom_api.label_nre(text, text) IS 'Matcher for key !~ anchored regex (operator !=~)';
GRANT EXECUTE ON FUNCTION prom_api.label_nre(text, text) TO prom_reader;

-- Ids of the labels a matcher names (key and value or anchored regex).
CREATE OR REPLACE FUNCTION _prom_catalog.matcher_label_ids(key text, pattern text, is_regex boolean)
RETURNS int[]
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(l.id), '{}')
    FROM _prom_catalog.label l
    WHERE l.key = matcher_label_ids.key
      AND CASE WHEN is_regex THEN l.value ~ ('^(?:' || pattern || ')$') ELSE l.value = pattern END
$$;
COMMENT ON FUNCTION _prom_catalog.matcher_label_ids(text, text, boolean) IS 'Label ids with this key whose value matches';
GRANT EXECUTE ON FUNCTION _prom_catalog.matcher_label_ids(text, text, boolean) TO prom_reader;

-- The four `?` operator bodies below are deliberately plain SQL without SET search_path:
-- only then does PostgreSQL inline them, so `label_ids ? (...)` becomes
-- `labels && ...` on _prom_catalog.series and can use its GIN index. Every name in
-- them is schema-qualified, so they do not depend on the caller's search_path.
CREATE OR REPLACE FUNCTION prom_api.label_ids_match(label_ids int[], matcher prom_api.matcher_positive)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT label_ids OPERATOR(pg_catalog.&&)
        _prom_catalog.matcher_label_ids((matcher).key, (matcher).pattern, (matcher).is_regex)
$$;
COMMENT ON FUNCTION prom_api.label_ids_match(int[], prom_api.matcher_positive) IS
    'True when the labels array contains a label the matcher names (operator ?)';
GRANT EXECUTE ON FUNCTION prom_api.label_ids_match(int[], prom_api.matcher_positive) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.label_ids_match(label_ids int[], matcher prom_api.matcher_negative)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT NOT (label_ids OPERATOR(pg_catalog.&&)
        _prom_catalog.matcher_label_ids((matcher).key, (matcher).pattern, (matcher).is_regex))
$$;
COMMENT ON FUNCTION prom_api.label_ids_match(int[], prom_api.matcher_negative) IS
    'True when the labels array contains no label the matcher names (operator ?)';
GRANT EXECUTE ON FUNCTION prom_api.label_ids_match(int[], prom_api.matcher_negative) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.labels_match(labels jsonb, matcher prom_api.matcher_positive)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN (matcher).is_regex
        THEN (labels OPERATOR(pg_catalog.->>) (matcher).key) OPERATOR(pg_catalog.~) ('^(?:' OPERATOR(pg_catalog.||) (matcher).pattern OPERATOR(pg_catalog.||) ')$')
        ELSE (labels OPERATOR(pg_catalog.->>) (matcher).key) OPERATOR(pg_catalog.=) (matcher).pattern
    END IS TRUE
$$;
COMMENT ON FUNCTION prom_api.labels_match(jsonb, prom_api.matcher_positive) IS
    'True when the jsonb label set has the label the matcher names (operator ?)';
GRANT EXECUTE ON FUNCTION prom_api.labels_match(jsonb, prom_api.matcher_positive) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.labels_match(labels jsonb, matcher prom_api.matcher_negative)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT NOT (CASE WHEN (matcher).is_regex
        THEN (labels OPERATOR(pg_catalog.->>) (matcher).key) OPERATOR(pg_catalog.~) ('^(?:' OPERATOR(pg_catalog.||) (matcher).pattern OPERATOR(pg_catalog.||) ')$')
        ELSE (labels OPERATOR(pg_catalog.->>) (matcher).key) OPERATOR(pg_catalog.=) (matcher).pattern
    END IS TRUE)
$$;
COMMENT ON FUNCTION prom_api.labels_match(jsonb, prom_api.matcher_negative) IS
    'True when the jsonb label set lacks the label the matcher names (operator ?)';
GRANT EXECUTE ON FUNCTION prom_api.labels_match(jsonb, prom_api.matcher_negative) TO prom_reader;
