-- Series resolution: label sets in, stable series ids out, for many series in one call.
--
-- Safe under concurrent connectors: every insert is ON CONFLICT DO NOTHING and runs in
-- a fixed order (metric name, then key and value, then labels array), and new label key
-- positions are assigned under a per-metric advisory lock taken in metric-id order, so
-- two callers never wait on each other in a cycle.

-- Positional labels array: ids[i] placed at positions[i], 0 where a key is absent.
CREATE OR REPLACE FUNCTION _prom_catalog.positional_labels(positions int[], ids int[])
RETURNS int[]
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(coalesce(ids[array_position(positions, g)], 0) ORDER BY g)
    FROM generate_series(1, (SELECT max(p) FROM unnest(positions) p)) g
$$;
COMMENT ON FUNCTION _prom_catalog.positional_labels(int[], int[]) IS
    'Builds a series labels array from label ids and their key positions';

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

-- Series ids for label sets given as parallel arrays: row i of (series_ord, label_keys,
-- label_values) is one label of input series series_ord[i]. Creates what is missing
-- (metrics and their views, labels, key positions, series). Returns (ord, series_id)
-- for every distinct input ord.
CREATE OR REPLACE FUNCTION prom_api.get_or_create_series_ids(
    series_ord int[], label_keys text[], label_values text[])
RETURNS TABLE (ord int, series_id bigint)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $func$
DECLARE
    bad record;
    new_metric_ids int[];
    keyed_metric_ids int[];
    mid int;
BEGIN
    IF cardinality(series_ord) IS DISTINCT FROM cardinality(label_keys)
       OR cardinality(series_ord) IS DISTINCT FROM cardinality(label_values) THEN
        RAISE EXCEPTION 'series_ord, label_keys and label_values must have the same length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Validate before writing anything: one non-empty __name__ and no repeated key per series.
    SELECT i.o, count(*) FILTER (WHERE i.k = '__name__' AND i.v <> '') AS names,
           count(*) - count(DISTINCT i.k) AS repeats,
           count(*) FILTER (WHERE i.k IS NULL OR i.k = '' OR i.v IS NULL) AS empties
    INTO bad
    FROM unnest(series_ord, label_keys, label_values) AS i(o, k, v)
    GROUP BY i.o
    HAVING count(*) FILTER (WHERE i.k = '__name__' AND i.v <> '') <> 1
        OR count(*) <> count(DISTINCT i.k)
        OR count(*) FILTER (WHERE i.k IS NULL OR i.k = '' OR i.v IS NULL) > 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'invalid label set for series %: %', bad.o,
            CASE WHEN bad.names <> 1 THEN 'it needs exactly one non-empty __name__ label'
                 WHEN bad.repeats > 0 THEN 'a label name is repeated'
                 ELSE 'a label name is empty or a value is NULL' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- 1. metrics
    WITH ins AS (
        INSERT INTO _prom_catalog.metric (metric_name, view_name)
        SELECT n.v, _prom_catalog.identifier_for(n.v)
        FROM (SELECT DISTINCT i.v FROM unnest(label_keys, label_values) AS i(k, v) WHERE i.k = '__name__') n
        WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.metric m WHERE m.metric_name = n.v)
        ORDER BY n.v
        ON CONFLICT DO NOTHING
        RETURNING id)
    SELECT array_agg(id ORDER BY id) INTO new_metric_ids FROM ins;

    -- 2. labels
    INSERT INTO _prom_catalog.label (key, value)
    SELECT DISTINCT i.k, i.v
    FROM unnest(label_keys, label_values) AS i(k, v)
    WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.label l WHERE l.key = i.k AND l.value = i.v)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;

    -- 3. label key positions, for metrics that gained keys
    SELECT array_agg(DISTINCT m.id ORDER BY m.id) INTO keyed_metric_ids
    FROM _prom_catalog.labels_with_metric(series_ord, label_keys, label_values) i
    JOIN _prom_catalog.metric m ON m.metric_name = i.metric_name
    WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.label_key_position p
                      WHERE p.metric_id = m.id AND p.key = i.k);

    IF keyed_metric_ids IS NOT NULL THEN
        FOREACH mid IN ARRAY keyed_metric_ids LOOP
            PERFORM _prom_catalog.lock_metric_keys(mid);
            INSERT INTO _prom_catalog.label_key_position (metric_id, key, pos, column_name)
            SELECT mid, nk.k,
                   coalesce((SELECT max(p.pos) FROM _prom_catalog.label_key_position p WHERE p.metric_id = mid), 0)
                       + row_number() OVER (ORDER BY nk.k <> '__name__', nk.k),
                   _prom_catalog.column_name_for(nk.k)
            FROM (SELECT DISTINCT i.k
                  FROM _prom_catalog.labels_with_metric(series_ord, label_keys, label_values) i
                  JOIN _prom_catalog.metric m ON m.metric_name = i.metric_name AND m.id = mid
                  WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.label_key_position p
                                    WHERE p.metric_id = mid AND p.key = i.k)) nk;
        END LOOP;
    END IF;

    -- views of new metrics, and new columns for metrics that gained keys
    FOR mid IN SELECT DISTINCT u.id FROM unnest(coalesce(keyed_metric_ids, '{}') || coalesce(new_metric_ids, '{}')) AS u(id)
               ORDER BY u.id LOOP
        PERFORM _prom_catalog.try_create_metric_views(mid);
    END LOOP;

    -- 4. series; those marked deleted by garbage collection come back when written again
    IF EXISTS (SELECT 1 FROM _prom_catalog.series s WHERE s.delete_epoch IS NOT NULL) THEN
        UPDATE _prom_catalog.series s SET delete_epoch = NULL
        FROM _prom_catalog.series_labels_of(series_ord, label_keys, label_values) b
        WHERE s.labels = b.labels AND s.delete_epoch IS NOT NULL;
    END IF;
    INSERT INTO _prom_catalog.series (metric_id, labels)
    SELECT DISTINCT b.metric_id, b.labels
    FROM _prom_catalog.series_labels_of(series_ord, label_keys, label_values) b
    -- ">= AND <=" is equality that only the unique btree can serve: given "=", the planner
    -- may pick the GIN index, whose equality check is a hundred times slower per probe
    WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.series s WHERE s.labels >= b.labels AND s.labels <= b.labels)
    ORDER BY b.labels
    ON CONFLICT DO NOTHING;

    RETURN QUERY
    SELECT b.ord, s.id
    FROM _prom_catalog.series_labels_of(series_ord, label_keys, label_values) b
    JOIN _prom_catalog.series s ON s.labels >= b.labels AND s.labels <= b.labels;  -- btree equality, see above
END
$func$;
COMMENT ON FUNCTION prom_api.get_or_create_series_ids(int[], text[], text[]) IS
    'Resolves many label sets to series ids in one call, creating metrics, labels and series as needed';

-- Input labels with the metric name of their series alongside (a window, not a self-join:
-- the planner cannot estimate unnest() and would nest-loop a self-join over every pair).
CREATE OR REPLACE FUNCTION _prom_catalog.labels_with_metric(
    series_ord int[], label_keys text[], label_values text[])
RETURNS TABLE (o int, k text, v text, metric_name text)
LANGUAGE sql
IMMUTABLE
ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT i.o, i.k, i.v, max(i.v) FILTER (WHERE i.k = '__name__') OVER (PARTITION BY i.o)
    FROM unnest(series_ord, label_keys, label_values) AS i(o, k, v)
$$;
COMMENT ON FUNCTION _prom_catalog.labels_with_metric(int[], text[], text[]) IS
    'Rows of input label sets (parallel arrays) with the __name__ of their series';

-- Labels arrays of input label sets whose metrics, labels and key positions exist.
-- ROWS 10: callers probe series by labels; a low estimate keeps those probes on the index
-- instead of hashing the whole series table.
CREATE OR REPLACE FUNCTION _prom_catalog.series_labels_of(
    series_ord int[], label_keys text[], label_values text[])
RETURNS TABLE (ord int, metric_id int, labels int[])
LANGUAGE sql
STABLE
ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT i.o, m.id,
           _prom_catalog.positional_labels(array_agg(p.pos), array_agg(l.id))
    FROM _prom_catalog.labels_with_metric(series_ord, label_keys, label_values) i
    JOIN _prom_catalog.metric m ON m.metric_name = i.metric_name
    JOIN _prom_catalog.label_key_position p ON p.metric_id = m.id AND p.key = i.k
    JOIN _prom_catalog.label l ON l.key = i.k AND l.value = i.v
    GROUP BY i.o, m.id
$$;
COMMENT ON FUNCTION _prom_catalog.series_labels_of(int[], text[], text[]) IS
    'Positional labels arrays for input label sets (parallel arrays of series ordinal, key, value)';

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
