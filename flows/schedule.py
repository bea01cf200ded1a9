"""The nightly schedule: one deployment of ``nightly_refresh``, served locally or applied to a server."""

from __future__ import annotations

from typing import Any

from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from flows.refresh import nightly_refresh

DEPLOYMENT_NAME = "nightly"
DEFAULT_CRON = "0 3 * * *"


def nightly_deployment(
    cron: str = DEFAULT_CRON, timezone: str = "UTC", parameters: dict[str, Any] | None = None
) -> RunnerDeployment:
    """The deployment ``nightly_refresh/nightly`` on ``cron`` in ``timezone``.

    The entrypoint is the module path (``flows.refresh:nightly_refresh``), so a run started by the
    runner or a worker imports the installed package, whatever its working directory.
    """
    return nightly_refresh.to_deployment(
        name=DEPLOYMENT_NAME,
        schedule=Cron(cron, timezone=timezone),
        parameters=parameters or {},
        description="Nightly Hub metadata refresh: harvest, normalize, load, reconcile, report.",
        tags=["hubcensus"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve_nightly(cron: str = DEFAULT_CRON, timezone: str = "UTC", parameters: dict[str, Any] | None = None) -> None:
    """Serve the deployment in this process until interrupted (ephemeral Prefect or PREFECT_API_URL)."""
    from prefect import serve

    serve(nightly_deployment(cron, timezone, parameters))
