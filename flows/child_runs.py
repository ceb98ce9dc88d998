"""Runs a flow starts on deployments: checking the deployment is there, and cancelling what it started."""

from __future__ import annotations

import logging
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling

from aura.errors import AuraError

log = logging.getLogger("aura.runs")


class DeploymentMissing(AuraError):
    """A setting names a deployment the Prefect server does not have."""


def require_deployment(name: str, setting: str) -> None:
    """Fail before any work when `setting` names a deployment the server does not know."""
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except (ObjectNotFound, ValueError):
            raise DeploymentMissing(
                f"{setting}={name}: the Prefect server has no such deployment: "
                "deploy it with `prefect deploy --all` (name it as flow/deployment) or change the setting"
            ) from None


def cancel_children(run_id: UUID, reason: str) -> None:
    """Cancel every unfinished run the run started as its subflows (deployment runs included): Cancelled at once
    if no worker has it yet, else Cancelling (its worker kills it)."""
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id]))
        )
        for child in children:
            if child.state is None or child.state.is_final():
                continue
            new = Cancelled(message=reason) if child.state.type.value == "SCHEDULED" else Cancelling(message=reason)
            try:
                client.set_flow_run_state(child.id, new, force=True)
            except Exception:  # noqa: BLE001 - the server's cancellation clean-up catches what this misses
                log.warning("could not cancel run %s", child.id, exc_info=True)
