-- 035: model_cards.parse_status gains 'too_large': a README.md, or its front matter, over the size caps of
-- warehouse/normalize/documents.py (MAX_CARD_BYTES, MAX_FRONT_MATTER_BYTES), quarantined without parsing.
-- DuckDB cannot ALTER a CHECK constraint: the table is rebuilt with its rows and comments (views bind by name).
CREATE TABLE model_cards_035 (
    repo_id      VARCHAR NOT NULL,
    sha          VARCHAR NOT NULL,
    front_matter JSON,
    card_length  BIGINT,
    parse_status VARCHAR NOT NULL CHECK (parse_status IN ('ok', 'no_front_matter', 'empty_front_matter', 'invalid_yaml', 'not_a_mapping', 'undecodable', 'too_large')),
    parse_error  VARCHAR,
    run_id       VARCHAR,
    PRIMARY KEY (repo_id, sha)
);
INSERT INTO model_cards_035 SELECT repo_id, sha, front_matter, card_length, parse_status, parse_error, run_id FROM model_cards;
DROP TABLE model_cards;
ALTER TABLE model_cards_035 RENAME TO model_cards;
COMMENT ON TABLE model_cards IS 'README.md (model card) per model version: YAML front matter as JSON and how parsing went.';
COMMENT ON COLUMN model_cards.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN model_cards.sha IS 'Revision the card was fetched at (the listing''s sha; '''' when unknown).';
COMMENT ON COLUMN model_cards.front_matter IS 'The YAML front matter (yaml.safe_load) as JSON; NULL unless parse_status = ok.';
COMMENT ON COLUMN model_cards.card_length IS 'Length of the whole README.md in characters (bytes when it is not UTF-8 or over the size cap).';
COMMENT ON COLUMN model_cards.parse_status IS 'ok | no_front_matter | empty_front_matter | invalid_yaml | not_a_mapping | undecodable | too_large (the last four and invalid_yaml are also quarantined; too_large: over the card or front matter size cap, not parsed).';
COMMENT ON COLUMN model_cards.parse_error IS 'One-line reason when parsing failed.';
COMMENT ON COLUMN model_cards.run_id IS 'Run that last loaded this row.';
