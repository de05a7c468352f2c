"""The HTTP side of non-HTTP processes (health, readiness, metrics), and how workers and gRPC servers run."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from scenergy.common.grpc_server import GrpcServer
from scenergy.common.http import ReadinessCheck, init_app
from scenergy.common.runner import PeriodicTask, TaskRunner

log = logging.getLogger(__name__)


def serve_in_background(app: object, *, host: str, port: int) -> BaseWSGIServer:
    server = make_server(host, port, app, threaded=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, name=f"ops-http-{port}", daemon=True)
    thread.start()
    return server


def run_worker(
    name: str, tasks: list[PeriodicTask], *, host: str, port: int, readiness: Mapping[str, ReadinessCheck]
) -> None:
    """Run a worker's periodic tasks until SIGTERM/SIGINT, with /healthz, /readyz (its dependencies,
    and every loop having completed a run recently) and /metrics on `port`."""
    runner = TaskRunner(tasks)

    def loops_alive() -> None:
        if not runner.healthy():
            raise RuntimeError("a background loop has not completed a run recently")

    app = init_app(Flask(name), service=name, readiness={**readiness, "loops": loops_alive})
    serve_in_background(app, host=host, port=port)
    log.info("%s running; ops HTTP on :%s", name, port)
    runner.run_until_signalled()


def serve_grpc(server: GrpcServer, ops_app: Flask, *, name: str, host: str, http_port: int) -> None:
    """Start a gRPC server and its ops HTTP side; return after SIGTERM/SIGINT and a graceful drain."""
    server.start()
    serve_in_background(ops_app, host=host, port=http_port)
    log.info("%s gRPC on :%s, HTTP on :%s", name, server.port, http_port)
    server.serve_until_signalled()
