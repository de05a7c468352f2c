"""A local stand-in for the Gemini API that speaks its REST wire format, for tests and benchmarks.

The real google-genai SDK is pointed at it (`HttpOptions(base_url=server.base_url)`) and sends
`POST /{version}/models/{model}:generateContent`; the server answers with what a test scripted: each request
takes the next queued `Behaviour`, or `default` (a success) once the queue is empty. Every request is recorded,
including those refused for a wrong key, so tests can count exactly what the SDK sent.

    with GeminiWireServer() as server:
        server.script(rate_limited(retry_after_s=3), success(width=32, height=18))
        ...
"""

from __future__ import annotations

import base64
import email.utils
import functools
import io
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from PIL import Image

_GENERATE = re.compile(r"^/(?P<version>v1\w*)/models/(?P<model>[^/:]+):generateContent$")
_JSON = "application/json; charset=UTF-8"
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the server received it."""

    seq: int  # 1, 2, … in arrival order
    method: str
    path: str  # without the query string
    api_version: str | None  # "v1beta", … (None when the path is not generateContent)
    model: str | None  # "gemini-2.5-flash-image", without "models/"
    headers: Mapping[str, str]  # names lower-cased
    body: Any  # the parsed JSON, None when the body was not JSON
    at: float  # time.monotonic() on arrival
    response_id: str  # what a success answers as `responseId`

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def generation_config(self) -> dict[str, Any]:
        return dict((self.body or {}).get("generationConfig") or {})

    @property
    def aspect_ratio(self) -> str | None:
        image_config = self.generation_config.get("imageConfig") or {}
        return image_config.get("aspectRatio")

    @property
    def parts(self) -> list[dict[str, Any]]:
        """The parts of all contents, in order."""
        return [part for content in (self.body or {}).get("contents", []) for part in content.get("parts", [])]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = _JSON
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Behaviour:
    """One scripted answer: what to send, after how long, and whether to wait for a test's go-ahead first.

    `answer` returns None to drop the connection without a response.
    """

    answer: Callable[[RecordedRequest], Reply | None]
    label: str
    delay_s: float = 0.0
    hold: threading.Event | None = None  # when set, the request blocks until the event is set


# --- behaviours ------------------------------------------------------------------------------------------------


def success(
    *,
    width: int = 64,
    height: int = 64,
    prompt_tokens: int = 12,
    candidate_tokens: int = 1290,
    text: str | None = None,
    delay_s: float = 0.0,
) -> Behaviour:
    """A candidate with one PNG (and optionally a text part before it), with usage, like an image model answers."""
    data = base64.b64encode(_png(width, height)).decode("ascii")

    def answer(request: RecordedRequest) -> Reply:
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        parts.append({"inlineData": {"mimeType": "image/png", "data": data}})
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        return _json(200, _response(request, [candidate], prompt_tokens, candidate_tokens))

    return Behaviour(answer, f"success({width}x{height})", delay_s=delay_s)


def api_error(
    code: int,
    message: str,
    *,
    status: str | None = None,
    details: tuple[dict[str, Any], ...] = (),
    headers: tuple[tuple[str, str], ...] = (),
) -> Behaviour:
    """Google's JSON error envelope: {"error": {"code", "message", "status", "details"}}."""
    reply = _error_reply(code, message, status=status, details=details, headers=headers)
    return Behaviour(lambda _request: reply, f"api_error({code})")


def rate_limited(
    retry_after_s: float = 2.0,
    *,
    header: Literal["seconds", "date"] | None = "seconds",
    retry_info: bool = True,
) -> Behaviour:
    """429 RESOURCE_EXHAUSTED with a `Retry-After` header (seconds or an HTTP date) and/or a RetryInfo detail."""
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests"}],
        }
    ]
    if retry_info:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after_s:g}s"})

    def answer(_request: RecordedRequest) -> Reply:
        headers: tuple[tuple[str, str], ...] = ()
        if header == "seconds":
            headers = (("Retry-After", str(math.ceil(retry_after_s))),)
        elif header == "date":  # computed per answer: the date must be in the future when it is read
            headers = (("Retry-After", email.utils.formatdate(time.time() + retry_after_s, usegmt=True)),)
        return _error_reply(
            429, "Resource has been exhausted (e.g. check quota).", details=tuple(details), headers=headers
        )

    return Behaviour(answer, f"rate_limited({retry_after_s:g}s, header={header}, retry_info={retry_info})")


def server_error(status: int = 500) -> Behaviour:
    messages = {
        503: "The model is overloaded. Please try again later.",
        504: "Deadline expired before operation could complete.",
    }
    return replace(
        api_error(status, messages.get(status, "Internal error encountered.")), label=f"server_error({status})"
    )


def safety_block(where: Literal["prompt", "candidate"] = "prompt", *, reason: str | None = None) -> Behaviour:
    """A 200 that refuses: `promptFeedback.blockReason` (no candidates), or a candidate's `finishReason`."""

    def answer(request: RecordedRequest) -> Reply:
        if where == "prompt":
            body = _response(request, None, prompt_tokens=12, candidate_tokens=0)
            body["promptFeedback"] = {"blockReason": reason or "PROHIBITED_CONTENT"}
        else:
            candidate = {"finishReason": reason or "IMAGE_SAFETY", "index": 0}
            body = _response(request, [candidate], prompt_tokens=12, candidate_tokens=0)
        return _json(200, body)

    return Behaviour(answer, f"safety_block({where})")


MalformedKind = Literal["not_json", "no_candidates", "no_image", "bad_base64", "not_an_image"]


def malformed(kind: MalformedKind = "no_image") -> Behaviour:
    """A 200 without a usable image: not JSON, no candidates, text only, invalid base64, or bytes that aren't an image."""

    def answer(request: RecordedRequest) -> Reply:
        if kind == "not_json":
            return Reply(200, b"<html><body>upstream hiccup</body></html>", content_type="text/html")
        if kind == "no_candidates":
            return _json(200, _response(request, None, 12, 0))
        not_png = base64.b64encode(b"plain text").decode()
        parts_by_kind: dict[str, list[dict[str, Any]]] = {
            "no_image": [{"text": "Here is a description of the image instead."}],
            "bad_base64": [{"inlineData": {"mimeType": "image/png", "data": "%%not*base64%%"}}],
            "not_an_image": [{"inlineData": {"mimeType": "image/png", "data": not_png}}],
        }
        parts = parts_by_kind[kind]
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        return _json(200, _response(request, [candidate], 12, 7))

    return Behaviour(answer, f"malformed({kind})")


def disconnect() -> Behaviour:
    """Close the connection without answering (the client sees a protocol error)."""
    return Behaviour(lambda _request: None, "disconnect()")


def delay(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """`then` (a success by default), answered after `seconds`."""
    return replace(then or success(), delay_s=seconds)


def hang(until: threading.Event, then: Behaviour | None = None) -> Behaviour:
    """Block until `until` is set (or the server stops), then answer `then` (a success by default)."""
    return replace(then or success(), hold=until)


# --- the server ------------------------------------------------------------------------------------------------


class GeminiWireServer:
    """Serves generateContent on a background thread; one thread per connection, so it takes concurrent load."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str = "test-gemini-key") -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.default: Behaviour = success()
        self.requests: list[RecordedRequest] = []
        self.request_arrived = threading.Event()  # set on every arrival; clear it to wait for the next one
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Condition()
        self._closing = threading.Event()
        self._id_prefix = secrets.token_hex(4)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> GeminiWireServer:
        self._httpd = _HTTPServer((self.host, self.port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="gemini-wire", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, release held requests (they are dropped), and close the socket."""
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> GeminiWireServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def script(self, *behaviours: Behaviour) -> None:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        """Forget the script, the recorded requests and any custom default."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.default = success()
            self.request_arrived.clear()

    def wait_for_requests(self, count: int, timeout_s: float = 5.0) -> bool:
        """Whether at least `count` requests arrived within `timeout_s`."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.requests) >= count, timeout=timeout_s)

    # --- called by the handler threads ---

    def _handle(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> Reply | None:
        url = urlsplit(target)
        match = _GENERATE.match(url.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            seq = len(self.requests) + 1
            request = RecordedRequest(
                seq=seq,
                method=method,
                path=url.path,
                api_version=match["version"] if match else None,
                model=match["model"] if match else None,
                headers=headers,
                body=body,
                at=time.monotonic(),
                response_id=f"wire-{self._id_prefix}-{seq}",
            )
            self.requests.append(request)
            self._lock.notify_all()
            self.request_arrived.set()
            refusal = self._refusal(method, match is not None, headers, url.query, body)
            if refusal is not None:
                return refusal.answer(request)
            behaviour = self._script.popleft() if self._script else self.default
        if behaviour.hold is not None:
            while not behaviour.hold.wait(0.05):
                if self._closing.is_set():
                    return None
        if behaviour.delay_s and self._closing.wait(behaviour.delay_s):
            return None
        return behaviour.answer(request)

    def _refusal(
        self, method: str, is_generate: bool, headers: Mapping[str, str], query: str, body: Any
    ) -> Behaviour | None:
        """What Gemini answers before it runs a model: a wrong path, a missing or wrong key, a body that isn't JSON."""
        if not is_generate or method != "POST":
            return api_error(404, "Requested entity was not found.")
        key = headers.get("x-goog-api-key") or next(iter(parse_qs(query).get("key", [])), None)
        if not key:
            return api_error(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        if key != self.api_key:
            reason = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            return api_error(400, "API key not valid. Please pass a valid API key.", details=(reason,))
        if not isinstance(body, dict) or not body.get("contents"):
            return api_error(400, "* GenerateContentRequest.contents: contents is not specified")
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], wire: GeminiWireServer) -> None:
        self.wire = wire
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up are expected here; don't print their broken pipes."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real endpoint
    server: _HTTPServer

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and benchmarks would drown in access logs."""

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.wire._handle(self.command, self.path, headers, raw)
        if reply is None:
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up (e.g. its timeout) while we were answering
            self.close_connection = True


# --- wire helpers ----------------------------------------------------------------------------------------------


def _json(status: int, body: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(body).encode())


def _error_reply(
    code: int,
    message: str,
    *,
    status: str | None = None,
    details: tuple[dict[str, Any], ...] = (),
    headers: tuple[tuple[str, str], ...] = (),
) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status or _STATUS_NAMES.get(code, "UNKNOWN")}
    if details:
        error["details"] = list(details)
    return Reply(code, json.dumps({"error": error}).encode(), headers=headers)


def _response(
    request: RecordedRequest, candidates: list[dict[str, Any]] | None, prompt_tokens: int, candidate_tokens: int
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": candidate_tokens,
            "totalTokenCount": prompt_tokens + candidate_tokens,
        },
        "modelVersion": request.model,
        "responseId": request.response_id,
    }
    if candidates is not None:
        body["candidates"] = candidates
    return body


@functools.lru_cache(maxsize=32)
def _png(width: int, height: int) -> bytes:
    """A tiny real PNG (cached: benchmarks ask for the same few sizes many times)."""
    image = Image.new("RGB", (width, height), (70, 130, 180))
    image.paste((240, 200, 80), (0, 0, width // 2, height // 2))  # not uniform, so it's visibly an image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
