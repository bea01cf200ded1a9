"""``hubcensus.toml``: the refresh's settings, overridden by CLI flags.

Example::

    [hub]
    endpoint = "https://huggingface.co"   # else $HF_ENDPOINT; HF_TOKEN only from the environment
    tier = "anonymous"                    # rate-limit tier: anonymous | free | pro
    max_retry_after_s = 300               # longest Retry-After honoured; a longer one fails that request
    max_run_hours = 20                    # the run's deadline: past it, no new request starts

    [listing]                             # the metadata sweep: every model it returns is refreshed
    search = ""
    author = ""
    filters = []
    page_size = 1000

    [files]                               # which models get config.json and README.md fetched
    all = false
    catalog = true                        # catalog-matched repos and their lineage
    top_downloads = 100
    authors = ["google-bert"]
    search = ["bert"]
    concurrency = 8

    [rate_limit]                          # per 5-minute window; defaults from the tier
    api = 500
    resolvers = 3000

    [normalize]
    pages_in_flight = 2                   # listing pages (64 MB each) read, normalized or being written at once

    [retention]
    keep_raw_runs = 7                     # raw runs kept after a successful load (the warehouse keeps all)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hubcensus.errors import HubcensusError

CONFIG_FILE = "hubcensus.toml"
TIERS = ("anonymous", "free", "pro")


class ConfigError(HubcensusError, ValueError):
    """A hubcensus.toml that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class RefreshConfig:
    endpoint: str | None = None
    tier: str = "anonymous"
    listing_search: str | None = None
    listing_author: str | None = None
    listing_filters: tuple[str, ...] = ()
    page_size: int = 1000
    files_all: bool = False
    files_catalog: bool = True
    files_top_downloads: int = 100
    files_authors: tuple[str, ...] = ()
    files_search: tuple[str, ...] = ()
    concurrency: int = 8
    rate_api: int | None = None
    rate_resolvers: int | None = None
    max_retry_after_s: float = 300.0
    max_run_hours: float = 20.0
    pages_in_flight: int = 2  # warehouse.loading.PAGES_IN_FLIGHT: ~140 MB a page in flight (benchmarks/README.md)
    keep_raw_runs: int = 7
    source: str | None = field(default=None, compare=False)

    def with_overrides(self, **values: Any) -> "RefreshConfig":
        """CLI flags win over the file; None means "not given"."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


_KEYS = {
    ("hub", "endpoint"): "endpoint",
    ("hub", "tier"): "tier",
    ("hub", "max_retry_after_s"): "max_retry_after_s",
    ("hub", "max_run_hours"): "max_run_hours",
    ("listing", "search"): "listing_search",
    ("listing", "author"): "listing_author",
    ("listing", "filters"): "listing_filters",
    ("listing", "page_size"): "page_size",
    ("files", "all"): "files_all",
    ("files", "catalog"): "files_catalog",
    ("files", "top_downloads"): "files_top_downloads",
    ("files", "authors"): "files_authors",
    ("files", "search"): "files_search",
    ("files", "concurrency"): "concurrency",
    ("rate_limit", "api"): "rate_api",
    ("rate_limit", "resolvers"): "rate_resolvers",
    ("normalize", "pages_in_flight"): "pages_in_flight",
    ("retention", "keep_raw_runs"): "keep_raw_runs",
}


def load_config(path: Path | None = None) -> RefreshConfig:
    """Read ``path`` (or ./hubcensus.toml when present); defaults when there is none."""
    if path is None:
        path = Path(CONFIG_FILE)
        if not path.exists():
            return RefreshConfig()
    try:
        document = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in table.items():
            name = _KEYS.get((section, key))
            if name is None:
                raise ConfigError(f"{path}: unknown setting [{section}] {key}")
            values[name] = tuple(value) if isinstance(value, list) else value
    config = RefreshConfig(source=str(path), **values)
    if config.tier not in TIERS:
        raise ConfigError(f"{path}: [hub] tier must be one of {', '.join(TIERS)}, not {config.tier!r}")
    for name in ("max_retry_after_s", "max_run_hours"):
        if not isinstance(getattr(config, name), (int, float)) or getattr(config, name) <= 0:
            raise ConfigError(f"{path}: [hub] {name} must be a positive number")
    for section, name in (("normalize", "pages_in_flight"), ("retention", "keep_raw_runs")):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{path}: [{section}] {name} must be a whole number of at least 1")
    if not 1 <= config.page_size <= 1000:
        raise ConfigError(f"{path}: [listing] page_size must be 1..1000 (the Hub's cap)")
    return config
