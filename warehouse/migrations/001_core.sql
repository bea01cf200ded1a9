-- 001: the core tables, loaded from the raw landing by warehouse.loading.load_raw_run (one transaction per run).

CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE schema_version IS 'Applied migrations (warehouse/migrations/NNN_name.sql), one row each, written in the migration''s own transaction.';
COMMENT ON COLUMN schema_version.version IS 'Migration number (the NNN of its file name).';
COMMENT ON COLUMN schema_version.name IS 'Migration name (the file name without number and .sql).';
COMMENT ON COLUMN schema_version.applied_at IS 'When the migration was applied (UTC).';

CREATE TABLE harvest_runs (
    run_id      VARCHAR PRIMARY KEY,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    status      VARCHAR,
    counts      JSON,
    endpoint    VARCHAR,
    scope       VARCHAR,
    watermark   TIMESTAMPTZ
);
COMMENT ON TABLE harvest_runs IS 'One row per harvest run loaded into the warehouse (from raw/<run_id>/run.json plus what loading counted).';
COMMENT ON COLUMN harvest_runs.run_id IS 'Run id: UTC timestamp plus a short random suffix; sorts in time order.';
COMMENT ON COLUMN harvest_runs.started_at IS 'When the harvest started (manifest started_at, UTC).';
COMMENT ON COLUMN harvest_runs.finished_at IS 'When the harvest finished (manifest finished_at, UTC); NULL while running or when it crashed.';
COMMENT ON COLUMN harvest_runs.status IS 'Manifest status: running | complete | failed.';
COMMENT ON COLUMN harvest_runs.counts IS 'Counts per stage as JSON: listing (models, pages), fetches (per status), files (per parse outcome), quarantine (per stage), rows (rows the run yields per table), harvest (the manifest''s counts).';
COMMENT ON COLUMN harvest_runs.endpoint IS 'Hub endpoint harvested (https://huggingface.co or a replay Hub).';
COMMENT ON COLUMN harvest_runs.scope IS 'Harvest scope: all (listing + files) | metadata (listing only).';
COMMENT ON COLUMN harvest_runs.watermark IS 'Incremental cursor: the newest lastModified seen in this run (the manifest''s watermark when it gives one).';

CREATE TABLE models (
    repo_id            VARCHAR PRIMARY KEY,
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
    params_total       BIGINT,
    params_source      VARCHAR CHECK (params_source IN ('safetensors', 'gguf', 'config-estimate')),
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
COMMENT ON TABLE models IS 'One row per Hub model repo, as of the newest run that listed it (public contract for analysts).';
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
COMMENT ON COLUMN models.arch_class IS 'encoder | decoder | encoder-decoder from model_type (warehouse/mappings/arch_classes.csv), else from the architecture class suffix (architecture_patterns.csv); NULL when unknown or not a transformer.';
COMMENT ON COLUMN models.params_total IS 'Parameter count: the Hub''s safetensors total, else the gguf total, else a config-estimate; NULL when none applies.';
COMMENT ON COLUMN models.params_source IS 'Where params_total comes from: safetensors | gguf | config-estimate (formula per architecture: warehouse/normalize/params.py); NULL when unknown.';
COMMENT ON COLUMN models.params_effective IS 'params_total corrected for known Hub miscounts (packed quantized weights: GPTQ/AWQ int32, bitsandbytes 4-bit uint8 counted as the weights they pack); equals params_total otherwise.';
COMMENT ON COLUMN models.params_note IS 'Why params_effective differs from params_total, or how params_total was estimated.';
COMMENT ON COLUMN models.params_by_dtype IS 'The Hub''s safetensors parameter counts per dtype, as JSON ({"BF16": n, "I32": n}).';
COMMENT ON COLUMN models.languages IS 'Languages declared in the card (cardData.language, string or list), in card order.';
COMMENT ON COLUMN models.datasets IS 'Datasets declared in the card (cardData.datasets) and dataset: tags.';
COMMENT ON COLUMN models.base_models IS 'Parent repos of every model_lineage edge of this model (sorted).';
COMMENT ON COLUMN models.tags IS 'The Hub''s tags as listed.';
COMMENT ON COLUMN models.first_seen_run IS 'run_id of the first run that listed the model.';
COMMENT ON COLUMN models.last_seen_run IS 'run_id of the newest run that listed the model (the row reflects that run).';
COMMENT ON COLUMN models.deleted_on IS 'Day the model was found gone from the Hub; NULL while listed (set by the deletion check, reset when listed again).';

CREATE TABLE model_configs (
    repo_id           VARCHAR NOT NULL,
    sha               VARCHAR NOT NULL,
    model_type        VARCHAR,
    architectures     VARCHAR[],
    hidden_size       BIGINT,
    num_layers        BIGINT,
    num_heads         BIGINT,
    num_kv_heads      BIGINT,
    vocab_size        BIGINT,
    context_length    BIGINT,
    intermediate_size BIGINT,
    torch_dtype       VARCHAR,
    quant_method      VARCHAR,
    quant_bits        BIGINT,
    params_estimate   BIGINT,
    params_formula    VARCHAR,
    raw_json          JSON,
    run_id            VARCHAR,
    PRIMARY KEY (repo_id, sha)
);
COMMENT ON TABLE model_configs IS 'Parsed config.json per model version (repo_id, sha); malformed files go to quarantine instead.';
COMMENT ON COLUMN model_configs.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN model_configs.sha IS 'Revision the file was fetched at (the listing''s sha; '''' when unknown).';
COMMENT ON COLUMN model_configs.model_type IS 'config model_type.';
COMMENT ON COLUMN model_configs.architectures IS 'config architectures.';
COMMENT ON COLUMN model_configs.hidden_size IS 'Hidden size (hidden_size | d_model | n_embd | dim; text_config for multimodal configs).';
COMMENT ON COLUMN model_configs.num_layers IS 'Layers (num_hidden_layers | num_layers | n_layer).';
COMMENT ON COLUMN model_configs.num_heads IS 'Attention heads (num_attention_heads | num_heads | n_head).';
COMMENT ON COLUMN model_configs.num_kv_heads IS 'Key/value heads (num_key_value_heads) for grouped-query attention.';
COMMENT ON COLUMN model_configs.vocab_size IS 'Vocabulary size.';
COMMENT ON COLUMN model_configs.context_length IS 'Context length (max_position_embeddings | n_positions | seq_length | n_ctx).';
COMMENT ON COLUMN model_configs.intermediate_size IS 'Feed-forward size (intermediate_size | d_ff | n_inner | ffn_dim).';
COMMENT ON COLUMN model_configs.torch_dtype IS 'torch_dtype the weights were saved in.';
COMMENT ON COLUMN model_configs.quant_method IS 'quantization_config.quant_method (gptq, awq, bitsandbytes, ...), lower-case.';
COMMENT ON COLUMN model_configs.quant_bits IS 'quantization_config bits (4 for load_in_4bit).';
COMMENT ON COLUMN model_configs.params_estimate IS 'Parameter count computed from these dimensions (warehouse/normalize/params.py); NULL when no formula covers the model_type.';
COMMENT ON COLUMN model_configs.params_formula IS 'Formula used for params_estimate: gated_decoder | bert_encoder | gpt2.';
COMMENT ON COLUMN model_configs.raw_json IS 'The whole config.json as JSON (re-serialized: NaN/Infinity as text).';
COMMENT ON COLUMN model_configs.run_id IS 'Run that last loaded this row.';

CREATE TABLE model_cards (
    repo_id      VARCHAR NOT NULL,
    sha          VARCHAR NOT NULL,
    front_matter JSON,
    card_length  BIGINT,
    parse_status VARCHAR NOT NULL CHECK (parse_status IN ('ok', 'no_front_matter', 'empty_front_matter', 'invalid_yaml', 'not_a_mapping', 'undecodable')),
    parse_error  VARCHAR,
    run_id       VARCHAR,
    PRIMARY KEY (repo_id, sha)
);
COMMENT ON TABLE model_cards IS 'README.md (model card) per model version: YAML front matter as JSON and how parsing went.';
COMMENT ON COLUMN model_cards.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN model_cards.sha IS 'Revision the card was fetched at (the listing''s sha; '''' when unknown).';
COMMENT ON COLUMN model_cards.front_matter IS 'The YAML front matter (yaml.safe_load) as JSON; NULL unless parse_status = ok.';
COMMENT ON COLUMN model_cards.card_length IS 'Length of the whole README.md in characters (bytes when it is not UTF-8).';
COMMENT ON COLUMN model_cards.parse_status IS 'ok | no_front_matter | empty_front_matter | invalid_yaml | not_a_mapping | undecodable (the last three are also quarantined).';
COMMENT ON COLUMN model_cards.parse_error IS 'One-line reason when parsing failed.';
COMMENT ON COLUMN model_cards.run_id IS 'Run that last loaded this row.';

CREATE TABLE model_files (
    repo_id VARCHAR NOT NULL,
    path    VARCHAR NOT NULL,
    size    BIGINT,
    run_id  VARCHAR
);
COMMENT ON TABLE model_files IS 'Files of each repo (the listing''s siblings) as of the newest run that listed it; one row per (repo_id, path), kept unique by the loader (no index: it is the biggest table).';
COMMENT ON COLUMN model_files.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN model_files.path IS 'Path in the repo (rfilename).';
COMMENT ON COLUMN model_files.size IS 'Size in bytes when the Hub gave it (listings give it only with blobs); else NULL.';
COMMENT ON COLUMN model_files.run_id IS 'Run that listed the file.';

CREATE TABLE model_lineage (
    child_id  VARCHAR NOT NULL,
    parent_id VARCHAR NOT NULL,
    relation  VARCHAR NOT NULL CHECK (relation IN ('finetune', 'adapter', 'quantized', 'merge', 'base')),
    source    VARCHAR[] NOT NULL,
    note      VARCHAR,
    run_id    VARCHAR,
    PRIMARY KEY (child_id, parent_id)
);
COMMENT ON TABLE model_lineage IS 'Derivation edges child -> parent, each kept once with every source that gave it (as of the child''s newest run).';
COMMENT ON COLUMN model_lineage.child_id IS 'The derived repo (models.repo_id).';
COMMENT ON COLUMN model_lineage.parent_id IS 'The base repo it derives from, as named (may not be in the warehouse; see v_lineage.parent_in_warehouse).';
COMMENT ON COLUMN model_lineage.relation IS 'finetune | adapter | quantized | merge, or base when no source specifies; sources disagreeing: cardData > baseModels > tag.';
COMMENT ON COLUMN model_lineage.source IS 'Evidence: baseModels (expand field), cardData (base_model / base_model_relation, or README front matter), tag (base_model:<relation>:<id>).';
COMMENT ON COLUMN model_lineage.note IS 'Set when the sources disagree on the relation.';
COMMENT ON COLUMN model_lineage.run_id IS 'Run that loaded the edge.';

CREATE TABLE model_stats_history (
    repo_id     VARCHAR NOT NULL,
    observed_on DATE NOT NULL,
    downloads   BIGINT,
    likes       BIGINT,
    run_id      VARCHAR NOT NULL,
    PRIMARY KEY (repo_id, observed_on)
);
COMMENT ON TABLE model_stats_history IS 'Downloads and likes per model per day observed, for trends; the last run of the day wins.';
COMMENT ON COLUMN model_stats_history.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN model_stats_history.observed_on IS 'UTC day the run started.';
COMMENT ON COLUMN model_stats_history.downloads IS 'Downloads (last 30 days) reported that day.';
COMMENT ON COLUMN model_stats_history.likes IS 'Likes reported that day.';
COMMENT ON COLUMN model_stats_history.run_id IS 'Run the figures come from (the day''s latest).';

CREATE TABLE model_versions (
    repo_id        VARCHAR NOT NULL,
    sha            VARCHAR NOT NULL,
    first_seen_run VARCHAR NOT NULL,
    first_seen_at  TIMESTAMPTZ,
    PRIMARY KEY (repo_id, sha)
);
COMMENT ON TABLE model_versions IS 'Every (repo, commit sha) a run has listed, with when it was first seen.';
COMMENT ON COLUMN model_versions.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN model_versions.sha IS 'Commit sha listed.';
COMMENT ON COLUMN model_versions.first_seen_run IS 'Earliest run that listed this sha.';
COMMENT ON COLUMN model_versions.first_seen_at IS 'Start of that run (UTC).';

CREATE TABLE quarantine (
    run_id  VARCHAR NOT NULL,
    repo_id VARCHAR,
    stage   VARCHAR NOT NULL CHECK (stage IN ('listing', 'config', 'card', 'fetch')),
    reason  VARCHAR NOT NULL,
    excerpt VARCHAR
);
COMMENT ON TABLE quarantine IS 'Records that failed to parse, one line each; the run went on without them (a model with a bad card or config still has its models row).';
COMMENT ON COLUMN quarantine.run_id IS 'Run whose raw landing holds the record.';
COMMENT ON COLUMN quarantine.repo_id IS 'Repo concerned, when known.';
COMMENT ON COLUMN quarantine.stage IS 'listing (a models.ndjson line) | config (config.json) | card (README.md) | fetch (file recorded ok but absent).';
COMMENT ON COLUMN quarantine.reason IS 'One-line reason.';
COMMENT ON COLUMN quarantine.excerpt IS 'The first 200 characters of the offending record.';
