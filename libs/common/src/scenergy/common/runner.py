"""Periodic background tasks in one process, stopped cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class PeriodicTask:
    name: str
    run_once: Callable[[], object]
    interval_s: float
    # After a productive run (it returned a truthy count), run again at once to drain a backlog.
    drain: bool = False
    last_success: float = field(default=0.0)


class TaskRunner:
    def __init__(self, tasks: list[PeriodicTask]) -> None:
        self.tasks = tasks
        self.stopping = threading.Event()

    def healthy(self, *, max_silence_s: float = 120.0) -> bool:
        now = time.monotonic()
        return all(now - t.last_success < max(max_silence_s, 3 * t.interval_s) for t in self.tasks)

    def _loop(self, task: PeriodicTask) -> None:
        while not self.stopping.is_set():
            result: object = None
            try:
                result = task.run_once()
                task.last_success = time.monotonic()
            except Exception:
                log.exception("background task failed", extra={"task": task.name})
            if not (task.drain and result):
                self.stopping.wait(task.interval_s)

    def start(self) -> list[threading.Thread]:
        """Run every task in a thread of its own, until `stop()`."""
        now = time.monotonic()
        threads = []
        for task in self.tasks:
            task.last_success = now
            thread = threading.Thread(target=self._loop, args=(task,), name=task.name, daemon=True)
            thread.start()
            threads.append(thread)
        self._threads = threads
        return threads

    def stop(self, timeout_s: float = 15.0) -> None:
        self.stopping.set()
        for thread in getattr(self, "_threads", []):
            thread.join(timeout=timeout_s)

    def run_until_signalled(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        self.stopping.wait()
        self.stop()
