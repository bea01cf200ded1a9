-- 061: model_stats_history and model_versions lose their primary keys. Both grow with the Hub (stats by N
-- rows a night), and a key's ART index cannot be evicted while a load writes: at 2.5M models the two held
-- ~370 MB in one night's load and ~100 MB more each night after (benchmarks/README.md). Their keys stay
-- unique: the loader stages a run's rows and merges them once per run (warehouse/loading.py, merge_history).
-- DuckDB cannot drop a constraint, so each table is rebuilt: new table, rows copied, old dropped, new renamed.

CREATE TABLE model_stats_history_061 (
    repo_id     VARCHAR NOT NULL,
    observed_on DATE NOT NULL,
    downloads   BIGINT,
    likes       BIGINT,
    run_id      VARCHAR NOT NULL
);
INSERT INTO model_stats_history_061 SELECT repo_id, observed_on, downloads, likes, run_id FROM model_stats_history ORDER BY observed_on, repo_id;
DROP TABLE model_stats_history;
ALTER TABLE model_stats_history_061 RENAME TO model_stats_history;
COMMENT ON TABLE model_stats_history IS 'Downloads and likes per model per day observed, for trends; one row per (repo_id, observed_on), kept unique by the loader (no index: it grows by every model each night); the last run of the day wins.';
COMMENT ON COLUMN model_stats_history.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN model_stats_history.observed_on IS 'UTC day the run started.';
COMMENT ON COLUMN model_stats_history.downloads IS 'Downloads (last 30 days) reported that day.';
COMMENT ON COLUMN model_stats_history.likes IS 'Likes reported that day.';
COMMENT ON COLUMN model_stats_history.run_id IS 'Run the figures come from (the day''s latest).';

CREATE TABLE model_versions_061 (
    repo_id        VARCHAR NOT NULL,
    sha            VARCHAR NOT NULL,
    first_seen_run VARCHAR NOT NULL,
    first_seen_at  TIMESTAMPTZ
);
INSERT INTO model_versions_061 SELECT repo_id, sha, first_seen_run, first_seen_at FROM model_versions ORDER BY repo_id, sha;
DROP TABLE model_versions;
ALTER TABLE model_versions_061 RENAME TO model_versions;
COMMENT ON TABLE model_versions IS 'Every (repo, commit sha) a run has listed, with when it was first seen; one row per (repo_id, sha), kept unique by the loader (no index).';
COMMENT ON COLUMN model_versions.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN model_versions.sha IS 'Commit sha listed.';
COMMENT ON COLUMN model_versions.first_seen_run IS 'Earliest run that listed this sha.';
COMMENT ON COLUMN model_versions.first_seen_at IS 'Start of that run (UTC).';
