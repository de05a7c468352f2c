"""The gateway's HTTP server: `admin-api-http` runs it under gunicorn.

`app_from_env()` is the WSGI factory (`gunicorn 'admin_api.entrypoints.http:app_from_env()'`). The
console script starts gunicorn itself with GUNICORN_WORKERS processes of GUNICORN_THREADS threads each,
Prometheus in multiprocess mode (a fresh PROMETHEUS_MULTIPROC_DIR) so /metrics adds every worker up.
"""

from __future__ import annotations

from flask import Flask

from admin_api.bootstrap import SERVICE_NAME, bootstrap
from admin_api.config import Settings
from admin_api.web import create_app
from scenergy.common.gunicorn_hooks import serve
from scenergy.common.logging import configure_logging


def app_from_env() -> Flask:
    settings = Settings.from_env()
    configure_logging(SERVICE_NAME, settings.log_level)
    return create_app(bootstrap(settings, process="http"))


def main() -> None:
    settings = Settings.from_env()
    serve(app_from_env, name=SERVICE_NAME, bind=f"{settings.bind_host}:{settings.http_port}")


if __name__ == "__main__":
    main()
