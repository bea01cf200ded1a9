"""Normalizers: pure functions, raw frames (or raw documents) in, tidy Polars frames out.

- ``listing``: models.ndjson pages -> models, model_files, model_lineage, model_stats_history, model_versions
- ``configs``: config.json documents -> model_configs (dimensions, quantization, a parameter estimate)
- ``cards``: README.md documents -> model_cards (front matter as JSON, parse status)
- ``mappings``: the mapping tables kept as data in ``warehouse/mappings/*.csv``
"""
