-- Retention of the raw landing: which runs' raw folders were pruned (the warehouse keeps their history).
ALTER TABLE harvest_runs ADD COLUMN raw_pruned_at TIMESTAMPTZ;
COMMENT ON COLUMN harvest_runs.raw_pruned_at IS 'When the run''s raw landing (DATA_DIR/raw/<run_id>/) was deleted by `hubcensus prune` or [retention] keep_raw_runs; NULL while it is kept. Its rows stay in the warehouse.';
