-- Label matchers for analysts (sql/idempotent/020-labels.sql): their two types and the
-- operators == ==~ !== !=~ that build them and ? that applies them.
--     SELECT * FROM prom_series.node_cpu_seconds_total WHERE label_ids ? ('mode' == 'idle');
-- Types and operators are state: created once here, never re-created by an upgrade.
CREATE TYPE prom_api.matcher_positive AS (key text, pattern text, is_regex boolean);
COMMENT ON TYPE prom_api.matcher_positive IS 'A label matcher selecting series that have a matching label';
CREATE TYPE prom_api.matcher_negative AS (key text, pattern text, is_regex boolean);
COMMENT ON TYPE prom_api.matcher_negative IS 'A label matcher selecting series that lack a matching label';

-- Forward declarations of the operators' functions, whose definitions are in
-- sql/idempotent/020-labels.sql: it replaces these bodies (CREATE OR REPLACE, same names and
-- parameter names) in the same script, right after the migrations.
CREATE FUNCTION prom_api.label_eq(key text, value text) RETURNS prom_api.matcher_positive
LANGUAGE sql IMMUTABLE AS $$ SELECT NULL::prom_api.matcher_positive $$;
CREATE FUNCTION prom_api.label_re(key text, pattern text) RETURNS prom_api.matcher_positive
LANGUAGE sql IMMUTABLE AS $$ SELECT NULL::prom_api.matcher_positive $$;
CREATE FUNCTION prom_api.label_ne(key text, value text) RETURNS prom_api.matcher_negative
LANGUAGE sql IMMUTABLE AS $$ SELECT NULL::prom_api.matcher_negative $$;
CREATE FUNCTION prom_api.label_nre(key text, pattern text) RETURNS prom_api.matcher_negative
LANGUAGE sql IMMUTABLE AS $$ SELECT NULL::prom_api.matcher_negative $$;
CREATE FUNCTION prom_api.label_ids_match(label_ids int[], matcher prom_api.matcher_positive) RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT NULL::boolean $$;
CREATE FUNCTION prom_api.label_ids_match(label_ids int[], matcher prom_api.matcher_negative) RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT NULL::boolean $$;
CREATE FUNCTION prom_api.labels_match(labels jsonb, matcher prom_api.matcher_positive) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT NULL::boolean $$;
CREATE FUNCTION prom_api.labels_match(labels jsonb, matcher prom_api.matcher_negative) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT NULL::boolean $$;

-- ('key' == 'v') and ('key' ==~ 're') match series having that label; ('key' !== 'v') and
-- ('key' !=~ 're') match series NOT having it (series without the key included).
CREATE OPERATOR prom_api.== (LEFTARG = text, RIGHTARG = text, FUNCTION = prom_api.label_eq);
CREATE OPERATOR prom_api.==~ (LEFTARG = text, RIGHTARG = text, FUNCTION = prom_api.label_re);
CREATE OPERATOR prom_api.!== (LEFTARG = text, RIGHTARG = text, FUNCTION = prom_api.label_ne);
CREATE OPERATOR prom_api.!=~ (LEFTARG = text, RIGHTARG = text, FUNCTION = prom_api.label_nre);
CREATE OPERATOR prom_api.? (LEFTARG = int[], RIGHTARG = prom_api.matcher_positive, FUNCTION = prom_api.label_ids_match);
CREATE OPERATOR prom_api.? (LEFTARG = int[], RIGHTARG = prom_api.matcher_negative, FUNCTION = prom_api.label_ids_match);
CREATE OPERATOR prom_api.? (LEFTARG = jsonb, RIGHTARG = prom_api.matcher_positive, FUNCTION = prom_api.labels_match);
CREATE OPERATOR prom_api.? (LEFTARG = jsonb, RIGHTARG = prom_api.matcher_negative, FUNCTION = prom_api.labels_match);
