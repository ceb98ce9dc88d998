"""Aura's own log records (the `aura` loggers of stages and providers), sent to the Prefect run they belong to."""

from __future__ import annotations

import logging
import threading

from prefect.logging.handlers import APILogHandler

from aura.stages.stage import current_run_id


class CorrelationFilter(logging.Filter):
    """Stamps `correlation_id` (the flow run id) on every record of a run's threads."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = str(getattr(record, "flow_run_id", None) or current_run_id() or "-")
        return True


class RunLogHandler(APILogHandler):
    """Aura's own log records, sent to the Prefect run they belong to (the UI shows them with the run's logs)."""

    def emit(self, record: logging.LogRecord) -> None:
        run_id = current_run_id()
        if run_id is None:
            return  # not inside a run: nothing to attach the record to
        record.flow_run_id = run_id
        super().emit(record)


_attached = threading.Lock()


def attach_aura_logs() -> None:
    """Route the `aura` loggers into Prefect's run logs, with the correlation id (once per process)."""
    logger = logging.getLogger("aura")
    with _attached:
        if any(isinstance(h, RunLogHandler) for h in logger.handlers):
            return
        handler = RunLogHandler()
        handler.addFilter(CorrelationFilter())
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:  # as verbose as Prefect's own logs (PREFECT_LOGGING_LEVEL)
            logger.setLevel(logging.getLogger("prefect").getEffectiveLevel())
