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


def test_an_index_entry_reads_as_its_listing_entry_does_whatever_its_shape():
    """The file scope reads the listing index (harvesters/listing_index.py): an entry must give the ListedModel
    its listing entry gives, with siblings cut down to MODEL_FILES, for entries of any shape."""
    from harvesters.listing_index import index_entry
    from harvesters.settings import MODEL_FILES

    entries = [
        *MODELS,
        {"id": " padded/id ", "sha": 5, "author": ["x"], "downloads": True, "siblings": [{"rfilename": "README.md"}, {"rfilename": "a.bin"}]},
        {"id": "a/b", "downloads": 2**70, "siblings": ["config.json", {"rfilename": 7}, {"size": 1}, {"rfilename": "config.json", "size": 3}]},
        {"id": "a/c", "downloads": -4, "siblings": {"rfilename": "config.json"}},
        {"id": "a/d", "siblings": [[1], {"rfilename": ["config.json"]}]},
        {"id": "", "cardData": {"base_model": "p/q"}},
        {"id": 12, "tags": ["base_model:finetune:p/r", 3]},
        ["not", "an", "object"],
    ]
    for entry in entries:
        listed, indexed = ListedModel.read(entry), ListedModel.read(index_entry(entry) or {})
        if listed is None:
            assert indexed is None
            continue
        assert (indexed.id, indexed.sha, indexed.author) == (listed.id, listed.sha, listed.author)
        assert indexed.downloads == min(listed.downloads, 2**63 - 1)
        assert indexed.siblings == (None if listed.siblings is None else listed.siblings & set(MODEL_FILES))
    assert index_entry({"id": "", "cardData": {"base_model": "p/q"}})["parents"] == ["p/q"]  # no usable id, still names a parent
    assert index_entry({"id": 12, "tags": ["base_model:finetune:p/r", 3]}) == {"id": None, "parents": ["p/r"]}
