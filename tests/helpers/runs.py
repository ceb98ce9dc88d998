"""Reading what a flow run did from the Prefect server: its task runs, its subflows' included."""

from __future__ import annotations

import uuid

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId


def task_runs_of(flow_run_id: str) -> list:
    """Every task run of a flow run and of its subflows (render-visuals runs its stage in one)."""
    run_id = uuid.UUID(str(flow_run_id))
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id]))
        )
        ids = [run_id, *(child.id for child in children)]
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
