-- Recording and alerting rules (docs/rules.md): rule groups in Prometheus's rule file format,
-- stored in _prom_catalog.rule_group (sql/migrations/0015-rules.sql) and evaluated here with
-- the PromQL engine; the logic is in extension/promscale/rules/.

-- Stores (or replaces) a rule group given as YAML: a mapping with `rules` (and optionally
-- `name`, `interval`, `limit`), or a rule file holding exactly that one group.
-- The Python of the functions that refuse input: the message it refused with, or NULL.
CREATE OR REPLACE FUNCTION _prom_catalog.put_rule_group_or_refuse(name text, yaml text)
RETURNS text
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
store = GD["promscale"].module(plpy, "promscale.rules.store")
return store.refused(plpy, store.put_rule_group, name or "", yaml or "")
$python$;
COMMENT ON FUNCTION _prom_catalog.put_rule_group_or_refuse(text, text) IS
    'prom_api.put_rule_group''s work: NULL when stored, else the message it refused the group with';

CREATE OR REPLACE FUNCTION _prom_catalog.put_rule_files_or_refuse(files text[], contents text[])
RETURNS text
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
store = GD["promscale"].module(plpy, "promscale.rules.store")
return store.refused(plpy, store.put_rule_files, files or [], contents or [])
$python$;
COMMENT ON FUNCTION _prom_catalog.put_rule_files_or_refuse(text[], text[]) IS
    'prom_api.put_rule_files''s work: NULL when stored, else the message it refused the files with';

CREATE OR REPLACE FUNCTION prom_api.put_rule_group(name text, yaml text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text := _prom_catalog.put_rule_group_or_refuse(name, yaml);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION prom_api.put_rule_group(text, text) IS
    'Stores or replaces a rule group (Prometheus rule format, YAML) evaluated by the connector; invalid rules are refused with promtool''s messages';
GRANT EXECUTE ON FUNCTION prom_api.put_rule_group(text, text) TO prom_modifier;

CREATE OR REPLACE FUNCTION prom_api.delete_rule_group(name text)
RETURNS boolean
LANGUAGE plpython3u
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
return GD["promscale"].module(plpy, "promscale.rules.store").delete_group(plpy, "", name)
$python$;
COMMENT ON FUNCTION prom_api.delete_rule_group(text) IS
    'Deletes a rule group stored with put_rule_group (the series its rules wrote get stale markers); false if there was none';
GRANT EXECUTE ON FUNCTION prom_api.delete_rule_group(text) TO prom_modifier;

-- The connector's --rules-file: every group of these files replaces all groups loaded from
-- files before (groups stored with put_rule_group are left alone).
CREATE OR REPLACE FUNCTION prom_api.put_rule_files(files text[], contents text[])
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text := _prom_catalog.put_rule_files_or_refuse(files, contents);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN (SELECT count(*) FROM _prom_catalog.rule_group WHERE file <> '');
END
$$;
COMMENT ON FUNCTION prom_api.put_rule_files(text[], text[]) IS
    'Replaces the rule groups loaded from rule files with those of these files (path, YAML); all or nothing';
GRANT EXECUTE ON FUNCTION prom_api.put_rule_files(text[], text[]) TO prom_writer;

-- When each group is due: its interval and Prometheus's offset of its evaluations within it.
CREATE OR REPLACE FUNCTION prom_api.rule_group_schedule()
RETURNS TABLE (file text, name text, interval_ms bigint, offset_ns bigint)
LANGUAGE plpython3u
STABLE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
return GD["promscale"].module(plpy, "promscale.rules.store").schedule(plpy)
$python$;
COMMENT ON FUNCTION prom_api.rule_group_schedule() IS
    'Every rule group with its evaluation interval (ms) and evaluation offset within it (ns, as Prometheus places it)';
GRANT EXECUTE ON FUNCTION prom_api.rule_group_schedule() TO prom_reader;

-- One evaluation of a group at ts_ms (its slot, Unix ms): the alerts to send as a JSON array,
-- or the message it refused with (no such group) as {"error": ...}.
CREATE OR REPLACE FUNCTION _prom_catalog.evaluate_rule_group_ms(file text, name text, ts_ms bigint, restore boolean,
                                                                resend_delay_ms bigint, external_labels jsonb,
                                                                external_url text)
RETURNS text
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $python$
import json
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
ev = GD["promscale"].module(plpy, "promscale.rules.evaluate")
store = GD["promscale"].module(plpy, "promscale.rules.store")
labels = json.loads(external_labels or "{}")
if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
    return json.dumps({"error": "external_labels must be a JSON object of strings"})
try:
    return json.dumps(ev.evaluate_group(plpy, GD, file, name, ts_ms, restore, resend_delay_ms, labels,
                                        external_url or ""))
except store.Refused as exc:
    return json.dumps({"error": str(exc)})
$python$;
COMMENT ON FUNCTION _prom_catalog.evaluate_rule_group_ms(text, text, bigint, boolean, bigint, jsonb, text) IS
    'prom_api.evaluate_rule_group''s work, times in ms: the alerts to send, or {"error": message}';

-- One evaluation of a group at "time" (its slot); returns the alerts Alertmanager should be
-- sent now (v2 API objects). restore: the first evaluation by a new evaluator (Prometheus's
-- restoring of the `for` state after a restart).
CREATE OR REPLACE FUNCTION prom_api.evaluate_rule_group(file text, name text, "time" timestamptz,
                                                        restore boolean DEFAULT false,
                                                        resend_delay interval DEFAULT interval '1 minute',
                                                        external_labels jsonb DEFAULT '{}',
                                                        external_url text DEFAULT '')
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb := _prom_catalog.evaluate_rule_group_ms(
        file, name, floor(extract(epoch FROM "time") * 1000)::bigint, restore,
        (extract(epoch FROM resend_delay) * 1000)::bigint, external_labels, external_url)::jsonb;
BEGIN
    IF jsonb_typeof(result) = 'object' THEN
        RAISE EXCEPTION USING MESSAGE = result->>'error', ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION prom_api.evaluate_rule_group(text, text, timestamptz, boolean, interval, jsonb, text) IS
    'Evaluates a rule group at a time: writes recorded series, ALERTS and stale markers, advances alert states; returns the alerts to send to Alertmanager';
GRANT EXECUTE ON FUNCTION prom_api.evaluate_rule_group(
    text, text, timestamptz, boolean, interval, jsonb, text)
    TO prom_writer;

-- For a scheduler without the connector (pg_cron): evaluates every group whose latest slot
-- at "time" it has not evaluated yet. Alerts are not sent (the connector sends them).
CREATE OR REPLACE FUNCTION prom_api.evaluate_rule_groups("time" timestamptz DEFAULT pg_catalog.now())
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g record;
    slot_ns numeric;
    now_ns numeric := floor(extract(epoch FROM "time") * 1000000) * 1000;
    done integer := 0;
BEGIN
    FOR g IN SELECT s.*, (r.state->>'lastEvaluation')::bigint AS last_ms
             FROM prom_api.rule_group_schedule() s
             JOIN _prom_catalog.rule_group r ON r.file = s.file AND r.name = s.name LOOP
        slot_ns := now_ns - mod(now_ns - g.offset_ns, g.interval_ms * 1000000::numeric);
        IF g.last_ms IS NULL OR g.last_ms < floor(slot_ns / 1000000) THEN
            PERFORM prom_api.evaluate_rule_group(g.file, g.name, to_timestamp(floor(slot_ns / 1000000) / 1000.0));
            done := done + 1;
        END IF;
    END LOOP;
    RETURN done;
END
$$;
COMMENT ON FUNCTION prom_api.evaluate_rule_groups(timestamptz) IS
    'Evaluates every rule group due at a time (at its latest evaluation slot), for pg_cron; returns how many it evaluated';
GRANT EXECUTE ON FUNCTION prom_api.evaluate_rule_groups(timestamptz) TO prom_writer;

CREATE OR REPLACE FUNCTION prom_api.rules_json(rule_type text DEFAULT NULL)
RETURNS text
LANGUAGE plpython3u
STABLE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
return GD["promscale"].module(plpy, "promscale.rules.api").rules_json(plpy, rule_type)
$python$;
COMMENT ON FUNCTION prom_api.rules_json(text) IS
    'The /api/v1/rules response body (rule_type: alert, record or NULL for both)';
GRANT EXECUTE ON FUNCTION prom_api.rules_json(text) TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.alerts_json()
RETURNS text
LANGUAGE plpython3u
STABLE
SET search_path = pg_catalog, pg_temp
AS $python$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
return GD["promscale"].module(plpy, "promscale.rules.api").alerts_json(plpy)
$python$;
COMMENT ON FUNCTION prom_api.alerts_json() IS 'The /api/v1/alerts response body: every pending and firing alert';
GRANT EXECUTE ON FUNCTION prom_api.alerts_json() TO prom_reader;

-- the connector (a writer) loads its rule files and evaluates; analysts with prom_modifier
-- manage groups in SQL
