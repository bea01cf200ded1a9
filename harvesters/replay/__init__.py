"""The replay Hub: a local HTTP server that answers like huggingface.co from a snapshot directory.

Point the real client at it (``HfApi(endpoint=hub.url)`` or ``HF_ENDPOINT``); HTTP is the only seam.

    from harvesters.replay import ReplayHub, FaultPlan, FaultRule
    with ReplayHub("harvesters/demo_snapshot", page_size=5, accept_token="hf_x",
                   request_log="requests.ndjson",
                   faults=FaultPlan([FaultRule.rate_limited(path="^/api/models$", retry_after=0)])) as hub:
        HfApi(endpoint=hub.url).list_models(expand=["downloads"])

Snapshot format (a directory; every file optional except ``api/models/``):

- ``api/models/{org}/{name}.json``: the ``GET /api/models/{org}/{name}`` body, as the Hub returns it (all
  fields, compact JSON), served byte for byte. A legacy id without an org (``gpt2``) is ``api/models/gpt2.json``.
  The file name is the repo id; the body must be a JSON object with ``id``, and ``sha`` for its files to be
  downloadable. ``gated`` other than false/absent makes the repo's files need the accept token.
- ``files/{org}/{name}/{path}`` (legacy: ``files/{name}/{path}``): the repo's files at ``main``.
- ``api/redirects.json``: renamed repos, a JSON list of recorded 307s (``{"request": "GET /api/models/OLD",
  "status": 307, "body": "... Redirecting to /api/models/NEW"}``) or of ``{"from": "OLD", "to": "NEW"}``.
- Anything else (``SOURCES.md``, ...) is ignored.

What it answers (everything else: 404):

- ``GET /api/models``: ``search`` (case-insensitive substring of the id), ``author``, ``filter``
  (repeatable, all must match a tag, library_name or pipeline_tag), ``pipeline_tag``, ``gated``, ``sort``
  (createdAt, lastModified, downloads, likes, trendingScore; ``direction`` -1 by default, 1 ascending; ties
  by id; models lacking the field sort lowest), no sort: by id ascending. ``limit`` capped at ``page_size``
  (also the default). ``expand``/``expand[]`` (repeatable): items carry only those fields plus ``_id``/``id``;
  without expand the Hub's default entry (``_id,id,likes,trendingScore,private,downloads,tags,pipeline_tag,
  library_name,createdAt,modelId``); ``full``/``config``/``cardData`` add fields; unknown expand or sort,
  or expand with full/config/cardData: 400. Pages follow ``Link: <absolute url>; rel="next"`` carrying every
  original parameter plus an opaque keyset ``cursor``.
- ``GET /api/models/{repo_id}`` and ``.../revision/{main|sha}``: the stored body (or, with expand, the asked
  fields plus ``_id``/``id``). Renamed repos: 307 to the canonical id.
- ``GET|HEAD /{repo_id}/resolve/{main|sha}/{path}``: ``ETag`` (quoted git blob sha1), ``X-Repo-Commit``,
  ``Content-Length``, ``Content-Type``, ``Range`` (206/416).
- Errors: JSON ``{"error": ...}`` with ``X-Error-Code`` ``RepoNotFound``/``RevisionNotFound``/
  ``EntryNotFound`` (404) or ``GatedRepo`` (401 without a token, 403 with a wrong one).
  Path segments are percent-decoded one by one; ``..``, encoded slashes and the like are 404.

Every answer has ``X-Request-Id``; every request is appended to ``hub.requests`` (the newest ``history``
entries, 10,000 by default) and, if ``request_log`` is set, to that file as one JSON line (all of them):
``method, path, query, status, bytes`` (+ ``fault`` when one applied). ``FaultPlan.from_spec`` reads the
``replay-hub --faults SPEC`` text (``harvesters.replay.faults.SPEC_HELP``).
"""

from harvesters.replay.app import HubApp
from harvesters.replay.faults import Fault, FaultPlan, FaultRule
from harvesters.replay.server import ReplayHub
from harvesters.replay.snapshot import DirectorySnapshot, Snapshot, SnapshotError

__all__ = [
    "DirectorySnapshot",
    "Fault",
    "FaultPlan",
    "FaultRule",
    "HubApp",
    "ReplayHub",
    "Snapshot",
    "SnapshotError",
]
