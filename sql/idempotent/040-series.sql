-- Series resolution: label sets in, stable series ids out, for many series in one call.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0003-catalog.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _prom_catalog.series TO prom_reader;
GRANT SELECT ON TABLE _prom_catalog.label_key_position TO prom_reader;

-- The bytes one label contributes to a label set's canonical encoding: key and value, each NUL-terminated
-- (PostgreSQL text cannot contain NUL, so the encoding is unambiguous).
CREATE OR REPLACE FUNCTION _prom_catalog.label_pair_bytes(key text, value text)
RETURNS bytea
LANGUAGE sql
-- STABLE like convert_to, and no SET search_path (every name is schema-qualified instead):
-- only then is it inlined, which matters at 10,000 labels per call
STABLE
PARALLEL SAFE
AS $$
    SELECT pg_catalog.convert_to(key, 'UTF8') OPERATOR(pg_catalog.||) '\x00'::pg_catalog.bytea
           OPERATOR(pg_catalog.||) pg_catalog.convert_to(value, 'UTF8') OPERATOR(pg_catalog.||) '\x00'::pg_catalog.bytea
$$;
COMMENT ON FUNCTION _prom_catalog.label_pair_bytes(text, text) IS
    'Encoding of one label in a label set hash (see _prom_catalog.label_set_hash)';

-- The identity of a series: SHA-256 of its label set in canonical encoding (labels in bytewise
-- key order, each encoded by label_pair_bytes). get_or_create_series_ids(int[], text[], text[])
-- builds the same encoding set-wise; the connector builds it in Python (pyconnector/prometheus/ingest.py).
CREATE OR REPLACE FUNCTION _prom_catalog.label_set_hash(keys text[], vals text[])
RETURNS bytea
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT sha256(string_agg(_prom_catalog.label_pair_bytes(x.k, x.v), ''::bytea ORDER BY x.k COLLATE "C"))
    FROM unnest(keys, vals) AS x(k, v)
$$;
COMMENT ON FUNCTION _prom_catalog.label_set_hash(text[], text[]) IS
    'SHA-256 of a label set given as parallel key and value arrays: the unique identity of a series';

-- Advisory-lock namespace for assigning label key positions of one metric.
CREATE OR REPLACE FUNCTION _prom_catalog.lock_metric_keys(metric_id int)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_advisory_xact_lock(1886547821, metric_id)   -- 1886547821: 'prom' label keys
$$;
COMMENT ON FUNCTION _prom_catalog.lock_metric_keys(int) IS 'Serializes new label key positions of one metric';

-- Series ids of label sets in canonical encoding (see _prom_catalog.label_set_hash: labels in
-- bytewise key order, each `key NUL value NUL`), aligned with the input; creates what is missing.
-- Series it creates get activity bounds covering [first_times[i], last_times[i]] at once (a
-- writer passes its samples' time range: then they need no separate mark, which would rewrite
-- every new series row); NULL arrays or elements create series without bounds.
--
-- Cost follows the input, never the catalog: existing series (the common case, e.g. a connector
-- whose cache is cold) are found with one probe of the unique hash index each; only label sets
-- not found are parsed and created (_prom_catalog.create_series). A label set that is not in
-- canonical encoding is never found by its hash and is refused by the creation, so a caller can
-- never be handed another label set's series.
CREATE OR REPLACE FUNCTION prom_api.get_or_create_series_ids_with_activity(
    label_sets bytea[], first_times timestamptz[], last_times timestamptz[])
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $func$
DECLARE
    ids bigint[];
    revive bigint[];
    any_missing boolean;
    missing bytea[];
    missing_first float8[];
    missing_last float8[];
    created bigint[];
BEGIN
    IF (first_times IS NOT NULL AND cardinality(first_times) IS DISTINCT FROM cardinality(label_sets))
       OR (last_times IS NOT NULL AND cardinality(last_times) IS DISTINCT FROM cardinality(label_sets)) THEN
        RAISE EXCEPTION 'first_times and last_times must be NULL or as long as label_sets'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(s.id ORDER BY x.n),
           array_agg(s.id) FILTER (WHERE s.delete_epoch IS NOT NULL),
           bool_or(s.id IS NULL)
    INTO ids, revive, any_missing
    FROM unnest(label_sets) WITH ORDINALITY AS x(b, n)
    LEFT JOIN LATERAL (SELECT s.id, s.delete_epoch FROM _prom_catalog.series s
                       WHERE s.label_hash = sha256(x.b) LIMIT 1) s ON true;
    IF revive IS NOT NULL THEN
        -- marked deleted by garbage collection: written again, so live again
        UPDATE _prom_catalog.series s SET delete_epoch = NULL
        WHERE s.id IN (SELECT unnest(revive)) AND s.delete_epoch IS NOT NULL;
    END IF;
    IF any_missing THEN
        -- each distinct label set once, with the union of its time ranges (as Unix seconds:
        -- exact for microsecond times, and what PL/Python takes without parsing text)
        SELECT array_agg(m.b ORDER BY m.b), array_agg(m.lo ORDER BY m.b), array_agg(m.hi ORDER BY m.b)
        INTO missing, missing_first, missing_last
        FROM (SELECT x.b, date_part('epoch', min(x.lo)) AS lo, date_part('epoch', max(x.hi)) AS hi
              FROM unnest(label_sets, ids, first_times, last_times) AS x(b, id, lo, hi)
              WHERE x.id IS NULL AND x.b IS NOT NULL
              GROUP BY x.b) m;
        created := _prom_catalog.create_series(missing, missing_first, missing_last);
        SELECT array_agg(coalesce(x.id, c.id) ORDER BY x.n) INTO ids
        FROM unnest(label_sets, ids) WITH ORDINALITY AS x(b, id, n)
        LEFT JOIN unnest(missing, created) AS c(b, id) ON x.id IS NULL AND c.b = x.b;
    END IF;
    -- in a tenant context, every series must be the tenant's (sql/idempotent/012-tenancy.sql)
    PERFORM _prom_catalog.check_series_visible(ids);
    RETURN ids;
END
$func$;
COMMENT ON FUNCTION prom_api.get_or_create_series_ids_with_activity(bytea[], timestamptz[], timestamptz[]) IS
    'Series ids of label sets in canonical encoding (labels in bytewise key order, each key NUL value NUL), creating series as needed, with activity bounds covering [first_times, last_times]';
GRANT EXECUTE ON FUNCTION prom_api.get_or_create_series_ids_with_activity(
    bytea[], timestamptz[], timestamptz[])
    TO prom_writer;

CREATE OR REPLACE FUNCTION prom_api.get_or_create_series_ids(label_sets bytea[])
RETURNS bigint[]
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT prom_api.get_or_create_series_ids_with_activity(label_sets, NULL, NULL)
$$;
COMMENT ON FUNCTION prom_api.get_or_create_series_ids(bytea[]) IS
    'Series ids of label sets in canonical encoding (labels in bytewise key order, each key NUL value NUL), creating series as needed';
GRANT EXECUTE ON FUNCTION prom_api.get_or_create_series_ids(bytea[]) TO prom_writer;

DROP FUNCTION IF EXISTS _prom_catalog.create_series(bytea[]);  -- gained activity bounds

-- Creates the series of canonical label sets that do not exist yet and returns the ids of all
-- of them, in input order (extension/promscale/catalog/series.py); the series it creates get
-- activity bounds covering [first_times[i], last_times[i]] (Unix seconds; NULL: none).
CREATE OR REPLACE FUNCTION _prom_catalog.create_series(label_sets bytea[], first_times float8[], last_times float8[])
RETURNS bigint[]
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.catalog.series")
try:
    return mod.create_series(plpy, SD, label_sets or [], first_times, last_times)
except mod.InvalidLabelSet as exc:
    plpy.error(str(exc), sqlstate="22023")
$python$;
COMMENT ON FUNCTION _prom_catalog.create_series(bytea[], float8[], float8[]) IS
    'Creates the series of canonical label sets, with the metrics, labels and key positions they need and activity bounds; returns their ids';

-- New label keys of a metric get the next positions, under the metric's key lock (callers
-- lock metrics in id order, so concurrent callers cannot deadlock).
CREATE OR REPLACE FUNCTION _prom_catalog.add_label_keys(metric_id int, keys text[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_key text;
    next_pos int;
    attempt int;
    col name;
BEGIN
    PERFORM _prom_catalog.lock_metric_keys(metric_id);
    next_pos := coalesce((SELECT max(p.pos) FROM _prom_catalog.label_key_position p
                          WHERE p.metric_id = add_label_keys.metric_id), 0);
    -- again under the lock: another caller may have added some of them meanwhile. A key whose
    -- column is its own name comes first, so `time_label` keeps that column and `time` (whose
    -- column would be `time_label` too) takes the next attempt's name.
    FOR new_key IN
        SELECT n.key FROM (SELECT DISTINCT k AS key FROM unnest(keys) AS k) n
        WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.label_key_position p
                          WHERE p.metric_id = add_label_keys.metric_id AND p.key = n.key)
        ORDER BY n.key <> '__name__', _prom_catalog.column_name_for(n.key) <> n.key, n.key
    LOOP
        attempt := 0;
        LOOP
            col := _prom_catalog.column_name_for(new_key, attempt);
            EXIT WHEN NOT EXISTS (SELECT 1 FROM _prom_catalog.label_key_position p
                                  WHERE p.metric_id = add_label_keys.metric_id AND p.column_name = col);
            attempt := attempt + 1;
        END LOOP;
        next_pos := next_pos + 1;
        INSERT INTO _prom_catalog.label_key_position (metric_id, key, pos, column_name)
        VALUES (add_label_keys.metric_id, new_key, next_pos, col);
    END LOOP;
END
$$;
COMMENT ON FUNCTION _prom_catalog.add_label_keys(int, text[]) IS 'Gives new label keys of a metric the next positions';

-- The same for label sets given as parallel arrays: row i of (series_ord, label_keys,
-- label_values) is one label of input series series_ord[i]. Returns (ord, series_id) for
-- every distinct input ord. Each label set is validated (one non-empty __name__, no repeated
-- or empty key, no NULL value) and encoded in one pass over the input, sorted once by (ord,
-- key): an ORDER BY inside the aggregate would sort again per label set.
CREATE OR REPLACE FUNCTION prom_api.get_or_create_series_ids(
    series_ord int[], label_keys text[], label_values text[])
RETURNS TABLE (ord int, series_id bigint)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
ROWS 1000
SET search_path = pg_catalog, pg_temp
AS $func$
DECLARE
    bad_ord int;
    bad_problem text;
    ords int[];
    label_sets bytea[];
BEGIN
    IF cardinality(series_ord) IS DISTINCT FROM cardinality(label_keys)
       OR cardinality(series_ord) IS DISTINCT FROM cardinality(label_values) THEN
        RAISE EXCEPTION 'series_ord, label_keys and label_values must have the same length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(g.o ORDER BY g.o), array_agg(g.label_set ORDER BY g.o),
           (array_agg(g.o ORDER BY g.o) FILTER (WHERE g.problem IS NOT NULL))[1],
           (array_agg(g.problem ORDER BY g.o) FILTER (WHERE g.problem IS NOT NULL))[1]
    INTO ords, label_sets, bad_ord, bad_problem
    FROM (
        SELECT i.o,
               string_agg(_prom_catalog.label_pair_bytes(i.k, i.v), ''::bytea) AS label_set,
               CASE WHEN count(*) FILTER (WHERE i.k = '__name__' AND i.v <> '') <> 1
                        THEN 'it needs exactly one non-empty __name__ label'
                    WHEN count(*) FILTER (WHERE i.k IS NULL OR i.k = '' OR i.v IS NULL) > 0
                        THEN 'a label name is empty or a value is NULL'
                    WHEN bool_or(i.repeated) THEN 'a label name is repeated'
               END AS problem
        FROM (SELECT x.o, x.k, x.v, x.k = lag(x.k) OVER (PARTITION BY x.o ORDER BY x.k COLLATE "C") AS repeated
              FROM unnest(series_ord, label_keys, label_values) AS x(o, k, v)) i
        GROUP BY i.o) g;
    IF bad_problem IS NOT NULL THEN
        RAISE EXCEPTION 'invalid label set for series %: %', bad_ord, bad_problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT x.o, x.id FROM unnest(ords, prom_api.get_or_create_series_ids(label_sets)) AS x(o, id);
END
$func$;
COMMENT ON FUNCTION prom_api.get_or_create_series_ids(int[], text[], text[]) IS
    'Resolves many label sets (parallel arrays of series ordinal, label name, label value) to series ids, creating series as needed';
GRANT EXECUTE ON FUNCTION prom_api.get_or_create_series_ids(int[], text[], text[]) TO prom_writer;

-- Public form: one label set as a jsonb object, e.g. '{"__name__": "up", "job": "node"}'.
CREATE OR REPLACE FUNCTION prom_api.get_or_create_series_id(labels jsonb)
RETURNS bigint
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.series_id
    FROM prom_api.get_or_create_series_ids(
        (SELECT array_agg(1) FROM jsonb_each_text(labels)),
        (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(labels)),
        (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(labels))) r
$$;
COMMENT ON FUNCTION prom_api.get_or_create_series_id(jsonb) IS
    'Series id of a label set given as a jsonb object (must contain __name__), created if new';
GRANT EXECUTE ON FUNCTION prom_api.get_or_create_series_id(jsonb) TO prom_writer;
