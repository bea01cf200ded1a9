"""What we ask the Hub for, and where."""

from __future__ import annotations

import os
from pathlib import Path

HUB_ENDPOINT = "https://huggingface.co"

# The bundled replay snapshot (recorded Hub data), served by `hubcensus demo`.
DEMO_SNAPSHOT = Path(__file__).resolve().parent / "demo_snapshot"

# One paged listing carries nearly all metadata: never one request per model where the listing serves.
LISTING_EXPAND: tuple[str, ...] = (
    "author",
    "sha",
    "createdAt",
    "lastModified",
    "downloads",
    "downloadsAllTime",
    "likes",
    "pipeline_tag",
    "library_name",
    "tags",
    "gated",
    "private",
    "disabled",
    "cardData",
    "config",
    "safetensors",
    "gguf",
    "siblings",
    "baseModels",
    "transformersInfo",
)

# The Hub caps a listing page at 1,000 models.
LISTING_PAGE_SIZE = 1000

# The repository files normalization reads, fetched per model in scope.
MODEL_FILES: tuple[str, ...] = ("config.json", "README.md")

# Bounded retries for what huggingface_hub does not retry itself (model_info, downloads).
FETCH_ATTEMPTS = 5
FETCH_MAX_WAIT_S = 30.0
FETCH_CONCURRENCY = 8


def default_endpoint() -> str:
    """HF_ENDPOINT when set (huggingface_hub honours it too), else the real Hub."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or HUB_ENDPOINT
