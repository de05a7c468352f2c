"""A local S3-compatible server (moto) for tests, benchmarks and the embedded run.

moto is a development dependency, so it is imported only when a server starts. The server runs in a daemon thread of
this process; it keeps its state in moto's process-wide backends, so two servers in one process (or a `mock_aws`
block) see the same buckets — use distinct bucket names per test.

moto's own `ThreadedMotoServer` would do, except that moto accepts what S3 refuses, and the storage adapter relies
on S3 refusing it: an expired presigned URL (moto serves it) and a body that doesn't match its Content-MD5 (moto
stores it). So this runs moto's WSGI app behind a small guard enforcing both, and its `stop` also closes the
listening socket, so a client of a stopped server is refused at once instead of waiting for a read timeout.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import threading
import time
from calendar import timegm
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment


class S3WireServer:
    """`with S3WireServer() as s3: s3.create_bucket("b"); S3Storage("b", endpoint_url=s3.endpoint_url, ...)`."""

    # moto checks no signature; these only have to be present (and are passed to clients explicitly, not via env).
    access_key_id = "scenergy-test-key"
    secret_access_key = "scenergy-test-secret"
    region = "us-east-1"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the S3 wire server is not running")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> S3WireServer:
        if self._server is not None:
            return self
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass  # one line per request drowns benchmark output

        app = _S3Guard(DomainDispatcherApplication(create_backend_app))
        # Bound here, not in the thread: the port is known (port=0 picks a free one) and errors surface to the caller.
        self._server = make_server(self.host, self._port, app, threaded=True, request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3-wire-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> S3WireServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def client(self) -> Any:
        """A boto3 S3 client for this server, with the test credentials set on it."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str) -> None:
        """Create the bucket; no error when it exists already."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)


class _S3Guard:
    """WSGI middleware refusing, as S3 does, expired presigned URLs (403) and bodies failing Content-MD5 (400)."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if _presign_expired(query):
            return _xml_error(start_response, "403 Forbidden", "AccessDenied", "Request has expired")
        expected_md5 = environ.get("HTTP_CONTENT_MD5")
        length = environ.get("CONTENT_LENGTH")
        if expected_md5 and length:
            body = environ["wsgi.input"].read(int(length))
            environ["wsgi.input"] = io.BytesIO(body)
            actual_md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode("ascii")
            if actual_md5 != expected_md5:
                message = "The Content-MD5 you specified did not match what we received."
                return _xml_error(start_response, "400 Bad Request", "BadDigest", message)
        return self._app(environ, start_response)


def _presign_expired(query: dict[str, list[str]]) -> bool:
    """SigV4 query signing: X-Amz-Date (UTC, YYYYMMDDTHHMMSSZ) plus X-Amz-Expires seconds."""
    signed_at, expires = query.get("X-Amz-Date"), query.get("X-Amz-Expires")
    if not signed_at or not expires:
        return False
    try:
        start = timegm(time.strptime(signed_at[0], "%Y%m%dT%H%M%SZ"))
        return time.time() > start + int(expires[0])
    except ValueError:
        return True  # malformed: S3 refuses it too


def _xml_error(start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    ).encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]
