"""Run one existing generate-video flow run in this process: the REST gateway's own worker.

The gateway creates the flow run (so it can answer with its id at once) and
starts `python -m aura.api.run_local <flow run id>`; this executes it exactly as
a worker would, and the run's state, progress and results live in Prefect.
"""

from __future__ import annotations

import sys
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.flow_engine import run_flow

from flows.generate_video import generate_video


def execute(flow_run_id: str) -> int:
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(flow_run_id))
    state = run_flow(generate_video, flow_run=flow_run, parameters=flow_run.parameters, return_type="state")
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(execute(sys.argv[1]))
