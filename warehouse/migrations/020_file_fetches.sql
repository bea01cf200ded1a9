-- 020: the latest settled outcome of each repository file we asked the Hub for, so that the nightly
-- refresh fetches only what changed (a new sha), and never re-asks a file the Hub said is missing at a sha.
CREATE TABLE file_fetches (
    repo_id     VARCHAR NOT NULL,
    path        VARCHAR NOT NULL,
    sha         VARCHAR,
    status      VARCHAR NOT NULL,
    http_status INTEGER,
    reason      VARCHAR,
    bytes       BIGINT,
    run_id      VARCHAR NOT NULL,
    PRIMARY KEY (repo_id, path)
);
COMMENT ON TABLE file_fetches IS 'Latest outcome per repository file fetched from the Hub (one row per repo_id, path); drives incremental refresh.';
COMMENT ON COLUMN file_fetches.repo_id IS 'Model repository id (org/name or a legacy bare name).';
COMMENT ON COLUMN file_fetches.path IS 'File path inside the repository, e.g. config.json or README.md.';
COMMENT ON COLUMN file_fetches.sha IS 'Repository commit the file was asked at (the listing''s sha).';
COMMENT ON COLUMN file_fetches.status IS 'ok | missing (404 at that sha: not asked again until the sha changes) | gated | not_found | error.';
COMMENT ON COLUMN file_fetches.http_status IS 'HTTP status of the last attempt (200, 401, 404, 429, 5xx...), NULL when no answer.';
COMMENT ON COLUMN file_fetches.reason IS 'One-line reason for a non-ok status.';
COMMENT ON COLUMN file_fetches.bytes IS 'Size of the landed file in bytes (0 when not landed).';
COMMENT ON COLUMN file_fetches.run_id IS 'Run that recorded this outcome (harvest_runs.run_id).';
