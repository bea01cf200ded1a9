-- 062: catalog_matches loses its primary key. Every reconciliation rewrites the table whole, and it grows with
-- the Hub (every fine-tune named after a catalog model is a candidate): at 2.5M models 1.94M rows, whose ART
-- index (~480 MB) could not be evicted while the reconciliation's transaction wrote them. The pairs stay
-- unique: reconciliation matches each repo once, in one batch, and groups its evidence by (entry, repo)
-- (warehouse/matching.py). DuckDB cannot drop a constraint, so the table is rebuilt.

CREATE TABLE catalog_matches_062 (
    catalog_name VARCHAR NOT NULL,
    repo_id      VARCHAR NOT NULL,
    method       VARCHAR NOT NULL,
    confidence   DOUBLE NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    evidence     VARCHAR[],
    note         VARCHAR,
    confident    BOOLEAN
);
INSERT INTO catalog_matches_062 SELECT catalog_name, repo_id, method, confidence, evidence, note, confident FROM catalog_matches ORDER BY catalog_name, repo_id;
DROP TABLE catalog_matches;
ALTER TABLE catalog_matches_062 RENAME TO catalog_matches;
COMMENT ON TABLE catalog_matches IS 'Candidate pairs (catalog entry, Hub repo), one row per pair with its strongest method (unique by construction, no index: the table grows with the Hub); confidence >= 0.8 means we would bet on it. Scores: warehouse/matching.py.';
COMMENT ON COLUMN catalog_matches.catalog_name IS 'catalog_models.name (as written in the catalog''s Name column).';
COMMENT ON COLUMN catalog_matches.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN catalog_matches.method IS 'Strongest method: curated | name+org | curated_related | name_partial+org | name | lineage | model_type+org | name_partial | model_type | model_type_shared.';
COMMENT ON COLUMN catalog_matches.confidence IS '0..1; >= 0.8 we would bet on it; ambiguous candidates are capped at 0.6 and say so in note.';
COMMENT ON COLUMN catalog_matches.evidence IS 'Every method that proposed this pair.';
COMMENT ON COLUMN catalog_matches.note IS 'Why: the names, org, model_type or base model behind the methods, and rivals when ambiguous.';
COMMENT ON COLUMN catalog_matches.confident IS 'confidence >= warehouse.matching.BET: a match we would bet on; the only matches reports and reconciliation use.';
