"""Serve a small WSGI app (health and metrics) from a background thread of a non-HTTP process."""

from __future__ import annotations

import threading

from werkzeug.serving import BaseWSGIServer, make_server


def serve_in_background(app: object, *, host: str, port: int) -> BaseWSGIServer:
    server = make_server(host, port, app, threaded=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, name=f"ops-http-{port}", daemon=True)
    thread.start()
    return server
