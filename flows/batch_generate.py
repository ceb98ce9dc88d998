"""The batch-generate flow: one generate-video run per request, a few at a time, and a table of how each ended.

Each request is a `video` task run, held to `max_concurrent` at once by a Prefect concurrency limit on the
batch's own tag: deployed, a run of the generate-video deployment (spread over the `cpu` workers); run in a
process of its own, a subflow. A cancelled or crashed batch cancels the runs it started (its hook).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.flow_runs import wait_for_flow_run
from prefect.futures import as_completed
from prefect.runtime import deployment, flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.asyncutils import run_coro_as_sync

from aura.batch import BatchIncomplete, BatchInputError, BatchItem, read_requests, validate_requests
from aura.models import VideoRequest
from aura.options import PresetName
from aura.settings import get_settings
from flows.child_runs import cancel_children, require_deployment

TABLE_KEY = "aura-batch"
MAX_CONCURRENT = 32


_CANCEL_STARTED = [lambda flow, run, state: cancel_children(run.id, "the batch stopped")]  # nothing outlives it


@flow(
    name="batch-generate", log_prints=True, persist_result=False,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENT),
    on_cancellation=_CANCEL_STARTED, on_crashed=_CANCEL_STARTED,
)  # fmt: skip
def batch_generate(
    requests: list[VideoRequest] | None = None,
    requests_file: str | None = None,
    preset: PresetName = "default",
    max_concurrent: int = 2,
    output: str | None = None,
) -> list[BatchItem]:
    """One video per request of `requests`, or of `requests_file` (JSONL or CSV: a path inside the artifact store,
    a store key, or a path inside AURA_INPUT_ROOTS), all validated first; fails when any request made no video.
    The `aura-batch` table lists each request, its status and video."""
    if (requests is None) == (requests_file is None):
        raise BatchInputError("give either requests (a list of video requests) or requests_file, not both or neither")
    if not 1 <= max_concurrent <= MAX_CONCURRENT:
        raise BatchInputError(f"max_concurrent: {max_concurrent} is out of range: use 1 to {MAX_CONCURRENT}")
    store_url = get_settings().store_url(output)
    todo = read_requests(requests_file, store_url) if requests_file else validate_requests(list(enumerate(requests, 1)))
    deployed = deployment.id is not None
    if deployed:
        require_deployment(get_settings().video_deployment, "AURA_VIDEO_DEPLOYMENT")
    get_run_logger().info("%d request(s), %d at a time, %s", len(todo), max_concurrent, "as deployment runs" if deployed else "as subflows")
    limit = f"aura-batch-{flow_run.id}"  # this batch's own tag: its limit holds only its videos
    items: list[BatchItem] = []
    board = create_progress_artifact(progress=0.0, description=f"0 of {len(todo)} videos")
    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag=limit, concurrency_limit=max_concurrent)
    try:
        tagged = make_video.with_options(tags={limit})
        futures = [tagged.submit(i, r, preset, output, store_url, deployed) for i, r in enumerate(todo, start=1)]
        for done in as_completed(futures):
            items.append(done.result())
            update_progress_artifact(board, 100.0 * len(items) / len(todo), f"{len(items)} of {len(todo)} videos")
    finally:
        with get_client(sync_client=True) as client:
            client.delete_concurrency_limit_by_tag(limit)
        items.sort(key=lambda item: item.index)
        made = sum(item.status == "completed" for item in items)
        create_table_artifact([i.row() for i in items], key=TABLE_KEY, description=f"{made} of {len(todo)} videos made")
    failed = [item for item in items if item.status != "completed"]
    if failed:
        raise BatchIncomplete(
            f"{len(failed)} of {len(items)} requests made no video (first: #{failed[0].index} {failed[0].status}: "
            f"{failed[0].error or 'no message'}): see the {TABLE_KEY} artifact"
        )
    return items


@task(name="video", cache_policy=NO_CACHE, persist_result=False)
def make_video(index: int, request: VideoRequest, preset: str, output: str | None, store_url: str, deployed: bool) -> BatchItem:
    """One request of the batch, to the end of its run: as a run of the generate-video deployment, or a subflow."""
    item = BatchItem(index=index, brief=request.brief[:80])
    if deployed:
        started = run_deployment(
            get_settings().video_deployment,
            parameters={"request": request.model_dump(mode="json"), "preset": preset, "output": output},
            # a restarted attempt of the batch finds the runs it started
            timeout=0, as_subflow=True, idempotency_key=f"{flow_run.id}-{flow_run.run_count or 1}-{index}", tags=["aura", "batch"],
        )  # fmt: skip
        state = run_coro_as_sync(wait_for_flow_run(started.id, timeout=None)).state
        item.flow_run_id = str(started.id)
    else:
        from flows.generate_video import generate_video  # the batch is above generate-video, never below it

        state = generate_video(request=request, preset=preset, output=output, return_state=True)
        item.flow_run_id = str(state.state_details.flow_run_id)
    item.finish(state.name, state.message, store_url)
    return item

