-- 010: the curated transformer catalog, its matches to Hub repos, the field-by-field reconciliation and the gaps.
-- All four tables are rebuilt whole by warehouse.reconcile.reconcile() inside the caller's transaction.

CREATE TABLE catalog_models (
    name             VARCHAR PRIMARY KEY,
    family           VARCHAR,
    architecture     VARCHAR,
    arch_class       VARCHAR CHECK (arch_class IN ('encoder', 'decoder', 'encoder-decoder')),
    arch_note        VARCHAR,
    pretraining_task VARCHAR,
    fine_tuning_task VARCHAR,
    extension        VARCHAR,
    application      VARCHAR,
    date             DATE,
    date_precision   VARCHAR CHECK (date_precision IN ('month', 'year')),
    date_text        VARCHAR,
    params_text      VARCHAR,
    params_min       BIGINT,
    params_max       BIGINT,
    params_sizes     BIGINT[],
    params_kind      VARCHAR CHECK (params_kind IN ('sizes', 'range', 'open', 'unknown')),
    params_note      VARCHAR,
    corpus           VARCHAR,
    license          VARCHAR,
    license_id       VARCHAR,
    license_class    VARCHAR,
    lab              VARCHAR,
    link             VARCHAR,
    notes            VARCHAR,
    source           VARCHAR,
    catalog_file     VARCHAR,
    row_number       INTEGER
);
COMMENT ON TABLE catalog_models IS 'The transformer catalog (Amatriain 2023, warehouse/catalog/ plus any --catalog files layered on top), one row per entry, with parsed fields.';
COMMENT ON COLUMN catalog_models.name IS 'Name as written in the catalog''s Name column (unique, case-insensitively).';
COMMENT ON COLUMN catalog_models.family IS 'Family as written.';
COMMENT ON COLUMN catalog_models.architecture IS 'Pretraining Architecture as written (free text in the source).';
COMMENT ON COLUMN catalog_models.arch_class IS 'Architecture parsed to encoder | decoder | encoder-decoder; NULL when the catalog names no single class (see arch_note).';
COMMENT ON COLUMN catalog_models.arch_note IS 'Why arch_class is NULL or how the free text was read (vocabulary.yaml architecture_aliases).';
COMMENT ON COLUMN catalog_models.pretraining_task IS 'Pretraining Task as written.';
COMMENT ON COLUMN catalog_models.fine_tuning_task IS 'Fine-tuning Task as written (instruction-tuned entries).';
COMMENT ON COLUMN catalog_models.extension IS 'Extension as written.';
COMMENT ON COLUMN catalog_models.application IS 'Application as written.';
COMMENT ON COLUMN catalog_models.date IS 'Date of first known publication: MM/YYYY parsed to the first of that month (YYYY alone: 1 January, date_precision year).';
COMMENT ON COLUMN catalog_models.date_precision IS 'month or year: how much of date the catalog gave.';
COMMENT ON COLUMN catalog_models.date_text IS 'Date as written.';
COMMENT ON COLUMN catalog_models.params_text IS 'Num. Params as written (e.g. "Base = 110M, Large = 340M").';
COMMENT ON COLUMN catalog_models.params_min IS 'Smallest size in parameters read from params_text; NULL when unknown or only an upper bound is given.';
COMMENT ON COLUMN catalog_models.params_max IS 'Largest size in parameters read from params_text; NULL when unknown.';
COMMENT ON COLUMN catalog_models.params_sizes IS 'Every size listed in params_text, in parameters, ascending (empty when none).';
COMMENT ON COLUMN catalog_models.params_kind IS 'sizes (discrete listed sizes) | range (X to Y) | open (upper bound only) | unknown.';
COMMENT ON COLUMN catalog_models.params_note IS 'How params_text was read when not plainly (typo fixed, non-numeric text, source error).';
COMMENT ON COLUMN catalog_models.corpus IS 'Corpus as written.';
COMMENT ON COLUMN catalog_models.license IS 'License as written (e.g. "Open, Apache-2.0", "Limited, non-commercial").';
COMMENT ON COLUMN catalog_models.license_id IS 'Hub-style license id found in license (apache-2.0, mit, ...); NULL when the text names none.';
COMMENT ON COLUMN catalog_models.license_class IS 'open | open-code (only the code is open) | limited | closed | unknown, from the license text.';
COMMENT ON COLUMN catalog_models.lab IS 'Lab as written.';
COMMENT ON COLUMN catalog_models.link IS 'Link as written.';
COMMENT ON COLUMN catalog_models.notes IS 'Notes as written (stray source bullets).';
COMMENT ON COLUMN catalog_models.source IS 'Where the entry came from (source commit and anchor).';
COMMENT ON COLUMN catalog_models.catalog_file IS 'The catalog file the row was loaded from (shipped file name, or the path of a --catalog file).';
COMMENT ON COLUMN catalog_models.row_number IS 'Row number in catalog_file (spreadsheet numbering: header = row 1).';

CREATE TABLE catalog_matches (
    catalog_name VARCHAR NOT NULL,
    repo_id      VARCHAR NOT NULL,
    method       VARCHAR NOT NULL,
    confidence   DOUBLE NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    evidence     VARCHAR[],
    note         VARCHAR,
    PRIMARY KEY (catalog_name, repo_id)
);
COMMENT ON TABLE catalog_matches IS 'Candidate pairs (catalog entry, Hub repo), one row per pair with its strongest method; confidence >= 0.8 means we would bet on it. Scores: warehouse/matching.py.';
COMMENT ON COLUMN catalog_matches.catalog_name IS 'catalog_models.name (as written in the catalog''s Name column).';
COMMENT ON COLUMN catalog_matches.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN catalog_matches.method IS 'Strongest method: curated | name+org | curated_related | name_partial+org | name | lineage | model_type+org | name_partial | model_type | model_type_shared.';
COMMENT ON COLUMN catalog_matches.confidence IS '0..1; >= 0.8 we would bet on it; ambiguous candidates are capped at 0.6 and say so in note.';
COMMENT ON COLUMN catalog_matches.evidence IS 'Every method that proposed this pair.';
COMMENT ON COLUMN catalog_matches.note IS 'Why: the names, org, model_type or base model behind the methods, and rivals when ambiguous.';

CREATE TABLE reconciliation (
    catalog_name  VARCHAR NOT NULL,
    repo_id       VARCHAR NOT NULL,
    field         VARCHAR NOT NULL CHECK (field IN ('params', 'arch_class', 'license', 'date')),
    catalog_value VARCHAR,
    hub_value     VARCHAR,
    status        VARCHAR NOT NULL CHECK (status IN ('agree', 'conflict', 'missing_on_hub', 'missing_in_catalog')),
    note          VARCHAR,
    PRIMARY KEY (catalog_name, repo_id, field)
);
COMMENT ON TABLE reconciliation IS 'Catalog entry vs matched Hub repo (matches with confidence >= 0.8 only), field by field.';
COMMENT ON COLUMN reconciliation.catalog_name IS 'catalog_models.name.';
COMMENT ON COLUMN reconciliation.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN reconciliation.field IS 'params | arch_class | license | date.';
COMMENT ON COLUMN reconciliation.catalog_value IS 'The catalog''s value as text (params as written, arch_class, license as written, date YYYY-MM).';
COMMENT ON COLUMN reconciliation.hub_value IS 'The Hub''s value as text (params_effective else params_total, arch_class, license id, created_at date).';
COMMENT ON COLUMN reconciliation.status IS 'agree | conflict | missing_on_hub | missing_in_catalog (also used when the catalog''s value cannot be compared: see note).';
COMMENT ON COLUMN reconciliation.note IS 'The rule applied: tolerance and deviation for params, which came first for dates, license classes when no id is comparable.';

CREATE TABLE catalog_gaps (
    gap_kind          VARCHAR NOT NULL CHECK (gap_kind IN ('model_type', 'base_model', 'library')),
    gap_key           VARCHAR NOT NULL,
    n_models          BIGINT NOT NULL,
    downloads         BIGINT,
    newest_created_at TIMESTAMPTZ,
    rank              INTEGER NOT NULL,
    reason            VARCHAR NOT NULL,
    sample_repos      VARCHAR[],
    PRIMARY KEY (gap_kind, gap_key)
);
COMMENT ON TABLE catalog_gaps IS 'Hub families the catalog lacks (no repo of theirs matched with confidence >= 0.8), ranked by downloads: candidates to add to the catalog.';
COMMENT ON COLUMN catalog_gaps.gap_kind IS 'model_type (config model_type), base_model (a parent repo with derivatives), or library (repos with no model_type, grouped by library_name).';
COMMENT ON COLUMN catalog_gaps.gap_key IS 'The model_type, base model repo id, or library_name.';
COMMENT ON COLUMN catalog_gaps.n_models IS 'Hub repos in the group.';
COMMENT ON COLUMN catalog_gaps.downloads IS 'Sum of the group''s downloads (last 30 days, as the Hub reports).';
COMMENT ON COLUMN catalog_gaps.newest_created_at IS 'Newest created_at in the group (2022-03-02 means "on or before": the Hub''s placeholder for older repos).';
COMMENT ON COLUMN catalog_gaps.rank IS '1 = most downloaded gap.';
COMMENT ON COLUMN catalog_gaps.reason IS 'Why it is a gap, e.g. no catalog entry claims the model_type, or the entry that does predates these repos.';
COMMENT ON COLUMN catalog_gaps.sample_repos IS 'Up to 5 of the group''s most downloaded repos.';
