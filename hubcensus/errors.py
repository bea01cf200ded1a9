"""One root for every error hubcensus raises on purpose, so the CLI turns them into one line in one place.

Each stage subclasses ``HubcensusError`` where its errors are raised (``HubUnreachable`` in harvesters,
``WarehouseError`` in warehouse, ``ReportError`` in reports, ...). Anything that is not a
``HubcensusError`` is a bug and keeps its traceback.
"""

from __future__ import annotations


class HubcensusError(Exception):
    """A domain error: its message is one clear sentence for the person who ran the command."""


class InvalidInput(HubcensusError, ValueError):
    """Operator input (a run id, a path, a setting) that was refused before it touched anything."""
