"""The batch-generate flow: one generate-video run per request, a few at a time, and a table of how each ended.

Deployed (on the `cpu` pool, on its schedule or by hand), every request becomes
a run of the generate-video deployment, so the videos spread over all `cpu`
workers. Run in a process of its own (`python -m flows.batch_generate`, tests)
the requests become subflows of this run, in threads. Every request is
validated before the first run starts.
"""

from __future__ import annotations

import contextvars
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.runtime import deployment, flow_run

from aura.batch import BatchIncomplete, BatchInputError, BatchItem, read_requests, validate_requests
from aura.models import VideoRequest
from aura.options import PresetName
from aura.settings import get_settings
from aura.supervision import RunCancelled
from flows.child_runs import cancel_run, require_deployment

TABLE_KEY = "aura-batch"
POLL_S = 1.0
MAX_CONCURRENT = 32


@flow(name="batch-generate", log_prints=True, persist_result=False)
def batch_generate(
    requests: list[VideoRequest] | None = None,
    requests_file: str | None = None,
    preset: PresetName = "default",
    max_concurrent: int = 2,
    output: str | None = None,
) -> list[BatchItem]:
    """Make one video per request: `requests` as a parameter, or `requests_file` (JSONL or CSV).

    `requests_file` is a path inside the artifact store (e.g. batch/requests.jsonl), a store key
    (store:<job>/<key>), or a path inside AURA_INPUT_ROOTS. At most `max_concurrent` videos are in the making
    at once. The run fails when any request failed; the `aura-batch` table lists each request, its status and video.
    """
    if (requests is None) == (requests_file is None):
        raise BatchInputError("give either requests (a list of video requests) or requests_file, not both or neither")
    if not 1 <= max_concurrent <= MAX_CONCURRENT:
        raise BatchInputError(f"max_concurrent: {max_concurrent} is out of range: use 1 to {MAX_CONCURRENT}")
    store_url = get_settings().store_url(output)
    if requests_file:
        todo = read_requests(requests_file, store_url)
    else:
        todo = validate_requests(list(enumerate(requests or [], start=1)))
    items = [BatchItem(index=i, brief=r.brief[:80]) for i, r in enumerate(todo, start=1)]
    logger = get_run_logger()
    deployed = deployment.id is not None
    logger.info("%d request(s), %d at a time, %s", len(todo), max_concurrent, "as deployment runs" if deployed else "as subflows")
    board = _Board(items)
    try:
        run_all = _run_as_deployments if deployed else _run_as_subflows
        run_all(todo, items, board, preset, output, max_concurrent, store_url)
    finally:
        board.publish_table()
    failed = [item for item in items if item.status != "completed"]
    if failed:
        raise BatchIncomplete(
            f"{len(failed)} of {len(items)} requests made no video (first: #{failed[0].index} {failed[0].status}: "
            f"{failed[0].error or 'no message'}): see the {TABLE_KEY} artifact"
        )
    return items


class _Board:
    """The batch's progress artifact and its table."""

    def __init__(self, items: list[BatchItem]):
        self.items = items
        self.artifact_id = create_progress_artifact(progress=0.0, description=f"0 of {len(items)} videos")

    def update(self) -> None:
        done = sum(item.status not in ("waiting", "started") for item in self.items)
        update_progress_artifact(self.artifact_id, 100.0 * done / len(self.items), f"{done} of {len(self.items)} videos")

    def publish_table(self) -> None:
        made = sum(item.status == "completed" for item in self.items)
        description = f"{made} of {len(self.items)} videos made"
        create_table_artifact([item.model_dump() for item in self.items], key=TABLE_KEY, description=description)


def _run_as_deployments(todo, items, board, preset, output, max_concurrent, store_url) -> None:
    name = get_settings().video_deployment
    key_base = f"{flow_run.id}-{flow_run.run_count or 1}"  # a restarted attempt finds the runs it started
    require_deployment(name, "AURA_VIDEO_DEPLOYMENT")
    waiting = deque(range(len(todo)))
    active: dict[UUID, int] = {}
    with get_client(sync_client=True) as client:
        try:
            while waiting or active:
                while waiting and len(active) < max_concurrent:
                    i = waiting.popleft()
                    run = run_deployment(
                        name,
                        parameters={"request": todo[i].model_dump(mode="json"), "preset": preset, "output": output},
                        timeout=0, as_subflow=True, idempotency_key=f"{key_base}-{i}", tags=["aura", "batch"],
                    )  # fmt: skip
                    items[i].flow_run_id, items[i].status = str(run.id), "started"
                    active[run.id] = i
                time.sleep(POLL_S)
                own = client.read_flow_run(flow_run.id).state
                if own is not None and (own.is_cancelling() or own.is_cancelled()):
                    raise RunCancelled("the batch was cancelled")
                for run_id, i in list(active.items()):
                    state = client.read_flow_run(run_id).state
                    if state is not None and state.is_final():
                        items[i].finish(state.name, state.message, store_url)
                        del active[run_id]
                        board.update()
        except BaseException:
            for run_id, i in active.items():  # nothing the batch started outlives it
                cancel_run(run_id, "the batch stopped")
                items[i].status = "cancelled"
            for i in waiting:
                items[i].status = "not started"
            raise


def _run_as_subflows(todo, items, board, preset, output, max_concurrent, store_url) -> None:
    from flows.generate_video import generate_video  # the batch is above generate-video, never below it

    def make(i: int) -> None:
        state = generate_video(request=todo[i], preset=preset, output=output, return_state=True)
        items[i].flow_run_id = str(state.state_details.flow_run_id)
        items[i].finish(state.name, state.message, store_url)
        board.update()

    with ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="aura-batch") as pool:
        # each thread carries this run's context, so its generate-video runs are subflows of the batch
        futures = [pool.submit(contextvars.copy_context().run, make, i) for i in range(len(todo))]
        for future in futures:
            future.result()
