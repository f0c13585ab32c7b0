-- Roles are cluster-wide: another database of this cluster may already have made them.
-- prom_reader ⊂ prom_writer ⊂ prom_modifier ⊂ prom_admin; prom_maintenance runs maintenance.
IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'prom_reader') THEN
    CREATE ROLE prom_reader NOLOGIN;
END IF;
IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'prom_writer') THEN
    CREATE ROLE prom_writer NOLOGIN;
END IF;
IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'prom_modifier') THEN
    CREATE ROLE prom_modifier NOLOGIN;
END IF;
IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'prom_admin') THEN
    CREATE ROLE prom_admin NOLOGIN;
END IF;
IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'prom_maintenance') THEN
    CREATE ROLE prom_maintenance NOLOGIN;
END IF;
GRANT prom_reader TO prom_writer;
GRANT prom_writer TO prom_modifier;
GRANT prom_modifier TO prom_admin;
GRANT prom_reader TO prom_maintenance;
