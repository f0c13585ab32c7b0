-- Recording and alerting rules (docs/rules.md): the rule groups, loaded from rule files by
-- the connector (file = the file's path) or stored in SQL (file = ''), and their evaluation
-- state: each rule's health, the series it wrote last time (for stale markers) and its
-- alerts (pending, firing, resolved), kept in the database so that whichever connector
-- evaluates next carries on where the last one stopped.
CREATE TABLE _prom_catalog.rule_group (
    file text NOT NULL,
    name text NOT NULL,
    yaml text NOT NULL,
    spec jsonb NOT NULL,
    state jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (file, name)
);
COMMENT ON TABLE _prom_catalog.rule_group IS
    'Rule groups (Prometheus rule file format) with their evaluation state; file is '''' for groups stored in SQL';
GRANT SELECT ON TABLE _prom_catalog.rule_group TO prom_reader;
PERFORM pg_catalog.pg_extension_config_dump('_prom_catalog.rule_group', '');
