-- 041: renamed repos. model_aliases records each lineage parent the listing did not return, resolved once
-- through the Hub (model_info of the old id answers 307 to the canonical id). v_lineage folds aliases into
-- their canonical id, so two names of one repo make one family; v_models counts children the same way.

CREATE TABLE model_aliases (
    alias        VARCHAR PRIMARY KEY,
    canonical_id VARCHAR,
    resolved_at  TIMESTAMPTZ NOT NULL,
    run_id       VARCHAR
);
COMMENT ON TABLE model_aliases IS 'Lineage parents missing from the listing, each asked once of the Hub (model_info of the id): a renamed repo redirects to its canonical id.';
COMMENT ON COLUMN model_aliases.alias IS 'The parent id as a card or tag names it.';
COMMENT ON COLUMN model_aliases.canonical_id IS 'The id the Hub answered with: differs from alias for a renamed repo, equals it for a repo outside the listing''s scope; NULL when the Hub does not know the id (404).';
COMMENT ON COLUMN model_aliases.resolved_at IS 'When the Hub was asked (UTC); an alias is never asked again.';
COMMENT ON COLUMN model_aliases.run_id IS 'Run whose raw landing (aliases.ndjson) holds the answer.';

CREATE OR REPLACE VIEW v_lineage AS
WITH folded AS (
    SELECT l.child_id,
           coalesce(a.canonical_id, l.parent_id) AS parent_id,
           l.parent_id AS named_parent_id,
           l.relation, l.source
    FROM model_lineage l
    LEFT JOIN model_aliases a ON a.alias = l.parent_id AND a.canonical_id IS NOT NULL AND a.canonical_id <> a.alias
    WHERE coalesce(a.canonical_id, l.parent_id) <> l.child_id
    QUALIFY row_number() OVER (PARTITION BY l.child_id, coalesce(a.canonical_id, l.parent_id) ORDER BY (a.alias IS NULL) DESC, l.parent_id) = 1
)
SELECT f.child_id, f.parent_id, f.relation, f.source,
       c.downloads AS child_downloads,
       p.repo_id IS NOT NULL AS parent_in_warehouse,
       f.named_parent_id
FROM folded f
LEFT JOIN models c ON c.repo_id = f.child_id
LEFT JOIN models p ON p.repo_id = f.parent_id;
COMMENT ON VIEW v_lineage IS 'Lineage edges with the child''s downloads and whether the parent is a harvested model; a renamed parent is folded into its canonical id (model_aliases), one edge per child and parent.';
COMMENT ON COLUMN v_lineage.child_id IS 'model_lineage.child_id.';
COMMENT ON COLUMN v_lineage.parent_id IS 'model_lineage.parent_id, or its canonical id when it is a renamed repo (model_aliases).';
COMMENT ON COLUMN v_lineage.relation IS 'finetune | adapter | quantized | merge | base.';
COMMENT ON COLUMN v_lineage.source IS 'Evidence list: baseModels, cardData, tag.';
COMMENT ON COLUMN v_lineage.child_downloads IS 'The child''s downloads (last 30 days).';
COMMENT ON COLUMN v_lineage.parent_in_warehouse IS 'True when parent_id is a repo in models.';
COMMENT ON COLUMN v_lineage.named_parent_id IS 'The parent as the card or tag names it (before folding aliases).';

CREATE OR REPLACE VIEW v_models AS
WITH cfg AS (
    SELECT c.*
    FROM model_configs c JOIN models m USING (repo_id)
    QUALIFY row_number() OVER (PARTITION BY c.repo_id ORDER BY (c.sha = coalesce(m.sha, '')) DESC, c.run_id DESC, c.sha) = 1
), card AS (
    SELECT k.*
    FROM model_cards k JOIN models m USING (repo_id)
    QUALIFY row_number() OVER (PARTITION BY k.repo_id ORDER BY (k.sha = coalesce(m.sha, '')) DESC, k.run_id DESC, k.sha) = 1
), children AS (
    SELECT parent_id AS repo_id, count(*) AS n_children FROM v_lineage GROUP BY parent_id
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
COMMENT ON COLUMN v_models.arch_note IS 'As models.arch_note.';
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
COMMENT ON COLUMN v_models.n_children IS 'Lineage edges naming this repo as parent (renamed parents folded into their canonical id, as in v_lineage).';

