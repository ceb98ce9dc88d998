"""Deployment steps that find the checkout a worker runs the flows from (prefect.yaml's build and pull).

`prefect deploy` runs `record_checkout` where it is called and keeps the
absolute path in the deployment's pull step, as `prefect init` would write it.
A worker's run then enters AURA_CHECKOUT when its environment sets it (a
machine whose checkout lives elsewhere), else that recorded checkout. When
neither is a folder on the worker's machine, the run fails in one line that
names the variable, instead of crashing on an empty path.
"""

from __future__ import annotations

import os
from pathlib import Path

VARIABLE = "AURA_CHECKOUT"


class CheckoutNotFound(RuntimeError):
    """The worker's machine has no checkout where the deployment says."""


def record_checkout() -> dict[str, str]:
    """Build step: the checkout `prefect deploy` runs in (AURA_CHECKOUT if set when deploying)."""
    return {"directory": str(Path(os.environ.get(VARIABLE) or Path.cwd()).expanduser().resolve())}


def checkout_folder(directory: str | None, made_from: str | None) -> Path:
    """The folder a run works from: AURA_CHECKOUT, else the checkout the deployment was made from."""
    for candidate, what in ((directory, VARIABLE), (made_from, "the checkout the deployment was made from")):
        if not candidate or "{{" in candidate:  # unset, or a placeholder nobody filled in
            continue
        folder = Path(candidate).expanduser()
        if folder.is_dir():
            return folder.resolve()
        raise CheckoutNotFound(
            f"{what} ({candidate}) is not a folder on this worker's machine: set {VARIABLE} in the worker's "
            "environment to the absolute path of its checkout of Aura"
        )
    raise CheckoutNotFound(f"{VARIABLE} is not set: set it in the worker's environment to the absolute path of its checkout of Aura")


def enter_checkout(directory: str | None = None, made_from: str | None = None) -> dict[str, str]:
    """Pull step: change into the checkout; a missing one fails the run with the reason as its message."""
    try:
        folder = checkout_folder(directory, made_from)
    except CheckoutNotFound as exc:
        _fail_this_run(str(exc))
        raise
    os.chdir(folder)
    return {"directory": str(folder)}


def _fail_this_run(message: str) -> None:
    """Mark the run Failed with the reason, so the UI shows it rather than an infrastructure exit code."""
    flow_run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
    if not flow_run_id:
        return
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.states import Failed

    try:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(UUID(flow_run_id), Failed(message=message), force=True)
    except Exception:  # noqa: BLE001 - the raise that follows still stops the run
        pass
