-- 063: models and model_changes lose their primary keys, as the history tables did in 061. A key's ART index
-- cannot be evicted while a load writes, and a night rewrites every listed model (delete + insert), so the
-- models key held ~240 MB of the load's 732 MB cap at 1M models on a second night, and at 2.5M a reload of one
-- run ran out of memory under a 768MB cap and under 1GB (benchmarks/README.md); without it, 768MB holds. model_changes'
-- key grows with every night's changes. Both stay unique: the loader deletes a page's known repos before it
-- inserts them, and records a change only against a row an older run left (warehouse/loading.py, changes.py).
-- DuckDB cannot drop a constraint, so each table is rebuilt: new table, rows copied in key order, old dropped,
-- new renamed, every comment set again.

CREATE TABLE models_063 (
    repo_id            VARCHAR NOT NULL,
    author             VARCHAR,
    sha                VARCHAR,
    created_at         TIMESTAMPTZ,
    last_modified      TIMESTAMPTZ,
    downloads          BIGINT,
    downloads_all_time BIGINT,
    likes              BIGINT,
    pipeline_tag       VARCHAR,
    library_name       VARCHAR,
    license            VARCHAR,
    gated              VARCHAR CHECK (gated IN ('false', 'auto', 'manual')),
    private            BOOLEAN,
    disabled           BOOLEAN,
    model_type         VARCHAR,
    architectures      VARCHAR[],
    arch_class         VARCHAR CHECK (arch_class IN ('encoder', 'decoder', 'encoder-decoder')),
    arch_note          VARCHAR,
    params_total       BIGINT,
    params_source      VARCHAR CHECK (params_source IN ('safetensors', 'gguf', 'config-estimate', 'base-model')),
    params_effective   BIGINT,
    params_note        VARCHAR,
    params_by_dtype    JSON,
    languages          VARCHAR[],
    datasets           VARCHAR[],
    base_models        VARCHAR[],
    tags               VARCHAR[],
    first_seen_run     VARCHAR,
    last_seen_run      VARCHAR,
    deleted_on         DATE
);
INSERT INTO models_063 (repo_id, author, sha, created_at, last_modified, downloads, downloads_all_time, likes, pipeline_tag, library_name, license, gated, private, disabled, model_type, architectures, arch_class, arch_note, params_total, params_source, params_effective, params_note, params_by_dtype, languages, datasets, base_models, tags, first_seen_run, last_seen_run, deleted_on) SELECT repo_id, author, sha, created_at, last_modified, downloads, downloads_all_time, likes, pipeline_tag, library_name, license, gated, private, disabled, model_type, architectures, arch_class, arch_note, params_total, params_source, params_effective, params_note, params_by_dtype, languages, datasets, base_models, tags, first_seen_run, last_seen_run, deleted_on FROM models ORDER BY repo_id;
DROP TABLE models;
ALTER TABLE models_063 RENAME TO models;
COMMENT ON TABLE models IS 'One row per Hub model repo, as of the newest run that listed it (public contract for analysts); kept unique by the loader (no index: every night rewrites it).';
COMMENT ON COLUMN models.repo_id IS 'Repo id: org/name, or a legacy bare name (gpt2).';
COMMENT ON COLUMN models.author IS 'Namespace (user or org) owning the repo; from the listing, else the part of repo_id before /.';
COMMENT ON COLUMN models.sha IS 'Commit sha of the main revision when listed.';
COMMENT ON COLUMN models.created_at IS 'Hub createdAt (UTC). 2022-03-02 23:29:0x is the Hub''s placeholder for every older repo: see v_timeline.created_at_is_floor.';
COMMENT ON COLUMN models.last_modified IS 'Hub lastModified (UTC): the last commit.';
COMMENT ON COLUMN models.downloads IS 'Downloads over the last 30 days, as the Hub reports them.';
COMMENT ON COLUMN models.downloads_all_time IS 'Downloads since creation (expand downloadsAllTime).';
COMMENT ON COLUMN models.likes IS 'Likes.';
COMMENT ON COLUMN models.pipeline_tag IS 'Hub pipeline tag (task), e.g. text-generation.';
COMMENT ON COLUMN models.library_name IS 'Library the repo declares (transformers, diffusers, ...).';
COMMENT ON COLUMN models.license IS 'License id, lower-case as the Hub spells them (apache-2.0, mit, llama3.1, ...), from cardData.license else the license: tag, aliases mapped (warehouse/mappings/license_aliases.csv); other/unknown kept as given; NULL = no license stated.';
COMMENT ON COLUMN models.gated IS 'Access gate: false | auto | manual (a legacy true is read as auto); NULL when the listing did not say.';
COMMENT ON COLUMN models.private IS 'Private repo (only with a token that sees it).';
COMMENT ON COLUMN models.disabled IS 'Repo disabled by the Hub.';
COMMENT ON COLUMN models.model_type IS 'transformers model_type from the listing''s config, else from the fetched config.json.';
COMMENT ON COLUMN models.architectures IS 'config architectures (class names), e.g. [LlamaForCausalLM].';
COMMENT ON COLUMN models.arch_class IS 'encoder | decoder | encoder-decoder: from model_type (warehouse/mappings/arch_classes.csv, generated from transformers'' auto-model mappings), else transformersInfo.auto_model, else config.json is_encoder_decoder, else the architecture class name (architecture_patterns.csv); NULL when unknown (arch_note says why).';
COMMENT ON COLUMN models.arch_note IS 'Which rule decided arch_class (model_type with its rule and transformers version, transformersInfo.auto_model, is_encoder_decoder, architecture name), or why it is unknown.';
COMMENT ON COLUMN models.params_total IS 'Parameter count: the Hub''s safetensors total, else the gguf total, else a config-estimate; NULL when none applies.';
COMMENT ON COLUMN models.params_source IS 'Where params_total comes from: safetensors | gguf | config-estimate (formula per architecture: warehouse/normalize/params.py) | base-model (no count of its own, or an adapter: the count of its one base model, named in params_note); NULL when unknown.';
COMMENT ON COLUMN models.params_effective IS 'params_total corrected for known Hub miscounts (packed quantized weights: GPTQ/AWQ int32, bitsandbytes 4-bit uint8 counted as the weights they pack); equals params_total otherwise.';
COMMENT ON COLUMN models.params_note IS 'Why params_effective differs from params_total, how params_total was estimated, or (base-model) which parent the count comes from and, for an adapter, its own weights.';
COMMENT ON COLUMN models.params_by_dtype IS 'The Hub''s safetensors parameter counts per dtype, as JSON ({"BF16": n, "I32": n}).';
COMMENT ON COLUMN models.languages IS 'Languages declared in the card (cardData.language, string or list), in card order.';
COMMENT ON COLUMN models.datasets IS 'Datasets declared in the card (cardData.datasets) and dataset: tags.';
COMMENT ON COLUMN models.base_models IS 'Parent repos of every model_lineage edge of this model (sorted).';
COMMENT ON COLUMN models.tags IS 'The Hub''s tags as listed.';
COMMENT ON COLUMN models.first_seen_run IS 'run_id of the first run that listed the model.';
COMMENT ON COLUMN models.last_seen_run IS 'run_id of the newest run that listed the model (the row reflects that run).';
COMMENT ON COLUMN models.deleted_on IS 'Day the model was found gone from the Hub; NULL while listed (set by the deletion check, reset when listed again).';

CREATE TABLE model_changes_063 (
    run_id  VARCHAR NOT NULL,
    repo_id VARCHAR NOT NULL,
    change  VARCHAR NOT NULL CHECK (change IN ('new', 'deleted', 'restored', 'sha_changed', 'license_changed',
                                               'params_changed', 'arch_changed', 'gated_changed', 'renamed')),
    field   VARCHAR NOT NULL,
    before  VARCHAR,
    after   VARCHAR
);
INSERT INTO model_changes_063 SELECT run_id, repo_id, change, field, before, after FROM model_changes ORDER BY run_id, repo_id, change, field;
DROP TABLE model_changes;
ALTER TABLE model_changes_063 RENAME TO model_changes;
COMMENT ON TABLE model_changes IS 'One row per change a run found against the row an OLDER run left (a reload, or an older run loaded after a newer one, records nothing; the first run records nothing: there is nothing to compare). rebuild recomputes it run by run. One row per (run_id, repo_id, change, field), kept unique by the loader (no index: it grows every night).';
COMMENT ON COLUMN model_changes.run_id IS 'The run that found the change (harvest_runs.run_id).';
COMMENT ON COLUMN model_changes.repo_id IS 'models.repo_id (for renamed: the new, canonical id).';
COMMENT ON COLUMN model_changes.change IS 'new | deleted | restored (listed again after deleted_on was set) | sha_changed | license_changed | params_changed | arch_changed (model_type or architectures) | gated_changed | renamed (an alias in model_aliases resolves to this repo).';
COMMENT ON COLUMN model_changes.field IS 'The models column that changed: repo_id (new, renamed), deleted_on (deleted, restored), sha, license, params (coalesce(params_effective, params_total)), model_type, architectures (JSON list), gated.';
COMMENT ON COLUMN model_changes.before IS 'The value the older run left, as text (NULL: none); for renamed the old id.';
COMMENT ON COLUMN model_changes.after IS 'The value this run found, as text (NULL: none); for new the repo id, for deleted the day.';
