-- Example queries for `hubcensus sql`: the README shows them and tests/test_adhoc_sql.py runs each one.
-- Each starts with a `-- name:` line; the text up to the next one is the query.

-- name: largest models per family
-- The biggest repo of each model_type, by parameter count (corrected for packed quantized weights).
SELECT model_type, repo_id, params, params_source, size_bucket
FROM v_models
WHERE model_type IS NOT NULL AND params IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY model_type ORDER BY params DESC, repo_id) = 1
ORDER BY params DESC
LIMIT 20;

-- name: licenses by year
-- Models created per year and license; "2022 (or before)" gathers the Hub's placeholder date.
SELECT CASE WHEN created_at_is_floor THEN '2022 (or before)' ELSE CAST(year(t.created_at) AS VARCHAR) END AS year,
       coalesce(m.license, '(none stated)') AS license,
       count(*) AS n_models
FROM v_timeline t JOIN models m USING (repo_id)
GROUP BY ALL
ORDER BY year, n_models DESC, license;

-- name: most fine-tuned base models
-- Parents with the most derived repos, by relation, and the downloads of those children.
SELECT parent_id, relation, count(*) AS n_children, CAST(sum(child_downloads) AS BIGINT) AS children_downloads,
       bool_or(parent_in_warehouse) AS parent_in_warehouse
FROM v_lineage
GROUP BY parent_id, relation
ORDER BY n_children DESC, children_downloads DESC NULLS LAST, parent_id
LIMIT 20;

-- name: downloads by architecture class
-- Share of models and downloads per encoder / decoder / encoder-decoder (NULL: not a transformer or unknown).
SELECT coalesce(arch_class, '(unknown)') AS arch_class,
       CAST(sum(n_models) AS BIGINT) AS n_models,
       CAST(sum(downloads) AS BIGINT) AS downloads,
       round(100.0 * sum(downloads) / sum(sum(downloads)) OVER (), 1) AS pct_downloads
FROM v_taxonomy
GROUP BY ALL
ORDER BY downloads DESC NULLS LAST;

-- name: size buckets by pipeline
-- How big the models of each task are, with where the counts come from.
SELECT coalesce(pipeline_tag, '(none)') AS pipeline_tag, size_bucket, count(*) AS n_models,
       list(DISTINCT params_source ORDER BY params_source) AS params_sources
FROM v_sizes
GROUP BY ALL
ORDER BY pipeline_tag, min(params);
