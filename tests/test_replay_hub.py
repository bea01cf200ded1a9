"""The replay Hub, driven by the real huggingface_hub client over HTTP (never mocked)."""

from __future__ import annotations

import http.client
import json
import math
import time
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from harvesters.replay import FaultPlan, FaultRule
from harvesters.replay.listing import DEFAULT_LISTING_FIELDS

DEMO = Path(__file__).resolve().parent.parent / "harvesters" / "demo_snapshot"
GATED = "meta-llama/Llama-3.1-8B-Instruct"
TOKEN = "hf_replay_accept_token"


def snapshot_models(root: Path = DEMO) -> dict[str, dict]:
    models = {}
    for path in sorted((root / "api" / "models").rglob("*.json")):
        body = json.loads(path.read_bytes())
        models[body["id"]] = body
    return models


def listing_calls(hub) -> list[dict]:
    return [r for r in hub.requests if r["path"] == "/api/models"]


# -- the bundled snapshot -------------------------------------------------------------------------
def test_demo_snapshot_is_self_contained_and_curated():
    models = snapshot_models()
    assert len(models) == 36
    for path in (DEMO / "api" / "models").rglob("*.json"):  # the file name is the id
        assert json.loads(path.read_bytes())["id"] == path.relative_to(DEMO / "api" / "models").as_posix()[:-5]
    assert not [p for p in DEMO.rglob("*") if p.is_symlink()]
    assert not (DEMO / "files" / "_card_samples").exists()
    gated = {repo_id for repo_id, body in models.items() if body.get("gated") not in (None, False)}
    assert gated == {GATED, "meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama/Meta-Llama-3-70B-Instruct"}
    assert {models[r]["gated"] for r in gated} == {"manual"}
    sources = (DEMO / "SOURCES.md").read_text()
    for path in DEMO.rglob("*"):
        if path.is_file() and path.name != "SOURCES.md":
            assert f"`{path.relative_to(DEMO).as_posix()}`" in sources


# -- listing --------------------------------------------------------------------------------------
def test_list_models_pages_through_every_model_once_with_only_the_asked_fields(replay_hub):
    hub = replay_hub(page_size=5)
    models = list(HfApi(endpoint=hub.url).list_models(expand=["downloads", "gated"]))
    assert sorted(m.id for m in models) == sorted(snapshot_models())
    assert len(listing_calls(hub)) == math.ceil(36 / 5)
    by_id = {m.id: m for m in models}
    assert by_id["google-bert/bert-base-uncased"].downloads == 72376843
    assert by_id[GATED].gated == "manual"
    assert all(m.tags is None and m.sha is None and m.likes is None for m in models)
    # the raw items: only the asked fields plus _id/id, absent ones omitted
    page = httpx2.get(f"{hub.url}/api/models", params=[("expand", "downloads"), ("expand", "gated")]).json()
    assert all(set(item) <= {"_id", "id", "downloads", "gated"} for item in page)
    assert set(page[0]) == {"_id", "id", "downloads", "gated"}


def test_default_listing_entry_is_the_hub_subset(replay_hub):
    hub = replay_hub()
    items = httpx2.get(f"{hub.url}/api/models", params={"search": "google-bert/"}).json()
    assert [item["id"] for item in items] == ["google-bert/bert-base-uncased"]
    stored = snapshot_models()["google-bert/bert-base-uncased"]
    assert list(items[0]) == [key for key in stored if key in DEFAULT_LISTING_FIELDS]


def test_search_author_filter_sort(replay_hub):
    hub = replay_hub(page_size=5)
    api = HfApi(endpoint=hub.url)
    models = snapshot_models()
    assert {m.id for m in api.list_models(search="BERT")} == {i for i in models if "bert" in i.lower()}
    assert {m.id for m in api.list_models(author="google")} == {
        "google/flan-t5-large", "google/flan-t5-xxl", "google/tapas-base-finetuned-wtq",
        "google/electra-small-discriminator", "google/electra-small-generator",
    }  # fmt: skip
    both = {i for i, b in models.items() if {"bert", "pytorch"} <= set(b.get("tags", []))}
    assert both and {m.id for m in api.list_models(filter=["bert", "pytorch"])} == both
    assert {m.id for m in api.list_models(filter="text-to-image")} == {
        i for i, b in models.items() if b.get("pipeline_tag") == "text-to-image"
    }
    downloads = [m.downloads for m in api.list_models(sort="downloads", expand=["downloads"])]
    known = [d for d in downloads if d is not None]
    assert known == sorted(known, reverse=True) and downloads[-1] is None  # Hub default: descending
    ascending = []
    url = f"{hub.url}/api/models?sort=likes&direction=1&expand=likes&limit=4"
    while url:
        response = httpx2.get(url)
        ascending += [item.get("likes") for item in response.json()]
        url = response.links.get("next", {}).get("url")
    assert len(ascending) == 36 and ascending[: ascending.count(None)] == [None] * ascending.count(None)
    known = [v for v in ascending if v is not None]
    assert known == sorted(known)


def test_link_header_carries_every_query_param(replay_hub):
    hub = replay_hub(page_size=5)
    query = [("filter", "transformers"), ("expand[]", "likes"), ("expand", "sha"), ("limit", "2"), ("sort", "likes")]
    response = httpx2.get(f"{hub.url}/api/models", params=query)
    assert response.status_code == 200 and len(response.json()) == 2
    next_url = response.links["next"]["url"]
    assert next_url.startswith(f"{hub.url}/api/models?")
    following = httpx2.URL(next_url).params
    assert following.get_list("expand[]") == ["likes"] and following.get_list("expand") == ["sha"]
    assert following["limit"] == "2" and following["filter"] == "transformers" and following["cursor"]
    second = httpx2.get(next_url)
    assert set(second.json()[0]) == {"_id", "id", "likes", "sha"}
    assert not {i["id"] for i in second.json()} & {i["id"] for i in response.json()}
    # limit is capped at the server's page size
    assert len(httpx2.get(f"{hub.url}/api/models", params={"limit": 1000}).json()) == 5
    assert httpx2.get(f"{hub.url}/api/models", params={"expand": "nope"}).status_code == 400
    assert httpx2.get(f"{hub.url}/api/models", params={"sort": "nope"}).status_code == 400


def test_listing_sees_a_snapshot_changed_under_it(replay_hub, snapshot_copy):
    hub = replay_hub(snapshot_copy)
    api = HfApi(endpoint=hub.url)
    assert len(list(api.list_models())) == 36
    (snapshot_copy / "api" / "models" / "acme").mkdir()
    (snapshot_copy / "api" / "models" / "acme" / "new-model.json").write_text('{"id":"acme/new-model","sha":"0"}')
    assert "acme/new-model" in {m.id for m in api.list_models()}


# -- model_info -----------------------------------------------------------------------------------
def test_model_info_legacy_redirect_revision_and_expand(replay_hub):
    hub = replay_hub()
    api = HfApi(endpoint=hub.url)
    assert api.model_info("gpt2").id == "gpt2"
    assert api.model_info("bert-base-uncased").id == "google-bert/bert-base-uncased"  # 307, followed
    redirect = httpx2.get(f"{hub.url}/api/models/t5-small")
    assert redirect.status_code == 307 and redirect.headers["location"] == "/api/models/google-t5/t5-small"
    info = api.model_info("google-t5/t5-small", revision="df1b051c49625cf57a3d0d8d3863ed4d13564fe4")
    assert info.sha == "df1b051c49625cf57a3d0d8d3863ed4d13564fe4"
    raw = httpx2.get(f"{hub.url}/api/models/google-bert/bert-base-uncased")
    assert raw.content == (DEMO / "api/models/google-bert/bert-base-uncased.json").read_bytes()
    assert raw.headers["x-request-id"]
    expanded = httpx2.get(f"{hub.url}/api/models/gpt2", params=[("expand", "sha"), ("expand[]", "likes")]).json()
    assert set(expanded) == {"_id", "id", "sha", "likes"}
    assert api.model_info(GATED).gated == "manual"  # gated: listed and described, files refused


def test_typed_errors(replay_hub, tmp_path):
    hub = replay_hub()
    api = HfApi(endpoint=hub.url)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/nothing")
    with pytest.raises(RevisionNotFoundError):
        api.model_info("gpt2", revision="v9")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("nobody/nothing", "config.json", endpoint=hub.url, cache_dir=tmp_path)
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download("google-bert/bert-base-uncased", "nope.json", endpoint=hub.url, cache_dir=tmp_path)
    missing = next(r for r in hub.requests if r["path"].endswith("/nope.json"))
    assert missing["status"] == 404


def test_no_path_traversal(replay_hub):
    hub = replay_hub()
    connection = http.client.HTTPConnection(hub.url.removeprefix("http://"))
    for path in (
        "/google-bert/bert-base-uncased/resolve/main/..%2F..%2F..%2Fapi%2Fmodels%2Fgpt2.json",
        "/google-bert/bert-base-uncased/resolve/main/../../gpt2/config.json",
        "/google-bert/bert-base-uncased/resolve/main/%2E%2E/%2E%2E/%2E%2E/SOURCES.md",
        "/api/models/..%2F..%2FSOURCES",
        "/api/models/google-bert/%2E%2E",
        "/..%2F..%2Fetc/resolve/main/passwd",
    ):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 404, path


# -- files ----------------------------------------------------------------------------------------
def test_hf_hub_download_is_byte_equal(replay_hub, tmp_path):
    hub = replay_hub()
    local = hf_hub_download(
        "sentence-transformers/all-MiniLM-L6-v2", "config.json", endpoint=hub.url, cache_dir=tmp_path
    )
    assert Path(local).read_bytes() == (DEMO / "files/sentence-transformers/all-MiniLM-L6-v2/config.json").read_bytes()
    assert [r["method"] for r in hub.requests] == ["HEAD", "GET"]
    head = httpx2.head(f"{hub.url}/sentence-transformers/all-MiniLM-L6-v2/resolve/main/README.md")
    assert head.headers["x-repo-commit"] == snapshot_models()["sentence-transformers/all-MiniLM-L6-v2"]["sha"]
    assert head.headers["etag"].startswith('"') and int(head.headers["content-length"]) > 0
    part = httpx2.get(head.url, headers={"Range": "bytes=0-2"})
    assert part.status_code == 206 and part.content == b"---"


def test_gated_files_need_the_accept_token(replay_hub, snapshot_copy, tmp_path):
    repo_files = snapshot_copy / "files" / GATED
    repo_files.mkdir(parents=True)
    (repo_files / "README.md").write_text("test-only file\n")
    hub = replay_hub(snapshot_copy, accept_token=TOKEN)
    with pytest.raises(GatedRepoError):
        hf_hub_download(GATED, "README.md", endpoint=hub.url, cache_dir=tmp_path / "a", token=False)
    with pytest.raises(GatedRepoError):
        hf_hub_download(GATED, "README.md", endpoint=hub.url, cache_dir=tmp_path / "b", token="hf_wrong")
    local = hf_hub_download(GATED, "README.md", endpoint=hub.url, cache_dir=tmp_path / "c", token=TOKEN)
    assert Path(local).read_text() == "test-only file\n"
    assert [r["status"] for r in hub.requests] == [401, 403, 200, 200]


def test_request_log_lines(replay_hub, tmp_path):
    log = tmp_path / "requests.ndjson"
    hub = replay_hub(request_log=log)
    HfApi(endpoint=hub.url).model_info("gpt2")
    httpx2.head(f"{hub.url}/gpt2/resolve/main/missing.bin")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == hub.requests
    assert lines[0] == {"method": "GET", "path": "/api/models/gpt2", "query": "", "status": 200,
                        "bytes": len((DEMO / "api/models/gpt2.json").read_bytes())}  # fmt: skip
    assert lines[1]["method"] == "HEAD" and lines[1]["status"] == 404 and lines[1]["bytes"] == 0


# -- faults ---------------------------------------------------------------------------------------
def test_429_with_retry_after_is_retried_by_list_models_paging(replay_hub):
    hub = replay_hub(page_size=10, faults=FaultPlan([FaultRule.rate_limited(path="^/api/models$", retry_after=0)]))
    assert len(list(HfApi(endpoint=hub.url).list_models())) == 36
    calls = listing_calls(hub)
    assert [c["status"] for c in calls] == [429, 200, 200, 200, 200]
    assert calls[0]["fault"] == "status_429"


def test_dropped_connection_is_retried_and_503_surfaces(replay_hub):
    hub = replay_hub(page_size=20, faults=FaultPlan([FaultRule.dropped(path="^/api/models$")]))
    assert len(list(HfApi(endpoint=hub.url).list_models())) == 36
    assert [c["status"] for c in listing_calls(hub)] == [None, 200, 200]
    hub.faults = FaultPlan([FaultRule.server_error(path="^/api/models/gpt2$", times=2)])  # changed at run time
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(endpoint=hub.url).model_info("gpt2")  # model_info does not retry
    assert error.value.response.status_code == 503
    assert not isinstance(error.value, RepositoryNotFoundError)


def test_truncated_download_resumes_with_range_and_latency_applies(replay_hub, tmp_path):
    path = "/google-bert/bert-base-uncased/resolve/main/README.md"
    plan = FaultPlan([FaultRule.truncated(path=path, method="GET"), FaultRule.latency(0.2, path="^/api/")])
    hub = replay_hub(faults=plan)
    local = hf_hub_download("google-bert/bert-base-uncased", "README.md", endpoint=hub.url, cache_dir=tmp_path)
    assert Path(local).read_bytes() == (DEMO / "files/google-bert/bert-base-uncased/README.md").read_bytes()
    assert [r["status"] for r in hub.requests] == [200, 200, 200]  # HEAD, truncated GET, GET again
    assert hub.requests[1]["fault"] == "truncate" and hub.requests[1]["bytes"] < hub.requests[2]["bytes"]
    started = time.monotonic()
    HfApi(endpoint=hub.url).model_info("gpt2")
    assert time.monotonic() - started >= 0.2


def test_fault_plan_is_deterministic():
    def decisions(seed: int) -> list[bool]:
        plan = FaultPlan([FaultRule.server_error(times=None, probability=0.3)], seed=seed)
        return [plan.decide("GET", "/api/models") is not None for _ in range(50)]

    assert decisions(7) == decisions(7)
    assert 5 < sum(decisions(7)) < 25
    plan = FaultPlan([FaultRule.rate_limited(times=2, path="^/api/"), FaultRule.latency(0.5)])
    first, second, third = (plan.decide("GET", "/api/models") for _ in range(3))
    assert first.name == second.name == "status_429" and first.delay_s == 0.5
    assert third.name == "delay" and plan.decide("HEAD", "/x/resolve/main/a").rule is None
