-- Rollup rows as one compressed block (docs/rollups.md, extension/promscale/rollup/block.py):
-- every column of a row's windows predicted from the others and compressed together, ~half the
-- bytes of the column-per-aggregate rows and one decoder call per row. Rows written before keep
-- their columns and stay readable (readers and the views take either form; maintenance rewrites
-- a row as a block when it merges new windows into it): no rebuild is needed.
ALTER TABLE prom_data.rollup ADD COLUMN block bytea;
-- kept in the row (a 1 h row is ~4 kB): a read fetches no TOAST; already compressed, so
-- PostgreSQL's own compression would find nothing to gain
ALTER TABLE prom_data.rollup ALTER COLUMN block SET STORAGE MAIN;
ALTER TABLE prom_data.rollup
    ALTER COLUMN times DROP NOT NULL, ALTER COLUMN first_times DROP NOT NULL, ALTER COLUMN last_times DROP NOT NULL,
    ALTER COLUMN counts DROP NOT NULL, ALTER COLUMN sums DROP NOT NULL, ALTER COLUMN mins DROP NOT NULL,
    ALTER COLUMN maxs DROP NOT NULL, ALTER COLUMN firsts DROP NOT NULL, ALTER COLUMN lasts DROP NOT NULL,
    ALTER COLUMN increases DROP NOT NULL;
ALTER TABLE prom_data.rollup ADD CONSTRAINT rollup_block_or_columns CHECK (
    (block IS NOT NULL AND times IS NULL) OR
    (block IS NULL AND times IS NOT NULL AND first_times IS NOT NULL AND last_times IS NOT NULL
     AND counts IS NOT NULL AND sums IS NOT NULL AND mins IS NOT NULL AND maxs IS NOT NULL
     AND firsts IS NOT NULL AND lasts IS NOT NULL AND increases IS NOT NULL));
COMMENT ON COLUMN prom_data.rollup.block IS
    'The row''s windows, every aggregate in one compressed block (rollup/block.py); NULL in rows written '
    'before this migration, which hold one column per aggregate';
