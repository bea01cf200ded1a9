-- 050: what changed between runs, recorded at load time by warehouse/changes.py (set-based, per page, before the
-- page's models replace the stored rows), and v_changes for the digest and `hubcensus changes`.

CREATE TABLE model_changes (
    run_id  VARCHAR NOT NULL,
    repo_id VARCHAR NOT NULL,
    change  VARCHAR NOT NULL CHECK (change IN ('new', 'deleted', 'restored', 'sha_changed', 'license_changed',
                                               'params_changed', 'arch_changed', 'gated_changed', 'renamed')),
    field   VARCHAR NOT NULL,
    before  VARCHAR,
    after   VARCHAR,
    PRIMARY KEY (run_id, repo_id, change, field)
);
COMMENT ON TABLE model_changes IS 'One row per change a run found against the row an OLDER run left (a reload, or an older run loaded after a newer one, records nothing; the first run records nothing: there is nothing to compare). rebuild recomputes it run by run.';
COMMENT ON COLUMN model_changes.run_id IS 'The run that found the change (harvest_runs.run_id).';
COMMENT ON COLUMN model_changes.repo_id IS 'models.repo_id (for renamed: the new, canonical id).';
COMMENT ON COLUMN model_changes.change IS 'new | deleted | restored (listed again after deleted_on was set) | sha_changed | license_changed | params_changed | arch_changed (model_type or architectures) | gated_changed | renamed (an alias in model_aliases resolves to this repo).';
COMMENT ON COLUMN model_changes.field IS 'The models column that changed: repo_id (new, renamed), deleted_on (deleted, restored), sha, license, params (coalesce(params_effective, params_total)), model_type, architectures (JSON list), gated.';
COMMENT ON COLUMN model_changes.before IS 'The value the older run left, as text (NULL: none); for renamed the old id.';
COMMENT ON COLUMN model_changes.after IS 'The value this run found, as text (NULL: none); for new the repo id, for deleted the day.';

CREATE VIEW v_changes AS
SELECT c.run_id,
       coalesce(CAST(timezone('UTC', r.started_at) AS DATE),
                CAST(try_strptime(left(c.run_id, 16), '%Y%m%dT%H%M%SZ') AS DATE)) AS run_date,
       c.repo_id, c.change, c.field, c.before, c.after,
       m.downloads
FROM model_changes c
LEFT JOIN harvest_runs r USING (run_id)
LEFT JOIN models m USING (repo_id);
COMMENT ON VIEW v_changes IS 'model_changes with the date of the run that found each change and the model''s downloads.';
COMMENT ON COLUMN v_changes.run_id IS 'model_changes.run_id.';
COMMENT ON COLUMN v_changes.run_date IS 'UTC day the run started (harvest_runs.started_at, else the run id''s timestamp).';
COMMENT ON COLUMN v_changes.repo_id IS 'model_changes.repo_id.';
COMMENT ON COLUMN v_changes.change IS 'model_changes.change.';
COMMENT ON COLUMN v_changes.field IS 'model_changes.field.';
COMMENT ON COLUMN v_changes.before IS 'model_changes.before.';
COMMENT ON COLUMN v_changes.after IS 'model_changes.after.';
COMMENT ON COLUMN v_changes.downloads IS 'The model''s downloads (last 30 days) as of its newest run (its last known figure when deleted).';
