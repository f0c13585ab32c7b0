-- Series selection for the HTTP API and remote_read: label matchers → series ids, and
-- which series, label values and label names were active in a time range.

-- A time in Unix seconds as timestamptz, clamped to what timestamptz can hold: HTTP
-- clients send open bounds such as Prometheus's minTime (year -292 million) and
-- Grafana sends milliseconds where seconds belong (year ~55,000).
CREATE OR REPLACE FUNCTION _prom_catalog.clamped_timestamptz(unix_seconds double precision)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN unix_seconds IS NULL OR unix_seconds <> unix_seconds THEN NULL
        WHEN unix_seconds <= -210866803200 THEN '-infinity'::timestamptz
        WHEN unix_seconds >= 9224318015999 THEN 'infinity'::timestamptz
        ELSE pg_catalog.to_timestamp(unix_seconds)
    END
$$;
COMMENT ON FUNCTION _prom_catalog.clamped_timestamptz(double precision) IS
    'Unix seconds as timestamptz, clamped to ±infinity outside the timestamptz range';
GRANT EXECUTE ON FUNCTION _prom_catalog.clamped_timestamptz(double precision) TO prom_reader;

-- Ids of the series matching every matcher (PromQL semantics: a missing label is the
-- empty string; regexes are fully anchored). ops are '=', '!=', '=~', '!~'.
-- Each matcher becomes one array-overlap test on the series' label ids, so the GIN
-- index on _prom_catalog.series(labels) answers it: a matcher that does not match ""
-- needs one of the label ids it matches; one that matches "" needs none of the
-- label ids of that key it rejects.
CREATE OR REPLACE FUNCTION _prom_catalog.get_matching_series_ids(names text[], ops text[], patterns text[])
RETURNS bigint[]
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    query text := 'SELECT coalesce(array_agg(s.id), ''{}'') FROM _prom_catalog.series s WHERE s.delete_epoch IS NULL';
    matches_empty boolean;
    ids int[];
    result bigint[];
    regex record;
    visible record;
BEGIN
    IF cardinality(names) IS DISTINCT FROM cardinality(ops) OR cardinality(names) IS DISTINCT FROM cardinality(patterns) THEN
        RAISE EXCEPTION 'names, ops and patterns must have the same length' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- only the series this transaction may see (multitenancy, sql/idempotent/012-tenancy.sql):
    -- one more overlap test, as a matcher's
    SELECT * INTO visible FROM _prom_catalog.visible_label_filter();
    IF visible.must_have IS NOT NULL THEN
        IF cardinality(visible.must_have) = 0 THEN
            RETURN '{}';
        END IF;
        query := query || format(' AND s.labels OPERATOR(pg_catalog.&&) %L::int[]', visible.must_have);
    END IF;
    IF cardinality(visible.must_not_have) > 0 THEN
        query := query || format(' AND NOT (s.labels OPERATOR(pg_catalog.&&) %L::int[])', visible.must_not_have);
    END IF;
    FOR i IN 1 .. coalesce(cardinality(names), 0) LOOP
        IF ops[i] IN ('=~', '!~') THEN
            -- PromQL's regexes (RE2), not PostgreSQL's: sql/idempotent/020-labels.sql
            regex := _prom_catalog.regex_label_ids(names[i], patterns[i]);
            matches_empty := (ops[i] = '=~') = regex.matches_empty;
            -- the label ids this matcher accepts (matches_empty = false) or rejects (true)
            ids := CASE WHEN (ops[i] = '=~') <> matches_empty THEN regex.matching ELSE regex.not_matching END;
        ELSIF ops[i] IN ('=', '!=') THEN
            matches_empty := (ops[i] = '=') = (patterns[i] = '');
            SELECT coalesce(array_agg(l.id), '{}') INTO ids
            FROM _prom_catalog.label l
            WHERE l.key = names[i]
              AND matches_empty <> CASE ops[i] WHEN '=' THEN l.value = patterns[i] ELSE l.value <> patterns[i] END;
        ELSE
            RAISE EXCEPTION 'unknown matcher operator %', ops[i] USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT matches_empty THEN
            IF cardinality(ids) = 0 THEN
                RETURN '{}';
            END IF;
            query := query || format(' AND s.labels OPERATOR(pg_catalog.&&) %L::int[]', ids);
        ELSIF cardinality(ids) > 0 THEN
            query := query || format(' AND NOT (s.labels OPERATOR(pg_catalog.&&) %L::int[])', ids);
        END IF;
    END LOOP;
    EXECUTE query INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION _prom_catalog.get_matching_series_ids(text[], text[], text[]) IS
    'Ids of the live series visible to this transaction matching all label matchers (name, op in = != =~ !~, value or regex)';
GRANT EXECUTE ON FUNCTION _prom_catalog.get_matching_series_ids(text[], text[], text[]) TO prom_reader;

-- What was active in [start_time, end_time], from the activity bounds of the catalog
-- (sql/idempotent/045-activity.sql) rather than from samples: everything with samples in the
-- range counts; something whose last sample is up to 40 minutes (a series) or an hour (a
-- label or key) before start_time may count too, as may one with a gap in its samples that
-- spans the whole range.

-- The given series that are live and active in the range: one primary-key probe each.
CREATE OR REPLACE FUNCTION prom_api.get_active_series(series_ids bigint[], start_time timestamptz, end_time timestamptz)
RETURNS bigint[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}')
    FROM _prom_catalog.series s
    WHERE s.id IN (SELECT unnest(series_ids))
      AND s.delete_epoch IS NULL AND s.first_seen <= end_time AND s.last_seen >= start_time
      AND start_time <= end_time
$$;
COMMENT ON FUNCTION prom_api.get_active_series(bigint[], timestamptz, timestamptz) IS
    'The given series that are live and had samples in [start_time, end_time], by their activity bounds';
GRANT EXECUTE ON FUNCTION prom_api.get_active_series(bigint[], timestamptz, timestamptz) TO prom_reader;

-- Values of one label key active in the range, sorted bytewise: the key's range of the
-- (key, value) index, O(values of the key). A SQL function's body is planned for any key
-- (a generic plan), which for "key = $1" estimates a tenth of all labels and scans them all;
-- ">= AND <=" is the same test, estimated as a narrow range, so the index serves it.
CREATE OR REPLACE FUNCTION prom_api.get_active_label_values(key text, start_time timestamptz, end_time timestamptz)
RETURNS text[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(l.value ORDER BY l.value COLLATE "C"), '{}')
    FROM _prom_catalog.label l
    WHERE l.key >= get_active_label_values.key AND l.key <= get_active_label_values.key
      AND l.first_seen <= end_time AND l.last_seen >= start_time
      AND start_time <= end_time
$$;
COMMENT ON FUNCTION prom_api.get_active_label_values(text, timestamptz, timestamptz) IS
    'Values of a label key that had samples in [start_time, end_time], by their activity bounds, sorted bytewise';
GRANT EXECUTE ON FUNCTION prom_api.get_active_label_values(text, timestamptz, timestamptz) TO prom_reader;

-- Label keys active in the range, sorted bytewise: O(keys).
CREATE OR REPLACE FUNCTION prom_api.get_active_label_names(start_time timestamptz, end_time timestamptz)
RETURNS text[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(k.key ORDER BY k.key COLLATE "C"), '{}')
    FROM _prom_catalog.label_key k
    WHERE k.first_seen <= end_time AND k.last_seen >= start_time
      AND start_time <= end_time
$$;
COMMENT ON FUNCTION prom_api.get_active_label_names(timestamptz, timestamptz) IS
    'Label keys that had samples in [start_time, end_time], by their activity bounds, sorted bytewise';
GRANT EXECUTE ON FUNCTION prom_api.get_active_label_names(timestamptz, timestamptz) TO prom_reader;

-- Labels of series as (series_id, keys, values), keys in byte order, for building
-- label sets outside SQL (JSON and protobuf encoders).
CREATE OR REPLACE FUNCTION prom_api.get_series_labels(series_ids bigint[])
RETURNS TABLE (series_id bigint, keys text[], vals text[])
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.id,
           array_agg(l.key ORDER BY l.key COLLATE "C"),
           array_agg(l.value ORDER BY l.key COLLATE "C")
    FROM unnest(series_ids) AS i(id)
    JOIN _prom_catalog.series s ON s.id = i.id
    CROSS JOIN LATERAL unnest(s.labels) AS u(label_id)
    JOIN _prom_catalog.label l ON l.id = u.label_id
    GROUP BY s.id
$$;
COMMENT ON FUNCTION prom_api.get_series_labels(bigint[]) IS
    'Label names and values of each series, names sorted bytewise';
GRANT EXECUTE ON FUNCTION prom_api.get_series_labels(bigint[]) TO prom_reader;
