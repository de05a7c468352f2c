"""The job runners, one process of several consumers: `generation-runner`.

Each consumer takes one job id at a time from the quorum queue (prefetch 1), runs the attempt and
acks after the final commit. Scale with more processes (the chart's HPA) or RUNNER_CONCURRENCY.
It serves /healthz, /readyz and /metrics on RUNNER_OPS_PORT.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

from flask import Flask

from generation.adapters.queue import JobConsumer
from generation.bootstrap import SERVICE_NAME, Container, bootstrap
from generation.config import Settings
from generation.service_layer.runner import JobRunner, RunnerConfig
from scenergy.common.db import ping
from scenergy.common.http import init_app
from scenergy.common.logging import configure_logging
from scenergy.common.messaging import connect
from scenergy.common.ops_server import serve_in_background

log = logging.getLogger(__name__)


def build_runner(container: Container, *, worker_id: str, checkpoint: Callable[[str], None] | None = None) -> JobRunner:
    settings = container.settings
    config = RunnerConfig(
        lease_s=settings.lease_s,
        hard_timeout_s=settings.job_hard_timeout_s,
        provider_timeout_s=settings.provider_timeout_s,
        retry=container.retry,
    )
    return JobRunner(
        container.engine,
        container.provider,
        container.storage,
        container.settler,
        config,
        worker_id=worker_id,
        checkpoint=checkpoint or (lambda point: None),
        autocommit_engine=container.autocommit_engine,
    )


def run_consumers(
    container: Container, runner: JobRunner, *, stopping: threading.Event
) -> list[tuple[JobConsumer, threading.Thread]]:
    """Start RUNNER_CONCURRENCY consumers in threads; they stop (after their current job) when `stopping` is set."""
    settings = container.settings
    started = []
    for n in range(settings.runner_concurrency):
        consumer = JobConsumer(settings.broker_url, container.jobs_topology, runner.run, name=f"runner-{n}")
        thread = threading.Thread(target=consumer.run, args=(stopping,), name=f"runner-{n}", daemon=True)
        thread.start()
        started.append((consumer, thread))
    return started


def main() -> None:
    settings = Settings.from_env()
    configure_logging(f"{SERVICE_NAME}-runner", settings.log_level)
    container = bootstrap(settings, process="runner")
    worker_id = f"{socket.gethostname()}-{os.getpid()}"
    stopping = threading.Event()
    consumers = run_consumers(container, build_runner(container, worker_id=worker_id), stopping=stopping)

    def consumers_alive() -> None:
        stale = [t.name for c, t in consumers if time.monotonic() - c.last_beat > 60]
        if stale:
            raise RuntimeError(f"consumers not looping: {', '.join(stale)}")

    def broker() -> None:
        with connect(settings.broker_url) as connection:
            connection.ensure_connection(max_retries=1)

    readiness = {"database": lambda: ping(container.engine), "broker": broker, "consumers": consumers_alive}
    app = init_app(Flask(f"{SERVICE_NAME}-runner"), service=f"{SERVICE_NAME}-runner", readiness=readiness)
    serve_in_background(app, host=settings.bind_host, port=settings.runner_ops_port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    log.info("generation runner %s: %d consumers", worker_id, len(consumers))
    stopping.wait()
    for _consumer, thread in consumers:  # a running job finishes and is acked first (terminationGracePeriodSeconds)
        thread.join(timeout=settings.job_hard_timeout_s)
    container.close()


if __name__ == "__main__":
    main()
