-- Settings: typed getters and setters over _ps_catalog.setting.

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

-- Time span of each new partition of prom_data.sample.
CREATE OR REPLACE FUNCTION prom_api.get_default_chunk_interval()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- default here, not as a row: see sql/migrations/301-settings-defaults-in-getters.sql
    SELECT coalesce(_ps_catalog.get_setting('chunk_interval')::interval, interval '1 hour')
$$;
COMMENT ON FUNCTION prom_api.get_default_chunk_interval() IS
    'Time span of each new partition (chunk) of head samples';

CREATE OR REPLACE FUNCTION prom_api.set_default_chunk_interval(chunk_interval interval)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF chunk_interval IS NULL
        OR chunk_interval < interval '1 minute'
        OR extract(month FROM chunk_interval) <> 0 OR extract(year FROM chunk_interval) <> 0 THEN
        RAISE EXCEPTION 'invalid chunk interval %: it must be at least 1 minute and use days, hours, minutes or seconds (months vary in length)',
            coalesce(chunk_interval::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO _ps_catalog.setting (key, value) VALUES ('chunk_interval', chunk_interval::text)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
    RETURN true;
END
$$;
COMMENT ON FUNCTION prom_api.set_default_chunk_interval(interval) IS
    'Sets the time span of partitions created from now on (existing partitions keep theirs)';
