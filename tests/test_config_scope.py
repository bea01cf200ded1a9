"""hubcensus.toml and the file scope: which models get their files fetched, and which again."""

from __future__ import annotations

import pytest

from flows.config import ConfigError, RefreshConfig, load_config
from harvesters.scope import FileScope, ListedModel, needs_fetch, select_models

MODELS = [
    {"id": "google-bert/bert-base-uncased", "author": "google-bert", "downloads": 900, "sha": "a1"},
    {"id": "openai-community/gpt2", "author": "openai-community", "downloads": 800, "sha": "b1"},
    {"id": "gpt2", "downloads": 700, "sha": "b1"},
    {"id": "someone/bert-tiny", "author": "someone", "downloads": 5, "sha": "c1"},
    {"id": "else/thing", "author": "else", "downloads": None, "sha": "d1"},
]


def ids(scope: FileScope, models=MODELS) -> list[str]:
    return [m.id for m in select_models(lambda: iter(models), scope)]


def test_scope_selects_by_top_downloads_author_search_and_ids():
    assert ids(FileScope(top_downloads=2)) == ["google-bert/bert-base-uncased", "openai-community/gpt2"]
    assert ids(FileScope(authors=("SOMEONE",))) == ["someone/bert-tiny"]
    assert ids(FileScope(search=("bert",))) == ["google-bert/bert-base-uncased", "someone/bert-tiny"]
    assert ids(FileScope(repo_ids=frozenset({"else/thing"}))) == ["else/thing"]
    assert ids(FileScope(everything=True)) == [m["id"] for m in MODELS]
    assert ids(FileScope()) == [] and FileScope().is_empty


def test_needs_fetch_only_when_new_changed_or_unsettled():
    model = ListedModel("org/m", sha="s2")
    assert needs_fetch(model, "config.json", {})  # new
    assert needs_fetch(model, "config.json", {("org/m", "config.json"): ("s1", "ok")})  # sha changed
    assert not needs_fetch(model, "config.json", {("org/m", "config.json"): ("s2", "ok")})
    assert not needs_fetch(model, "README.md", {("org/m", "README.md"): ("s2", "missing")})  # 404 at this sha
    assert needs_fetch(model, "config.json", {("org/m", "config.json"): ("s2", "error")})
    assert not needs_fetch(model, "config.json", {("org/m", "config.json"): ("s2", "gated")})
    assert needs_fetch(model, "config.json", {("org/m", "config.json"): ("s1", "gated")})


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "hubcensus.toml"
    path.write_text(
        '[hub]\ntier = "free"\n[listing]\nauthor = "google"\npage_size = 50\n'
        '[files]\ntop_downloads = 7\nauthors = ["a", "b"]\n[rate_limit]\napi = 10\n'
    )
    config = load_config(path)
    assert (config.tier, config.listing_author, config.page_size) == ("free", "google", 50)
    assert (config.files_top_downloads, config.files_authors, config.rate_api) == (7, ("a", "b"), 10)
    assert config.with_overrides(files_top_downloads=3, page_size=None).files_top_downloads == 3
    assert config.with_overrides(page_size=None).page_size == 50


@pytest.mark.parametrize(
    "text,message",
    [
        ("[hub]\ntier = 'gold'\n", "tier must be one of"),
        ("[files]\ncolour = 1\n", r"unknown setting \[files\] colour"),
        ("[listing]\npage_size = 5000\n", "page_size must be 1..1000"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_with_the_key(tmp_path, text, message):
    path = tmp_path / "hubcensus.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_no_config_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config() == RefreshConfig()


def test_a_malformed_listing_entry_costs_its_fields_never_the_selection():
    hostile = MODELS + [
        {"id": "o/siblings", "sha": "e1", "siblings": ["config.json", 3, None, {"rfilename": 7}, {"rfilename": "README.md"}]},
        {"id": 42, "downloads": "many"},
        {"id": "o/weird", "author": ["x"], "downloads": "lots", "sha": {"no": 1}},
        "not a model",
        None,
    ]
    assert ids(FileScope(top_downloads=1), hostile) == ["google-bert/bert-base-uncased"]
    assert "o/weird" in ids(FileScope(everything=True), hostile)
    weird = ListedModel.read(hostile[-3])
    assert weird == ListedModel("o/weird", sha=None, author=None, downloads=0, siblings=None)
    assert ListedModel.read(hostile[-5]).siblings == frozenset({"README.md"})
    assert ListedModel.read(hostile[-4]) is None and ListedModel.read("not a model") is None
