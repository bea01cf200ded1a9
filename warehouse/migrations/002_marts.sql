-- 002: the marts, views over the core tables for the reports and for analysts.
-- Except v_models (every row, deleted ones too), the marts show models still listed (deleted_on IS NULL).

CREATE VIEW v_models AS
WITH cfg AS (
    SELECT c.*
    FROM model_configs c JOIN models m USING (repo_id)
    QUALIFY row_number() OVER (PARTITION BY c.repo_id ORDER BY (c.sha = coalesce(m.sha, '')) DESC, c.run_id DESC, c.sha) = 1
), card AS (
    SELECT k.*
    FROM model_cards k JOIN models m USING (repo_id)
    QUALIFY row_number() OVER (PARTITION BY k.repo_id ORDER BY (k.sha = coalesce(m.sha, '')) DESC, k.run_id DESC, k.sha) = 1
), children AS (
    SELECT parent_id AS repo_id, count(*) AS n_children FROM model_lineage GROUP BY parent_id
)
SELECT
    m.*,
    cfg.hidden_size, cfg.num_layers, cfg.num_heads, cfg.num_kv_heads, cfg.vocab_size, cfg.context_length,
    cfg.intermediate_size, cfg.torch_dtype, cfg.quant_method, cfg.quant_bits,
    card.parse_status AS card_parse_status,
    card.card_length,
    coalesce(m.params_effective, m.params_total) AS params,
    CASE
        WHEN coalesce(m.params_effective, m.params_total) IS NULL THEN NULL
        WHEN coalesce(m.params_effective, m.params_total) < 100000000 THEN '<100M'
        WHEN coalesce(m.params_effective, m.params_total) < 1000000000 THEN '100M-1B'
        WHEN coalesce(m.params_effective, m.params_total) < 10000000000 THEN '1-10B'
        WHEN coalesce(m.params_effective, m.params_total) < 100000000000 THEN '10-100B'
        ELSE '>100B'
    END AS size_bucket,
    coalesce(children.n_children, 0) AS n_children
FROM models m
LEFT JOIN cfg USING (repo_id)
LEFT JOIN card USING (repo_id)
LEFT JOIN children USING (repo_id);
COMMENT ON VIEW v_models IS 'Wide mart, one row per model: models + config dimensions + card parse status + size bucket + number of derived repos.';
COMMENT ON COLUMN v_models.repo_id IS 'As models.repo_id.';
COMMENT ON COLUMN v_models.author IS 'As models.author.';
COMMENT ON COLUMN v_models.sha IS 'As models.sha.';
COMMENT ON COLUMN v_models.created_at IS 'As models.created_at.';
COMMENT ON COLUMN v_models.last_modified IS 'As models.last_modified.';
COMMENT ON COLUMN v_models.downloads IS 'As models.downloads.';
COMMENT ON COLUMN v_models.downloads_all_time IS 'As models.downloads_all_time.';
COMMENT ON COLUMN v_models.likes IS 'As models.likes.';
COMMENT ON COLUMN v_models.pipeline_tag IS 'As models.pipeline_tag.';
COMMENT ON COLUMN v_models.library_name IS 'As models.library_name.';
COMMENT ON COLUMN v_models.license IS 'As models.license.';
COMMENT ON COLUMN v_models.gated IS 'As models.gated.';
COMMENT ON COLUMN v_models.private IS 'As models.private.';
COMMENT ON COLUMN v_models.disabled IS 'As models.disabled.';
COMMENT ON COLUMN v_models.model_type IS 'As models.model_type.';
COMMENT ON COLUMN v_models.architectures IS 'As models.architectures.';
COMMENT ON COLUMN v_models.arch_class IS 'As models.arch_class.';
COMMENT ON COLUMN v_models.params_total IS 'As models.params_total.';
COMMENT ON COLUMN v_models.params_source IS 'As models.params_source.';
COMMENT ON COLUMN v_models.params_effective IS 'As models.params_effective.';
COMMENT ON COLUMN v_models.params_note IS 'As models.params_note.';
COMMENT ON COLUMN v_models.params_by_dtype IS 'As models.params_by_dtype.';
COMMENT ON COLUMN v_models.languages IS 'As models.languages.';
COMMENT ON COLUMN v_models.datasets IS 'As models.datasets.';
COMMENT ON COLUMN v_models.base_models IS 'As models.base_models.';
COMMENT ON COLUMN v_models.tags IS 'As models.tags.';
COMMENT ON COLUMN v_models.first_seen_run IS 'As models.first_seen_run.';
COMMENT ON COLUMN v_models.last_seen_run IS 'As models.last_seen_run.';
COMMENT ON COLUMN v_models.deleted_on IS 'As models.deleted_on.';
COMMENT ON COLUMN v_models.hidden_size IS 'From model_configs (the row at the model''s sha, else the newest).';
COMMENT ON COLUMN v_models.num_layers IS 'From model_configs.';
COMMENT ON COLUMN v_models.num_heads IS 'From model_configs.';
COMMENT ON COLUMN v_models.num_kv_heads IS 'From model_configs.';
COMMENT ON COLUMN v_models.vocab_size IS 'From model_configs.';
COMMENT ON COLUMN v_models.context_length IS 'From model_configs.';
COMMENT ON COLUMN v_models.intermediate_size IS 'From model_configs.';
COMMENT ON COLUMN v_models.torch_dtype IS 'From model_configs.';
COMMENT ON COLUMN v_models.quant_method IS 'From model_configs.';
COMMENT ON COLUMN v_models.quant_bits IS 'From model_configs.';
COMMENT ON COLUMN v_models.card_parse_status IS 'model_cards.parse_status; NULL when no README.md was fetched.';
COMMENT ON COLUMN v_models.card_length IS 'model_cards.card_length.';
COMMENT ON COLUMN v_models.params IS 'params_effective, else params_total.';
COMMENT ON COLUMN v_models.size_bucket IS '<100M | 100M-1B | 1-10B | 10-100B | >100B from params; NULL when unknown.';
COMMENT ON COLUMN v_models.n_children IS 'Lineage edges naming this repo as parent.';

CREATE VIEW v_taxonomy AS
SELECT arch_class, pipeline_tag, model_type, library_name,
       count(*) AS n_models, CAST(sum(downloads) AS BIGINT) AS downloads, CAST(sum(likes) AS BIGINT) AS likes
FROM models
WHERE deleted_on IS NULL
GROUP BY ALL;
COMMENT ON VIEW v_taxonomy IS 'Models counted by arch_class x pipeline_tag x model_type x library_name (NULL is its own group).';
COMMENT ON COLUMN v_taxonomy.arch_class IS 'models.arch_class.';
COMMENT ON COLUMN v_taxonomy.pipeline_tag IS 'models.pipeline_tag.';
COMMENT ON COLUMN v_taxonomy.model_type IS 'models.model_type.';
COMMENT ON COLUMN v_taxonomy.library_name IS 'models.library_name.';
COMMENT ON COLUMN v_taxonomy.n_models IS 'Models in the group.';
COMMENT ON COLUMN v_taxonomy.downloads IS 'Sum of downloads (last 30 days).';
COMMENT ON COLUMN v_taxonomy.likes IS 'Sum of likes.';

CREATE VIEW v_sizes AS
SELECT repo_id, model_type, arch_class, pipeline_tag, created_at, params, params_source, size_bucket, downloads
FROM v_models
WHERE deleted_on IS NULL AND params IS NOT NULL;
COMMENT ON VIEW v_sizes IS 'Models with a known parameter count, one row each.';
COMMENT ON COLUMN v_sizes.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN v_sizes.model_type IS 'models.model_type.';
COMMENT ON COLUMN v_sizes.arch_class IS 'models.arch_class.';
COMMENT ON COLUMN v_sizes.pipeline_tag IS 'models.pipeline_tag.';
COMMENT ON COLUMN v_sizes.created_at IS 'models.created_at.';
COMMENT ON COLUMN v_sizes.params IS 'params_effective, else params_total.';
COMMENT ON COLUMN v_sizes.params_source IS 'models.params_source.';
COMMENT ON COLUMN v_sizes.size_bucket IS '<100M | 100M-1B | 1-10B | 10-100B | >100B.';
COMMENT ON COLUMN v_sizes.downloads IS 'models.downloads.';

CREATE VIEW v_timeline AS
SELECT repo_id, created_at,
       CAST(date_trunc('month', created_at AT TIME ZONE 'UTC') AS DATE) AS created_month,
       model_type, arch_class,
       created_at < TIMESTAMPTZ '2022-03-02 23:30:00+00' AS created_at_is_floor
FROM models
WHERE deleted_on IS NULL AND created_at IS NOT NULL;
COMMENT ON VIEW v_timeline IS 'Models by creation date. The Hub gives 2022-03-02T23:29:0xZ to every repo older than that: those rows have created_at_is_floor.';
COMMENT ON COLUMN v_timeline.repo_id IS 'models.repo_id.';
COMMENT ON COLUMN v_timeline.created_at IS 'models.created_at (UTC).';
COMMENT ON COLUMN v_timeline.created_month IS 'First day of created_at''s month (UTC).';
COMMENT ON COLUMN v_timeline.model_type IS 'models.model_type.';
COMMENT ON COLUMN v_timeline.arch_class IS 'models.arch_class.';
COMMENT ON COLUMN v_timeline.created_at_is_floor IS 'True when created_at is the Hub''s placeholder: the repo was created on or before that date, not on it.';

CREATE VIEW v_lineage AS
SELECT l.child_id, l.parent_id, l.relation, l.source,
       c.downloads AS child_downloads,
       p.repo_id IS NOT NULL AS parent_in_warehouse
FROM model_lineage l
LEFT JOIN models c ON c.repo_id = l.child_id
LEFT JOIN models p ON p.repo_id = l.parent_id;
COMMENT ON VIEW v_lineage IS 'Lineage edges with the child''s downloads and whether the parent is a harvested model.';
COMMENT ON COLUMN v_lineage.child_id IS 'model_lineage.child_id.';
COMMENT ON COLUMN v_lineage.parent_id IS 'model_lineage.parent_id.';
COMMENT ON COLUMN v_lineage.relation IS 'finetune | adapter | quantized | merge | base.';
COMMENT ON COLUMN v_lineage.source IS 'Evidence list: baseModels, cardData, tag.';
COMMENT ON COLUMN v_lineage.child_downloads IS 'The child''s downloads (last 30 days).';
COMMENT ON COLUMN v_lineage.parent_in_warehouse IS 'True when parent_id is a repo in models.';
