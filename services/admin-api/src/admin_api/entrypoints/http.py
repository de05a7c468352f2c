"""The gateway's HTTP server: `admin-api-http` runs it under gunicorn.

`app_from_env()` is the WSGI factory (`gunicorn 'admin_api.entrypoints.http:app_from_env()'`). The
console script starts gunicorn itself with GUNICORN_WORKERS processes of GUNICORN_THREADS threads each,
Prometheus in multiprocess mode (a fresh PROMETHEUS_MULTIPROC_DIR) so /metrics adds every worker up.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from admin_api.bootstrap import SERVICE_NAME, bootstrap
from admin_api.config import Settings
from admin_api.web import create_app
from scenergy.common.config import env_int
from scenergy.common.gunicorn_hooks import child_exit
from scenergy.common.logging import configure_logging


def app_from_env() -> Flask:
    settings = Settings.from_env()
    configure_logging(SERVICE_NAME, settings.log_level)
    return create_app(bootstrap(settings, process="http"))


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return app_from_env()


def main() -> None:
    settings = Settings.from_env()
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="admin-api-metrics-"))
    options = {
        "bind": f"{settings.bind_host}:{settings.http_port}",
        "workers": env_int(os.environ, "GUNICORN_WORKERS", 2, minimum=1, maximum=64),
        "threads": env_int(os.environ, "GUNICORN_THREADS", 8, minimum=1, maximum=256),
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": None,
        "child_exit": child_exit,
    }
    _Gunicorn(options).run()


if __name__ == "__main__":
    main()
