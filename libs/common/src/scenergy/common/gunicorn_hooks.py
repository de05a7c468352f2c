"""Serving a service's Flask app under gunicorn, with Prometheus in multiprocess mode.

`serve(load, name=…, bind=…)` starts gunicorn in this process with GUNICORN_WORKERS processes of
GUNICORN_THREADS threads each; every worker calls `load()` to build its app. A fresh
PROMETHEUS_MULTIPROC_DIR (unless one is given) lets /metrics add every worker up, and `child_exit`
drops a dead worker's live gauges.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from scenergy.common.config import env_int


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges so /metrics aggregates only running processes."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], load: Callable[[], Flask]) -> None:
        self._options = options
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._load()


def serve(load: Callable[[], Flask], *, name: str, bind: str, workers: int = 2, threads: int = 8) -> None:
    """Run gunicorn (gthread workers) until SIGTERM; GUNICORN_WORKERS and GUNICORN_THREADS override the sizes."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus_client picks its mode when it is imported, which has happened by now: start this
        # process again with the directory set, or every worker's metrics would be lost.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=f"{name}-metrics-")
        os.execv(sys.executable, sys.orig_argv)
    # A directory that outlived an earlier run (a restarted container keeps its emptyDir) holds the
    # old processes' files, which /metrics would add in: start from an empty one.
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink(missing_ok=True)
    options = {
        "bind": bind,
        "workers": env_int(os.environ, "GUNICORN_WORKERS", workers, minimum=1, maximum=64),
        "threads": env_int(os.environ, "GUNICORN_THREADS", threads, minimum=1, maximum=256),
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": None,
        "child_exit": child_exit,
        "control_socket_disable": True,  # a control socket under $HOME is of no use in a container
    }
    _Gunicorn(options, load).run()


__all__ = ["child_exit", "serve"]
