-- Settings: typed getters and setters over _ps_catalog.setting.

-- Privileges on the tables and schemas this file owns. They are created by the frozen migrations
-- 0002-schemas.sql, 0003-catalog.sql: their grants cannot follow their definition, so they are here
-- (docs/development.md, "Privileges").
GRANT USAGE ON SCHEMA _prom_catalog TO prom_reader, prom_tenant_reader;
GRANT USAGE ON SCHEMA prom_api TO prom_reader, prom_tenant_reader;
GRANT SELECT ON TABLE _ps_catalog.setting TO prom_reader;

-- Value of a setting, NULL when unset.
CREATE OR REPLACE FUNCTION _ps_catalog.get_setting(setting_key text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.value FROM _ps_catalog.setting s WHERE s.key = setting_key
$$;
COMMENT ON FUNCTION _ps_catalog.get_setting(text) IS 'Value of an installation setting, NULL when unset';
GRANT EXECUTE ON FUNCTION _ps_catalog.get_setting(text) TO prom_reader;

-- Interval setting with a default, validated on the way in.
CREATE OR REPLACE FUNCTION _prom_catalog.get_interval_setting(setting_key text, default_value interval)
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(_ps_catalog.get_setting(setting_key)::interval, default_value)
$$;
COMMENT ON FUNCTION _prom_catalog.get_interval_setting(text, interval) IS 'An interval setting, or its default when unset';
GRANT EXECUTE ON FUNCTION _prom_catalog.get_interval_setting(text, interval) TO prom_reader;

-- Stores an interval setting after checking it is a plain positive span (no months).
CREATE OR REPLACE FUNCTION _prom_catalog.set_interval_setting(setting_key text, new_value interval, minimum interval)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF new_value IS NULL OR new_value < minimum
       OR extract(month FROM new_value) <> 0 OR extract(year FROM new_value) <> 0 THEN
        RAISE EXCEPTION 'invalid % %: it must be at least % and use days, hours, minutes or seconds (months vary in length)',
            replace(setting_key, '_', ' '), coalesce(new_value::text, 'NULL'), pg_catalog.justify_interval(minimum)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO _ps_catalog.setting (key, value) VALUES (setting_key, new_value::text)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
END
$$;
COMMENT ON FUNCTION _prom_catalog.set_interval_setting(text, interval, interval) IS 'Validates and stores an interval setting';

-- Stores an integer setting after checking it is at least `minimum`.
CREATE OR REPLACE FUNCTION _prom_catalog.set_int_setting(setting_key text, new_value bigint, minimum bigint)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF new_value IS NULL OR new_value < minimum THEN
        RAISE EXCEPTION 'invalid % %: it must be at least %', replace(setting_key, '_', ' '),
            coalesce(new_value::text, 'NULL'), minimum
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO _ps_catalog.setting (key, value) VALUES (setting_key, new_value::text)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
END
$$;
COMMENT ON FUNCTION _prom_catalog.set_int_setting(text, bigint, bigint) IS 'Validates and stores an integer setting';

-- Time span of each new partition of prom_data.sample.
CREATE OR REPLACE FUNCTION prom_api.get_default_chunk_interval()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- default here, not as a row: see sql/migrations/0008-settings-defaults-in-getters.sql
    -- short: maintenance flushes a partition into per-series rows soon after it closes, so the
    -- head, read at ~3 us per sample, holds minutes of data (docs/performance.md, "Head partitions")
    SELECT _prom_catalog.get_interval_setting('chunk_interval', interval '15 minutes')
$$;
COMMENT ON FUNCTION prom_api.get_default_chunk_interval() IS
    'Time span of each new partition (chunk) of head samples';
GRANT EXECUTE ON FUNCTION prom_api.get_default_chunk_interval() TO prom_reader;

CREATE OR REPLACE FUNCTION prom_api.set_default_chunk_interval(chunk_interval interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER  -- callers need no rights on the settings table; EXECUTE is granted to admins only
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _prom_catalog.set_interval_setting('chunk_interval', chunk_interval, interval '1 minute');
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_default_chunk_interval(interval) IS
    'Sets the time span of partitions created from now on (existing partitions keep theirs)';
GRANT EXECUTE ON FUNCTION prom_api.set_default_chunk_interval(interval) TO prom_admin;
