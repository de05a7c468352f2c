"""Gunicorn hooks for services whose HTTP side runs under gunicorn with Prometheus multiprocess mode.

A service's gunicorn.conf.py does `from scenergy.common.gunicorn_hooks import *`; its entrypoint
script sets PROMETHEUS_MULTIPROC_DIR to an empty directory before gunicorn starts.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import multiprocess


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges so /metrics aggregates only running processes."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


__all__ = ["child_exit"]
