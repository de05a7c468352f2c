"""GeminiProvider with the real google-genai SDK against the local Gemini wire server: what reaches the wire, and
how every kind of answer is classified. Each generate() must be exactly one HTTP request: retrying is the job
runner's decision, never the SDK's."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image

from generation.adapters.provider import GeminiProvider
from generation.domain.ports import ErrorClass, ImageRequest, ProviderError
from scenergy_dev.wire.gemini import (
    Behaviour,
    GeminiWireServer,
    MalformedKind,
    api_error,
    delay,
    disconnect,
    hang,
    malformed,
    rate_limited,
    safety_block,
    server_error,
    success,
)

MODEL = "gemini-2.5-flash-image"


@pytest.fixture(scope="module")
def server() -> Iterator[GeminiWireServer]:
    with GeminiWireServer() as running:
        yield running


@pytest.fixture
def wire(server: GeminiWireServer) -> GeminiWireServer:
    server.reset()
    return server


@pytest.fixture
def provider(wire: GeminiWireServer) -> Iterator[GeminiProvider]:
    gemini = GeminiProvider(wire.api_key, base_url=wire.base_url, timeout_s=10)
    yield gemini
    gemini.close()


_BASE = ImageRequest(
    model=MODEL,
    prompt="A sunlit loft with plants",
    aspect_ratio="1:1",
    request_id="job-7:1",
)


def image_request(**changes: Any) -> ImageRequest:
    return replace(_BASE, **changes)


def failure(provider: GeminiProvider, wire: GeminiWireServer, request: ImageRequest | None = None) -> ProviderError:
    """The classified error of one generate(), after checking that it cost exactly one HTTP request."""
    with pytest.raises(ProviderError) as caught:
        provider.generate(request or image_request())
    assert len(wire.requests) == 1, [r.path for r in wire.requests]
    assert wire.api_key not in str(caught.value)
    return caught.value


# --- success ---------------------------------------------------------------------------------------------------


def test_success_returns_the_image_usage_and_ids(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    wire.script(success(width=48, height=27, prompt_tokens=20, candidate_tokens=1290))

    image = provider.generate(image_request(aspect_ratio="16:9"))

    with Image.open(io.BytesIO(image.data)) as decoded:
        assert (decoded.format, decoded.size) == ("PNG", (48, 27))
    assert (image.mime_type, image.width, image.height) == ("image/png", 48, 27)
    assert (image.usage.prompt_tokens, image.usage.candidate_tokens, image.usage.total_tokens) == (20, 1290, 1310)
    [sent] = wire.requests
    assert image.provider_request_id == sent.response_id
    assert image.model_version == MODEL


def test_the_request_on_the_wire(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    provider.generate(
        image_request(
            prompt="Scandinavian kitchen",
            aspect_ratio="9:16",
            inspiration_images=("https://cdn.example/a.png?sig=1", "https://cdn.example/moodboard"),
        )
    )

    [sent] = wire.requests
    assert (sent.method, sent.model) == ("POST", MODEL)
    assert sent.aspect_ratio == "9:16"
    assert sent.generation_config["responseModalities"] == ["IMAGE"]
    assert sent.header("x-goog-api-key") == wire.api_key
    assert sent.header("x-request-id") == "job-7:1"
    text, *files = sent.parts
    assert text == {"text": "Scandinavian kitchen"}
    # The SDK sends fileData's fields in snake_case; Gemini's JSON parser takes both spellings.
    uris = [(f["fileData"].get("fileUri") or f["fileData"]["file_uri"]) for f in files]
    mimes = [(f["fileData"].get("mimeType") or f["fileData"]["mime_type"]) for f in files]
    assert uris == ["https://cdn.example/a.png?sig=1", "https://cdn.example/moodboard"]
    assert mimes == ["image/png", "image/jpeg"]


def test_no_request_id_header_without_a_request_id(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    provider.generate(image_request(request_id=""))

    assert wire.requests[0].header("x-request-id") is None


def test_a_text_part_before_the_image_is_skipped(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    wire.script(success(width=10, height=20, text="Here is your loft."))

    image = provider.generate(image_request())

    assert (image.width, image.height) == (10, 20)


def test_concurrent_calls_share_one_client(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    wire.default = success(delay_s=0.1)
    results: list[str | None] = []

    def call(n: int) -> None:
        results.append(provider.generate(image_request(request_id=f"job-{n}:1")).provider_request_id)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(set(results)) == 8
    assert {r.header("x-request-id") for r in wire.requests} == {f"job-{n}:1" for n in range(8)}


# --- rate limits -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "low", "high"),
    [
        pytest.param(rate_limited(7, header="seconds", retry_info=True), 7, 7, id="header-seconds"),
        pytest.param(rate_limited(12, header="seconds", retry_info=False), 12, 12, id="header-only"),
        pytest.param(rate_limited(30, header="date", retry_info=False), 27, 30, id="header-http-date"),
        pytest.param(rate_limited(1.5, header=None, retry_info=True), 1.5, 1.5, id="retry-info-only"),
    ],
)
def test_429_is_rate_limited_with_its_retry_after(
    provider: GeminiProvider, wire: GeminiWireServer, behaviour: Behaviour, low: float, high: float
) -> None:
    wire.script(behaviour)

    error = failure(provider, wire)

    assert error.error_class is ErrorClass.RATE_LIMITED
    assert error.retryable
    assert error.http_status == 429
    assert error.retry_after_s is not None
    assert low <= error.retry_after_s <= high


def test_429_without_a_hint_has_no_retry_after(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    wire.script(rate_limited(5, header=None, retry_info=False))

    error = failure(provider, wire)

    assert (error.error_class, error.retry_after_s) == (ErrorClass.RATE_LIMITED, None)


# --- server and request errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_a_retryable_server_error(provider: GeminiProvider, wire: GeminiWireServer, status: int) -> None:
    wire.script(server_error(status))

    error = failure(provider, wire)

    assert error.error_class is ErrorClass.SERVER_ERROR
    assert error.retryable
    assert error.http_status == status


@pytest.mark.parametrize("status", [400, 403, 404])
def test_4xx_is_an_invalid_request(provider: GeminiProvider, wire: GeminiWireServer, status: int) -> None:
    wire.script(api_error(status, "Unsupported aspect ratio."))

    error = failure(provider, wire)

    assert error.error_class is ErrorClass.INVALID_REQUEST
    assert not error.retryable
    assert error.http_status == status
    assert "Unsupported aspect ratio." in error.message


def test_a_wrong_api_key_is_an_invalid_request(wire: GeminiWireServer) -> None:
    wrong = GeminiProvider("wrong-key-0123456789", base_url=wire.base_url, timeout_s=5)
    try:
        error = failure(wrong, wire)
    finally:
        wrong.close()

    assert error.error_class is ErrorClass.INVALID_REQUEST
    assert error.http_status == 400
    assert "wrong-key-0123456789" not in error.message
    assert wire.requests[0].header("x-goog-api-key") == "wrong-key-0123456789"


def test_the_api_key_is_scrubbed_even_when_the_server_echoes_it(
    provider: GeminiProvider, wire: GeminiWireServer
) -> None:
    wire.script(api_error(400, f"API key {wire.api_key} is not allowed for this model."))

    error = failure(provider, wire)

    assert error.error_class is ErrorClass.INVALID_REQUEST
    assert "[api key]" in error.message


def test_an_invalid_model_name_fails_before_sending(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    with pytest.raises(ProviderError) as caught:
        provider.generate(image_request(model="../admin"))

    assert caught.value.error_class is ErrorClass.INVALID_REQUEST
    assert wire.requests == []


# --- refusals and malformed answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(safety_block("prompt"), id="prompt-feedback"),
        pytest.param(safety_block("prompt", reason="SAFETY"), id="prompt-safety"),
        pytest.param(safety_block("candidate"), id="finish-image-safety"),
        pytest.param(safety_block("candidate", reason="PROHIBITED_CONTENT"), id="finish-prohibited"),
        pytest.param(safety_block("candidate", reason="RECITATION"), id="finish-recitation"),
    ],
)
def test_a_safety_block_is_final(provider: GeminiProvider, wire: GeminiWireServer, behaviour: Behaviour) -> None:
    wire.script(behaviour)

    error = failure(provider, wire)

    assert error.error_class is ErrorClass.SAFETY_BLOCKED
    assert not error.retryable
    assert error.provider_request_id == wire.requests[0].response_id
    assert error.usage.prompt_tokens == 12


@pytest.mark.parametrize("kind", ["not_json", "no_candidates", "no_image", "bad_base64", "not_an_image"])
def test_a_200_without_a_usable_image_is_malformed(
    provider: GeminiProvider, wire: GeminiWireServer, kind: MalformedKind
) -> None:
    wire.script(malformed(kind))

    error = failure(provider, wire)

    assert error.error_class is ErrorClass.MALFORMED_RESPONSE
    assert not error.retryable
    if kind in ("no_candidates", "no_image", "not_an_image"):  # the SDK parsed the response: its id is known
        assert error.provider_request_id == wire.requests[0].response_id


# --- time and transport ----------------------------------------------------------------------------------------


def test_an_answer_slower_than_the_request_timeout_is_a_timeout(
    provider: GeminiProvider, wire: GeminiWireServer
) -> None:
    wire.script(delay(3))
    started = time.monotonic()

    error = failure(provider, wire, image_request(timeout_s=0.3))

    assert error.error_class is ErrorClass.TIMEOUT
    assert error.retryable
    assert time.monotonic() - started < 2
    assert wire.requests[0].header("x-server-timeout") == "1"  # the SDK tells the server the budget, rounded up


def test_the_provider_timeout_caps_the_request_timeout(wire: GeminiWireServer) -> None:
    wire.script(delay(3))
    impatient = GeminiProvider(wire.api_key, base_url=wire.base_url, timeout_s=0.3)
    try:
        error = failure(impatient, wire, image_request(timeout_s=120))
    finally:
        impatient.close()

    assert error.error_class is ErrorClass.TIMEOUT


def test_a_refused_connection_is_retryable(wire: GeminiWireServer) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = GeminiProvider(wire.api_key, base_url=f"http://127.0.0.1:{port}", timeout_s=5)
    try:
        with pytest.raises(ProviderError) as caught:
            closed.generate(image_request())
    finally:
        closed.close()

    assert caught.value.error_class is ErrorClass.SERVER_ERROR
    assert caught.value.retryable
    assert wire.api_key not in str(caught.value)


def test_a_dropped_connection_is_retryable(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    wire.script(disconnect())

    error = failure(provider, wire)

    assert error.error_class is ErrorClass.SERVER_ERROR
    assert error.retryable


def test_a_held_request_answers_once_released(provider: GeminiProvider, wire: GeminiWireServer) -> None:
    release = threading.Event()
    wire.script(hang(release, then=success(width=8, height=8)))
    sizes: list[tuple[int, int]] = []

    def call() -> None:
        image = provider.generate(image_request())
        sizes.append((image.width, image.height))

    caller = threading.Thread(target=call)

    caller.start()
    assert wire.request_arrived.wait(5)
    time.sleep(0.1)
    assert sizes == []  # still held
    release.set()
    caller.join(timeout=5)

    assert sizes == [(8, 8)]
