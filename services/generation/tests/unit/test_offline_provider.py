"""The offline provider: a labelled, deterministic placeholder PNG sized for the aspect ratio."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image

from generation.adapters.provider import OFFLINE_LABEL, GeminiProvider, OfflineProvider, build_provider
from generation.domain.ports import ErrorClass, ImageRequest, ProviderError

_BASE = ImageRequest(
    model="gemini-2.5-flash-image",
    prompt="A sunlit loft with plants and a reading chair " * 10,
    aspect_ratio="1:1",
    request_id="job-7:1",
)


def image_request(**changes: Any) -> ImageRequest:
    return replace(_BASE, **changes)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("aspect_ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("16:9", (1024, 576)),
        ("9:16", (576, 1024)),
        ("4:3", (1024, 768)),
        ("3:4", (768, 1024)),
        ("3:2", (1024, 683)),
        ("21:9", (1024, 439)),
    ],
)
def test_the_long_side_is_1024_and_the_ratio_holds(aspect_ratio: str, size: tuple[int, int]) -> None:
    image = OfflineProvider().generate(image_request(aspect_ratio=aspect_ratio))

    assert (image.width, image.height) == size
    assert decoded(image.data).size == size


def test_a_png_with_zero_usage_and_an_offline_id() -> None:
    image = OfflineProvider().generate(image_request())

    png = decoded(image.data)
    assert (png.format, image.mime_type) == ("PNG", "image/png")
    assert png.info["Description"] == OFFLINE_LABEL
    assert (image.usage.prompt_tokens, image.usage.candidate_tokens, image.usage.total_tokens) == (0, 0, 0)
    assert image.provider_request_id == "offline-job-7:1"


def test_the_same_request_renders_the_same_bytes() -> None:
    provider = OfflineProvider()

    first = provider.generate(image_request())
    assert provider.generate(image_request()).data == first.data
    assert provider.generate(image_request(prompt="Another room")).data != first.data
    assert provider.generate(image_request(request_id="job-8:1")).data != first.data


def test_the_label_is_drawn_in_a_band_at_the_top() -> None:
    image = decoded(OfflineProvider().generate(image_request(aspect_ratio="16:9")).data).convert("RGB")
    width, height = image.size

    band = image.crop((0, 0, width, height // 8))
    colours = {colour for _count, colour in band.getcolors(maxcolors=width * height) or []}
    assert (150, 20, 30) in colours  # the band
    assert (255, 255, 255) in colours  # the label's letters on it
    white = sum(count for count, colour in band.getcolors(maxcolors=width * height) or [] if colour == (255, 255, 255))
    assert white > 500  # whole words, not a stray pixel


def test_the_prompt_is_written_below_the_label() -> None:
    with_text = decoded(OfflineProvider().generate(image_request()).data).convert("RGB")
    width, height = with_text.size

    body = with_text.crop((0, height // 4, width, height // 2))
    assert len(body.getcolors(maxcolors=width * height) or []) >= 2  # ink on the background, not a blank area


def test_an_unreadable_aspect_ratio_is_an_invalid_request() -> None:
    with pytest.raises(ProviderError) as caught:
        OfflineProvider().generate(image_request(aspect_ratio="wide"))

    assert caught.value.error_class is ErrorClass.INVALID_REQUEST


def test_latency_is_simulated() -> None:
    started = time.monotonic()
    OfflineProvider(latency_s=0.05).generate(image_request())

    assert time.monotonic() - started >= 0.05


def test_build_provider_picks_gemini_only_with_a_key() -> None:
    assert isinstance(build_provider(None, None, 30), OfflineProvider)
    assert isinstance(build_provider("  ", None, 30), OfflineProvider)
    gemini = build_provider("a-key", "http://127.0.0.1:9", 30)
    assert isinstance(gemini, GeminiProvider)
    assert gemini.name == "gemini"
    gemini.close()
