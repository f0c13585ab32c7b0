-- Activity bounds of series, labels and label keys (sql/migrations/0006-activity-bounds.sql):
-- maintained at ingest, narrowed by garbage collection, read by the HTTP API's lookups
-- (210-http-api.sql), which then answer "what was active in [start, end]" from the catalog.
--
-- The rule every reader relies on: after a write commits, the bounds of its series, of their
-- labels and of their keys contain every sample time it wrote. Bounds are widened generously
-- so that they rarely move (a write that moves no bound costs nothing here):
--   series: last_seen is pushed to the sample time + G + a per-series phase in [0, G), so a
--           series scraped steadily is marked once every G to 2G, and series created together
--           (same phase otherwise) do not all come due at the same instant; first_seen is the
--           first sample's time, lowered by a further G when a backfill lowers it;
--   labels, a metric's keys (label_key_position) and keys: the union of their series' bounds,
--           rounded out to the grid of G, so a label shared by every series (job="node") moves
--           once per G, not once per series.
-- G is 20 minutes: a series counts at most 2G = 40 minutes after its last sample, a label or
-- key at most an hour (docs/http-api.md). Only rows whose bound moves are written, in a fixed
-- order (series by id, then labels by id, then metric keys by metric and position, then keys by
-- name): writers do not queue on hot label rows, and cannot deadlock on them.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migration
-- 0006-activity-bounds.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT SELECT ON TABLE _prom_catalog.metric_label TO prom_reader;
GRANT SELECT ON TABLE _prom_catalog.label_key TO prom_reader;

-- The helpers below run for every row a marking touches, so they are plain expressions that
-- PostgreSQL inlines into the statement calling them: no SET search_path (a SET clause stops
-- inlining, and each call then costs a planned statement, ~0.1 ms; 999-checks.sql exempts
-- them), every name qualified instead, as in the matcher operators of 020-labels.sql.

-- G, the granularity of activity bounds.
CREATE OR REPLACE FUNCTION _prom_catalog.activity_granularity()
RETURNS interval
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT '20 minutes'::pg_catalog.interval
$$;
COMMENT ON FUNCTION _prom_catalog.activity_granularity() IS
    'Granularity of the activity bounds of series, labels and label keys';

-- Whether t is a finite time well inside timestamptz's range (294276 AD at most), where
-- moving it by a few G cannot overflow. Bounds outside it are left unrounded: still bounds.
CREATE OR REPLACE FUNCTION _prom_catalog.activity_roundable(t timestamptz)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT t OPERATOR(pg_catalog.>=) '4000-01-01 00:00:00+00 BC'::pg_catalog.timestamptz
       AND t OPERATOR(pg_catalog.<=) '200000-01-01 00:00:00+00'::pg_catalog.timestamptz
$$;
COMMENT ON FUNCTION _prom_catalog.activity_roundable(timestamptz) IS
    'Whether a time can be moved by a few activity granularities without leaving timestamptz''s range';

-- t moved by steps × G (t itself where that could overflow).
CREATE OR REPLACE FUNCTION _prom_catalog.activity_shift(t timestamptz, steps double precision)
RETURNS timestamptz
LANGUAGE sql
STABLE  -- as timestamptz arithmetic is: an IMMUTABLE label would stop the inlining
PARALLEL SAFE
AS $$
    SELECT CASE WHEN _prom_catalog.activity_roundable(t)
                THEN t OPERATOR(pg_catalog.+) (steps OPERATOR(pg_catalog.*) _prom_catalog.activity_granularity())
                ELSE t END
$$;
COMMENT ON FUNCTION _prom_catalog.activity_shift(timestamptz, double precision) IS
    'A time moved by a number of activity granularities (unchanged near the ends of timestamptz''s range)';

-- The grid point of G at or before t (outward_up = false), or the one after that (true):
-- rounding a lower bound down and an upper bound up keeps them bounds.
CREATE OR REPLACE FUNCTION _prom_catalog.activity_grid(t timestamptz, outward_up boolean)
RETURNS timestamptz
LANGUAGE sql
STABLE  -- as timestamptz arithmetic is: an IMMUTABLE label would stop the inlining
PARALLEL SAFE
AS $$
    SELECT CASE WHEN _prom_catalog.activity_roundable(t)
                THEN pg_catalog.to_timestamp(
                         (pg_catalog.floor(pg_catalog.date_part('epoch', t) OPERATOR(pg_catalog./)
                                           pg_catalog.date_part('epoch', _prom_catalog.activity_granularity()))
                          OPERATOR(pg_catalog.+) CASE WHEN outward_up THEN 1 ELSE 0 END)
                         OPERATOR(pg_catalog.*) pg_catalog.date_part('epoch', _prom_catalog.activity_granularity()))
                ELSE t END
$$;
COMMENT ON FUNCTION _prom_catalog.activity_grid(timestamptz, boolean) IS
    'The activity grid point at or before a time (outward_up false) or the next one after that (true)';

-- The last_seen a series gets for samples up to t: t + G + the series' phase in [0, G), so
-- series created together do not all come due at once (see the header).
CREATE OR REPLACE FUNCTION _prom_catalog.series_last_seen(series_id bigint, t timestamptz)
RETURNS timestamptz
LANGUAGE sql
STABLE  -- as timestamptz arithmetic is: an IMMUTABLE label would stop the inlining
PARALLEL SAFE
AS $$
    -- (OPERATOR() syntax gives every operator the same precedence: the parentheses say it all)
    SELECT _prom_catalog.activity_shift(t, 1 OPERATOR(pg_catalog.+)
        ((series_id OPERATOR(pg_catalog.%) pg_catalog.date_part('epoch', _prom_catalog.activity_granularity())::pg_catalog.int8)
         OPERATOR(pg_catalog./) pg_catalog.date_part('epoch', _prom_catalog.activity_granularity())))
$$;
COMMENT ON FUNCTION _prom_catalog.series_last_seen(bigint, timestamptz) IS
    'The last_seen bound a series gets for samples up to a time';

-- A time as Unix milliseconds, rounded towards the inside of a bound (up for a lower bound,
-- down for an upper one) and clamped to the range the connector's arrays use: writers that
-- remember bounds in milliseconds never believe them wider than they are.
CREATE OR REPLACE FUNCTION _prom_catalog.unix_ms(t timestamptz, round_up boolean)
RETURNS bigint
LANGUAGE sql
STABLE  -- as timestamptz arithmetic is: an IMMUTABLE label would stop the inlining
PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN t OPERATOR(pg_catalog.=) '-infinity'::pg_catalog.timestamptz THEN -210866803200000  -- the first and
        WHEN t OPERATOR(pg_catalog.=) 'infinity'::pg_catalog.timestamptz THEN 9224318015999999   -- last finite times
        WHEN round_up THEN pg_catalog.ceil(pg_catalog.extract('epoch', t) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8
        ELSE pg_catalog.floor(pg_catalog.extract('epoch', t) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8
    END
$$;
COMMENT ON FUNCTION _prom_catalog.unix_ms(timestamptz, boolean) IS
    'A time as Unix milliseconds, rounded up or down, clamped to the range of timestamptz';
GRANT EXECUTE ON FUNCTION _prom_catalog.unix_ms(timestamptz, boolean) TO prom_writer;

-- Widens the bounds of series (and of their labels and keys) to cover samples at
-- [min_times[i], max_times[i]] for series_ids[i]; returns the bounds now covering each given
-- series, for writers that remember them (the connector: pyconnector/prometheus/activity.py).
CREATE OR REPLACE FUNCTION prom_api.mark_series_activity(
    series_ids bigint[], min_times timestamptz[], max_times timestamptz[])
RETURNS TABLE (series_id bigint, first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    moved_ids bigint[];
    moved_first timestamptz[];
    moved_last timestamptz[];
    label_ids int[];
    label_lo timestamptz[];
    label_hi timestamptz[];
    pair_metrics int[];
    pair_positions int[];
    pair_labels int[];
    pair_lo timestamptz[];
    pair_hi timestamptz[];
BEGIN
    IF cardinality(series_ids) IS DISTINCT FROM cardinality(min_times)
       OR cardinality(series_ids) IS DISTINCT FROM cardinality(max_times) THEN
        RAISE EXCEPTION 'series_ids, min_times and max_times must have the same length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- 1. series whose bounds do not cover their samples, widened. Updated in id order (the
    --    sorted input drives the join) rather than locked first: locking doubles the cost, and
    --    two writers mark the same series only when they write the same series at once.
    --    Then the union of the new bounds per label and per (metric, position, label).
    WITH wanted AS (
        SELECT w.id, min(w.lo) AS lo, max(w.hi) AS hi
        FROM unnest(series_ids, min_times, max_times) AS w(id, lo, hi)
        WHERE w.id IS NOT NULL AND w.lo IS NOT NULL AND w.hi IS NOT NULL
        GROUP BY w.id
        ORDER BY w.id),
    moved AS (
        UPDATE _prom_catalog.series s SET
            first_seen = CASE WHEN s.first_seen IS NULL THEN d.lo
                              WHEN s.first_seen > d.lo THEN _prom_catalog.activity_shift(d.lo, -1)
                              ELSE s.first_seen END,
            last_seen = CASE WHEN s.last_seen IS NULL OR s.last_seen < d.hi
                             THEN _prom_catalog.series_last_seen(s.id, d.hi)
                             ELSE s.last_seen END
        FROM wanted d
        WHERE s.id = d.id AND (s.first_seen IS NULL OR s.first_seen > d.lo OR s.last_seen < d.hi)
        RETURNING s.id, s.metric_id, s.labels, s.first_seen, s.last_seen),
    pair_bounds AS (
        SELECT m.metric_id, u.pos::int AS pos, u.id AS label_id, min(m.first_seen) AS lo, max(m.last_seen) AS hi
        FROM moved m, unnest(m.labels) WITH ORDINALITY AS u(id, pos)
        WHERE u.id <> 0
        GROUP BY m.metric_id, u.pos, u.id),
    label_bounds AS (
        SELECT p.label_id, min(p.lo) AS lo, max(p.hi) AS hi FROM pair_bounds p GROUP BY p.label_id)
    SELECT (SELECT array_agg(m.id) FROM moved m), (SELECT array_agg(m.first_seen) FROM moved m),
           (SELECT array_agg(m.last_seen) FROM moved m),
           (SELECT array_agg(l.label_id) FROM label_bounds l), (SELECT array_agg(l.lo) FROM label_bounds l),
           (SELECT array_agg(l.hi) FROM label_bounds l),
           array_agg(p.metric_id), array_agg(p.pos), array_agg(p.label_id), array_agg(p.lo), array_agg(p.hi)
    INTO moved_ids, moved_first, moved_last, label_ids, label_lo, label_hi,
         pair_metrics, pair_positions, pair_labels, pair_lo, pair_hi
    FROM pair_bounds p;

    -- 2. their labels, metric keys, metric labels and keys
    IF pair_metrics IS NOT NULL THEN
        PERFORM _prom_catalog.widen_label_activity(label_ids, label_lo, label_hi,
                                                   pair_metrics, pair_positions, pair_labels, pair_lo, pair_hi);
    END IF;

    -- the bounds now: of the series just moved, and of those already covering their samples
    RETURN QUERY
    SELECT m.id, m.first_seen, m.last_seen FROM unnest(moved_ids, moved_first, moved_last) AS m(id, first_seen, last_seen)
    UNION ALL
    SELECT s.id, s.first_seen, s.last_seen
    FROM _prom_catalog.series s
    WHERE s.id IN (SELECT w.id FROM unnest(series_ids) AS w(id) EXCEPT SELECT m.id FROM unnest(moved_ids) AS m(id));
END
$$;
COMMENT ON FUNCTION prom_api.mark_series_activity(bigint[], timestamptz[], timestamptz[]) IS
    'Widens the activity bounds of series (and their labels and keys) to cover samples at [min_times, max_times]; returns the bounds of the given series';
GRANT EXECUTE ON FUNCTION prom_api.mark_series_activity(bigint[], timestamptz[], timestamptz[])
    TO prom_writer;

-- Unix seconds as times (to_timestamp is exact for microsecond times: PL/Python passes
-- float8 arrays without formatting and parsing text).
CREATE OR REPLACE FUNCTION _prom_catalog.to_timestamps(unix_seconds float8[])
RETURNS timestamptz[]
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(to_timestamp(u.s) ORDER BY u.n) FROM unnest(unix_seconds) WITH ORDINALITY AS u(s, n)
$$;
COMMENT ON FUNCTION _prom_catalog.to_timestamps(float8[]) IS 'Unix seconds as timestamptz, element by element';

-- The second half of marking, for series whose bounds were just set (marked, or created with
-- bounds by _prom_catalog.create_series): given the union of those series' bounds per label
-- (label_ids, label_lo, label_hi) and per (metric, key position, label) (pair_*), widens the
-- bounds of those labels, of the metrics' keys (label_key_position), of the metric labels
-- (metric_label, created on first sight) and of the keys, each rounded out to the grid of G.
-- Only rows whose bound moves are written, locked in the writers' order: labels by id, metric
-- keys by (metric, position), metric labels by (metric, key, label), keys by name.
CREATE OR REPLACE FUNCTION _prom_catalog.widen_label_activity(
    label_ids int[], label_lo timestamptz[], label_hi timestamptz[],
    pair_metrics int[], pair_positions int[], pair_labels int[], pair_lo timestamptz[], pair_hi timestamptz[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    moved_keys text[];
    moved_key_lo timestamptz[];
    moved_key_hi timestamptz[];
    moved_rows bigint;
BEGIN
    -- labels: locked in id order, as many writers may move a shared label (job="node") at once
    WITH label_due AS (
        SELECT l.id, b.lo, b.hi
        FROM _prom_catalog.label l
        JOIN (SELECT w.id, _prom_catalog.activity_grid(w.lo, false) AS lo, _prom_catalog.activity_grid(w.hi, true) AS hi
              FROM unnest(label_ids, label_lo, label_hi) AS w(id, lo, hi)) b ON b.id = l.id
        WHERE l.first_seen IS NULL OR l.first_seen > b.lo OR l.last_seen < b.hi
        ORDER BY l.id
        FOR NO KEY UPDATE OF l),
    label_moved AS (
        UPDATE _prom_catalog.label l SET
            first_seen = least(l.first_seen, d.lo),
            last_seen = greatest(l.last_seen, d.hi)
        FROM label_due d
        WHERE l.id = d.id
        RETURNING l.key, l.first_seen, l.last_seen)
    SELECT array_agg(k.key), array_agg(k.lo), array_agg(k.hi)
    INTO moved_keys, moved_key_lo, moved_key_hi
    FROM (SELECT lm.key, min(lm.first_seen) AS lo, max(lm.last_seen) AS hi FROM label_moved lm GROUP BY lm.key) k;

    -- the keys of the metrics (label_key_position), then the metric labels. Each pair carries its
    -- key, so that the metric_label probes below use the whole (metric_id, key, label_id) key: with
    -- the key from a join, a plan probed on metric_id alone, one metric's every label per pair.
    WITH pair_bounds AS MATERIALIZED (
        SELECT w.metric_id, w.pos, p.key, w.label_id,
               _prom_catalog.activity_grid(w.lo, false) AS lo, _prom_catalog.activity_grid(w.hi, true) AS hi
        FROM unnest(pair_metrics, pair_positions, pair_labels, pair_lo, pair_hi) AS w(metric_id, pos, label_id, lo, hi)
        CROSS JOIN LATERAL (SELECT p.key FROM _prom_catalog.label_key_position p
                            WHERE p.metric_id = w.metric_id AND p.pos = w.pos LIMIT 1) p),
    position_due AS (
        SELECT p.metric_id, p.pos, b.lo, b.hi
        FROM (SELECT pb.metric_id, pb.pos, min(pb.lo) AS lo, max(pb.hi) AS hi
              FROM pair_bounds pb GROUP BY pb.metric_id, pb.pos) b
        JOIN _prom_catalog.label_key_position p ON p.metric_id = b.metric_id AND p.pos = b.pos
        WHERE p.first_seen IS NULL OR p.first_seen > b.lo OR p.last_seen < b.hi
        ORDER BY p.metric_id, p.pos
        FOR NO KEY UPDATE OF p),
    position_moved AS (
        UPDATE _prom_catalog.label_key_position p SET
            first_seen = least(p.first_seen, d.lo),
            last_seen = greatest(p.last_seen, d.hi)
        FROM position_due d
        WHERE p.metric_id = d.metric_id AND p.pos = d.pos
        RETURNING p.metric_id),
    pair_moved AS (
        -- only pairs whose bounds must move reach the upsert, which locks what it finds
        INSERT INTO _prom_catalog.metric_label AS ml (metric_id, key, label_id, first_seen, last_seen)
        SELECT b.metric_id, b.key, b.label_id, b.lo, b.hi
        FROM pair_bounds b
        WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.metric_label x
                          WHERE x.metric_id = b.metric_id AND x.key = b.key AND x.label_id = b.label_id
                            AND x.first_seen <= b.lo AND x.last_seen >= b.hi)
        ORDER BY b.metric_id, b.key, b.label_id
        ON CONFLICT (metric_id, key, label_id) DO UPDATE SET
            first_seen = least(ml.first_seen, excluded.first_seen),
            last_seen = greatest(ml.last_seen, excluded.last_seen)
        RETURNING ml.metric_id)
    SELECT (SELECT count(*) FROM position_moved) + (SELECT count(*) FROM pair_moved)  -- in this order
    INTO moved_rows;

    -- the keys of the labels that moved
    IF moved_keys IS NOT NULL THEN
        PERFORM _prom_catalog.widen_label_keys(moved_keys, moved_key_lo, moved_key_hi);
    END IF;
END
$$;
COMMENT ON FUNCTION _prom_catalog.widen_label_activity(int[], timestamptz[], timestamptz[], int[], int[], int[], timestamptz[], timestamptz[]) IS
    'Widens the activity bounds of labels, metric keys, metric labels and keys to the union of their series'' new bounds';

-- Widens the bounds of label keys (inserted on first sight) to cover [lo, hi], locked in key order.
CREATE OR REPLACE FUNCTION _prom_catalog.widen_label_keys(keys text[], lo timestamptz[], hi timestamptz[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO _prom_catalog.label_key (key)
    SELECT w.key FROM unnest(keys) AS w(key)
    WHERE NOT EXISTS (SELECT 1 FROM _prom_catalog.label_key k WHERE k.key = w.key)
    ORDER BY 1
    ON CONFLICT DO NOTHING;
    WITH key_due AS (
        SELECT k.key, w.lo, w.hi
        FROM _prom_catalog.label_key k JOIN unnest(keys, lo, hi) AS w(key, lo, hi) ON w.key = k.key
        WHERE k.first_seen IS NULL OR k.first_seen > w.lo OR k.last_seen < w.hi
        ORDER BY k.key COLLATE "C"
        FOR NO KEY UPDATE OF k)
    UPDATE _prom_catalog.label_key k SET
        first_seen = least(k.first_seen, d.lo),
        last_seen = greatest(k.last_seen, d.hi)
    FROM key_due d
    WHERE k.key = d.key;
END
$$;
COMMENT ON FUNCTION _prom_catalog.widen_label_keys(text[], timestamptz[], timestamptz[]) IS
    'Widens the activity bounds of label keys to cover the given ranges';

-- Marks the series of a batch of samples (parallel arrays), for writers that do not
-- remember what they marked (prom_api.put_samples without a series epoch): one probe per
-- distinct series of the batch.
CREATE OR REPLACE FUNCTION _prom_catalog.mark_activity_of_samples(series_ids bigint[], times timestamptz[])
RETURNS void
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*)
    FROM (SELECT array_agg(b.id) AS ids, array_agg(b.lo) AS los, array_agg(b.hi) AS his
          FROM (SELECT i.id, min(i.t) AS lo, max(i.t) AS hi
                FROM unnest(series_ids, times) AS i(id, t) GROUP BY i.id) b) a,
         prom_api.mark_series_activity(a.ids, a.los, a.his)
$$;
COMMENT ON FUNCTION _prom_catalog.mark_activity_of_samples(bigint[], timestamptz[]) IS
    'Widens the activity bounds of the series of a batch of samples';

-- After garbage collection deleted series (given as one row per label of a deleted series: the
-- label id, its position, the series' metric and last_seen), the labels, metric keys and metric
-- labels whose newest activity came from them get their bounds recomputed from the series left
-- (NULL when none is left, so a label of deleted series only disappears from every lookup),
-- then the keys of labels that shrank. A label's last_seen always comes from one of its series'
-- marks, so a label whose last_seen is newer than every deleted series' is still carried by a
-- live one and is left alone: hot labels (job="node") are never recomputed. The rows are locked
-- (labels, metric keys, metric labels, keys: the writers' order) before their series are read,
-- so a write that moves their bounds meanwhile waits and then widens the result. (A write that
-- does not move them, i.e. of samples older than the deleted series' last ones, which retention
-- has already removed, may be missed by the recomputation: data that old is on its way out.)
CREATE OR REPLACE FUNCTION _prom_catalog.narrow_activity_after_gc(
    label_ids int[], positions int[], metric_ids int[], series_last_seen timestamptz[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    labels_due int[];
    metrics_due int[];
    positions_due int[];
    shrunk_keys text[];
BEGIN
    -- labels whose last_seen a deleted series may have set
    SELECT array_agg(c.id ORDER BY c.id) INTO labels_due
    FROM (
        SELECT l.id
        FROM (SELECT d.id, _prom_catalog.activity_grid(max(d.last_seen), true) AS hi
              FROM unnest(label_ids, series_last_seen) AS d(id, last_seen)
              WHERE d.id <> 0 AND d.last_seen IS NOT NULL
              GROUP BY d.id) dl
        JOIN _prom_catalog.label l ON l.id = dl.id
        WHERE l.last_seen <= dl.hi
        ORDER BY l.id
        FOR NO KEY UPDATE OF l) c;
    -- metric keys likewise
    SELECT array_agg(c.metric_id ORDER BY c.metric_id, c.pos), array_agg(c.pos ORDER BY c.metric_id, c.pos)
    INTO metrics_due, positions_due
    FROM (
        SELECT p.metric_id, p.pos
        FROM (SELECT d.metric_id, d.pos, _prom_catalog.activity_grid(max(d.last_seen), true) AS hi
              FROM unnest(label_ids, positions, metric_ids, series_last_seen) AS d(id, pos, metric_id, last_seen)
              WHERE d.id <> 0 AND d.last_seen IS NOT NULL
              GROUP BY d.metric_id, d.pos) dp
        JOIN _prom_catalog.label_key_position p ON p.metric_id = dp.metric_id AND p.pos = dp.pos
        WHERE p.last_seen <= dp.hi
        ORDER BY p.metric_id, p.pos
        FOR NO KEY UPDATE OF p) c;

    IF labels_due IS NOT NULL THEN
        WITH recomputed AS (
            SELECT c.id, r.lo, r.hi
            FROM unnest(labels_due) AS c(id)
            CROSS JOIN LATERAL (  -- the label's series, through the GIN index
                SELECT _prom_catalog.activity_grid(min(s.first_seen), false) AS lo,
                       _prom_catalog.activity_grid(max(s.last_seen), true) AS hi
                FROM _prom_catalog.series s
                WHERE s.labels @> ARRAY[c.id]) r),
        changed AS (
            UPDATE _prom_catalog.label l SET first_seen = r.lo, last_seen = r.hi
            FROM recomputed r
            WHERE l.id = r.id AND (l.first_seen, l.last_seen) IS DISTINCT FROM (r.lo, r.hi)
            RETURNING l.key)
        SELECT array_agg(DISTINCT ch.key) INTO shrunk_keys FROM changed ch;
    END IF;

    IF metrics_due IS NOT NULL THEN
        UPDATE _prom_catalog.label_key_position p SET first_seen = r.lo, last_seen = r.hi
        FROM (SELECT c.metric_id, c.pos, r.lo, r.hi
              FROM unnest(metrics_due, positions_due) AS c(metric_id, pos)
              CROSS JOIN LATERAL (  -- the metric's series, through its index
                  SELECT _prom_catalog.activity_grid(min(s.first_seen), false) AS lo,
                         _prom_catalog.activity_grid(max(s.last_seen), true) AS hi
                  FROM _prom_catalog.series s
                  WHERE s.metric_id = c.metric_id AND s.labels[c.pos] <> 0) r) r
        WHERE p.metric_id = r.metric_id AND p.pos = r.pos;
    END IF;

    -- labels of metrics likewise (a deleted series' metric and label)
    WITH due AS (
        SELECT ml.metric_id, ml.key, ml.label_id
        FROM (SELECT d.metric_id, d.id, _prom_catalog.activity_grid(max(d.last_seen), true) AS hi
              FROM unnest(label_ids, metric_ids, series_last_seen) AS d(id, metric_id, last_seen)
              WHERE d.id <> 0 AND d.last_seen IS NOT NULL
              GROUP BY d.metric_id, d.id) dp
        JOIN _prom_catalog.label l ON l.id = dp.id
        JOIN _prom_catalog.metric_label ml ON ml.metric_id = dp.metric_id AND ml.key = l.key AND ml.label_id = dp.id
        WHERE ml.last_seen <= dp.hi
        ORDER BY ml.metric_id, ml.key, ml.label_id
        FOR NO KEY UPDATE OF ml)
    UPDATE _prom_catalog.metric_label ml SET first_seen = r.lo, last_seen = r.hi
    FROM (SELECT d.metric_id, d.key, d.label_id, r.lo, r.hi
          FROM due d
          CROSS JOIN LATERAL (  -- the label's series, through the GIN index, of that metric
              SELECT _prom_catalog.activity_grid(min(s.first_seen), false) AS lo,
                     _prom_catalog.activity_grid(max(s.last_seen), true) AS hi
              FROM _prom_catalog.series s
              WHERE s.labels @> ARRAY[d.label_id] AND s.metric_id = d.metric_id) r) r
    WHERE ml.metric_id = r.metric_id AND ml.key = r.key AND ml.label_id = r.label_id;

    IF shrunk_keys IS NOT NULL THEN
        -- keys: recomputed from their labels (an index range per key), locked in key order
        PERFORM 1 FROM _prom_catalog.label_key k WHERE k.key = ANY (shrunk_keys)
        ORDER BY k.key COLLATE "C" FOR NO KEY UPDATE;
        UPDATE _prom_catalog.label_key k SET first_seen = r.lo, last_seen = r.hi
        FROM (SELECT k2.key, (SELECT min(l.first_seen) FROM _prom_catalog.label l WHERE l.key = k2.key) AS lo,
                     (SELECT max(l.last_seen) FROM _prom_catalog.label l WHERE l.key = k2.key) AS hi
              FROM _prom_catalog.label_key k2 WHERE k2.key = ANY (shrunk_keys)) r
        WHERE k.key = r.key;
    END IF;
END
$$;
COMMENT ON FUNCTION _prom_catalog.narrow_activity_after_gc(int[], int[], int[], timestamptz[]) IS
    'Recomputes the activity bounds of labels, metric keys and keys whose newest activity came from series just deleted';

-- The activity bounds series hold now (series that have none yet are left out), for writers
-- that remember them: a connector whose cache is empty (a restart, a new worker) learns the
-- bounds of the series it resolves in the same call, and then marks only the series whose
-- samples fall outside them instead of every series once.
CREATE OR REPLACE FUNCTION prom_api.get_series_activity(series_ids bigint[])
RETURNS TABLE (series_id bigint, first_seen timestamptz, last_seen timestamptz)
LANGUAGE sql
-- VOLATILE for its fresh snapshot: called in the statement that created the series (the
-- connector's resolution), it sees them and their bounds; a STABLE function would not
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    -- one primary-key probe per id, whatever the planner guesses of the array's size
    SELECT s.id, s.first_seen, s.last_seen
    FROM unnest(series_ids) AS wanted(id)
    CROSS JOIN LATERAL (SELECT s.id, s.first_seen, s.last_seen FROM _prom_catalog.series s
                        WHERE s.id = wanted.id LIMIT 1) s
    WHERE s.first_seen IS NOT NULL AND s.last_seen IS NOT NULL
$$;
COMMENT ON FUNCTION prom_api.get_series_activity(bigint[]) IS
    'Activity bounds [first_seen, last_seen] of the given series that have bounds';
GRANT EXECUTE ON FUNCTION prom_api.get_series_activity(bigint[]) TO prom_writer;
