-- pg_restore copies the dumped _ps_catalog.setting rows into a database whose install
-- script has run already: a default row made by the install script collides with its
-- dumped copy. Defaults therefore live in the getters; only values a user set are rows.
DELETE FROM _ps_catalog.setting WHERE key = 'chunk_interval' AND value::interval = interval '1 hour';
