-- The per-metric views become security barriers (030-metric-views.sql, 326-rollups.sql): a caller's
-- condition that is not leakproof runs only on rows their visibility filter let through. Views already
-- made are replaced by maintenance (an extension script may not replace them: it does not own them).
UPDATE _prom_catalog.metric SET views_stale = true;
DROP FUNCTION IF EXISTS _prom_catalog.metric_view_passthrough(int);  -- the views join the series table themselves
