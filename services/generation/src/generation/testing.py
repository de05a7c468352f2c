"""The generation service's background processes inside one process, for tests and benchmarks.

Production runs them as `generation-worker` and `generation-runner` processes; here they are the same
objects in threads, against the same real database and broker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kombu import Connection

from generation.adapters.jobstore import JOBS_CHANNEL
from generation.bootstrap import Container
from generation.entrypoints.runner import build_runner, run_consumers
from generation.entrypoints.worker import build_tasks
from scenergy.common.messaging import connect
from scenergy.common.outbox import NotifyWaiter
from scenergy.common.runner import TaskRunner


@contextmanager
def background(
    container: Container,
    *,
    runners: bool = True,
    worker: bool = True,
    checkpoint: Callable[[str], None] | None = None,
    worker_id: str = "test-runner",
) -> Iterator[None]:
    connections: list[Connection] = []

    def connect_broker() -> Connection:
        connections.append(connect(container.settings.broker_url))
        return connections[-1]

    waiter = NotifyWaiter(container.settings.database_url, JOBS_CHANNEL)
    tasks = TaskRunner(build_tasks(container, connect_broker, waiter=waiter) if worker else [])
    stopping = threading.Event()
    started = []
    try:
        tasks.start()
        if runners:
            runner = build_runner(container, worker_id=worker_id, checkpoint=checkpoint)
            started = run_consumers(container, runner, stopping=stopping)
        yield
    finally:
        stopping.set()
        for _consumer, thread in started:
            thread.join(timeout=30)
        tasks.stop()
        waiter.close()
        for connection in connections:
            connection.release()
