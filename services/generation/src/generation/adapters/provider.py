"""Image providers: Gemini through the google-genai SDK, and an offline placeholder renderer.

Only this module speaks to the model. It turns every way a call can go wrong into a classified `ProviderError`
(see `generation.domain.ports.ErrorClass`), so the job runner decides retries from the class alone.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import ipaddress
import json
import mimetypes
import re
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from generation.domain.ports import ErrorClass, GeneratedImage, ImageProvider, ImageRequest, ProviderError, Usage

# A candidate that stopped for one of these was refused by the model; anything else without an image is malformed.
_SAFETY_FINISH_REASONS = frozenset(
    {
        types.FinishReason.SAFETY,
        types.FinishReason.IMAGE_SAFETY,
        types.FinishReason.PROHIBITED_CONTENT,
        types.FinishReason.IMAGE_PROHIBITED_CONTENT,
        types.FinishReason.BLOCKLIST,
        types.FinishReason.SPII,
        types.FinishReason.RECITATION,
        types.FinishReason.IMAGE_RECITATION,
    }
)
_MESSAGE_LIMIT = 200


class GeminiProvider:
    """One `generateContent` call per `generate()`: the SDK's own retries are off, the job runner owns retrying."""

    name = "gemini"

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout_s: float = 120.0) -> None:
        self._api_key = api_key.strip()
        self._timeout_s = timeout_s
        self._client = genai.Client(
            vertexai=False,  # never let GOOGLE_GENAI_USE_VERTEXAI in the environment switch the backend
            api_key=self._api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                timeout=_ms(timeout_s),
                retry_options=types.HttpRetryOptions(attempts=1),
                # A local stand-in (tests, the embedded run) must not be reached through a developer's HTTP proxy.
                client_args={"trust_env": False} if _is_loopback(base_url) else None,
            ),
        )

    def close(self) -> None:
        self._client.close()

    def generate(self, request: ImageRequest) -> GeneratedImage:
        with self._classified():
            response = self._client.models.generate_content(
                model=request.model, contents=_contents(request), config=_config(request, self._timeout_s)
            )
        return _image_from(response)

    @contextmanager
    def _classified(self) -> Iterator[None]:
        """Translate whatever the SDK or its HTTP client raises into a ProviderError without the key in it."""
        try:
            yield
        except genai_errors.APIError as exc:
            raise self._scrubbed(_from_api_error(exc)) from None
        except httpx2.TimeoutException:
            raise ProviderError(ErrorClass.TIMEOUT, "Gemini did not answer in time") from None
        except httpx2.TransportError as exc:  # connection refused, reset, dropped mid-answer
            raise ProviderError(ErrorClass.SERVER_ERROR, f"Could not reach Gemini ({type(exc).__name__})") from None
        except (json.JSONDecodeError, pydantic.ValidationError, genai_errors.UnknownApiResponseError):
            raise ProviderError(
                ErrorClass.MALFORMED_RESPONSE, "Gemini answered with a response the SDK can't read"
            ) from None
        except ValueError as exc:  # the SDK checks arguments (e.g. the model name) before it sends anything
            raise self._scrubbed(ProviderError(ErrorClass.INVALID_REQUEST, f"Invalid Gemini request: {exc}")) from None
        except Exception as exc:
            raise ProviderError(ErrorClass.INTERNAL, f"Unexpected error calling Gemini ({type(exc).__name__})") from exc

    def _scrubbed(self, error: ProviderError) -> ProviderError:
        if self._api_key and self._api_key in error.message:
            error.message = error.message.replace(self._api_key, "[api key]")
            error.args = (error.message,)
        return error


def _contents(request: ImageRequest) -> types.Content:
    """One user turn: the prompt, then the inspiration images by URL (Gemini fetches them)."""
    parts = [types.Part.from_text(text=request.prompt)]
    parts += [types.Part.from_uri(file_uri=url, mime_type=_image_mime(url)) for url in request.inspiration_images]
    return types.Content(role="user", parts=parts)


def _config(request: ImageRequest, timeout_cap_s: float) -> types.GenerateContentConfig:
    headers = {"X-Request-Id": request.request_id} if request.request_id else None
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=request.aspect_ratio),
        automatic_continuation=False,  # a CONTINUATION answer must not turn into hidden follow-up calls
        # The request's own budget, never more than the provider's: per request, it also sets X-Server-Timeout.
        http_options=types.HttpOptions(timeout=_ms(min(request.timeout_s, timeout_cap_s)), headers=headers),
    )


def _from_api_error(exc: genai_errors.APIError) -> ProviderError:
    code, status = exc.code, exc.status or ""
    said = _short(exc.message or "")
    what = f"{code} {status}".strip()
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        retry_after = _retry_after_s(exc)
        when = f"; retry in {retry_after:g}s" if retry_after is not None else ""
        return ProviderError(
            ErrorClass.RATE_LIMITED, f"Gemini rate limit ({what}){when}", http_status=code, retry_after_s=retry_after
        )
    if code == 408:
        return ProviderError(ErrorClass.TIMEOUT, f"Gemini timed out the request ({what})", http_status=code)
    if 400 <= code < 500:
        return ProviderError(
            ErrorClass.INVALID_REQUEST, f"Gemini rejected the request ({what}): {said}", http_status=code
        )
    return ProviderError(ErrorClass.SERVER_ERROR, f"Gemini server error ({what}): {said}", http_status=code)


def _retry_after_s(exc: genai_errors.APIError) -> float | None:
    """From the `Retry-After` header (seconds or an HTTP date), else from the google.rpc.RetryInfo detail."""
    headers = getattr(exc.response, "headers", None) or {}
    value = str(headers.get("retry-after") or "").strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=UTC)  # "-0000" parses as naive UTC
            return max(0.0, round(when.timestamp() - time.time(), 3))
    error = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(detail.get("retryDelay", "")).strip())
            if match:
                return float(match[1])
    return None


def _image_from(response: types.GenerateContentResponse) -> GeneratedImage:
    """The image of a 200, or a SAFETY_BLOCKED / MALFORMED_RESPONSE error carrying the response id and usage."""
    usage = _usage(response.usage_metadata)
    response_id = response.response_id

    def fail(error_class: ErrorClass, message: str) -> ProviderError:
        return ProviderError(error_class, message, http_status=200, provider_request_id=response_id, usage=usage)

    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise fail(ErrorClass.SAFETY_BLOCKED, f"Gemini blocked the prompt ({_enum_name(feedback.block_reason)})")
    if not response.candidates:
        raise fail(ErrorClass.MALFORMED_RESPONSE, "Gemini answered without a candidate")
    candidate = response.candidates[0]
    if candidate.finish_reason in _SAFETY_FINISH_REASONS:
        raise fail(ErrorClass.SAFETY_BLOCKED, f"Gemini refused the image ({_enum_name(candidate.finish_reason)})")
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    blob = next((p.inline_data for p in parts if p.inline_data and p.inline_data.data), None)
    if blob is None or blob.data is None:
        reason = f", finish reason {_enum_name(candidate.finish_reason)}" if candidate.finish_reason else ""
        raise fail(ErrorClass.MALFORMED_RESPONSE, f"Gemini answered without an image{reason}")
    try:
        with Image.open(io.BytesIO(blob.data)) as image:
            image.load()  # decode fully: a truncated file must fail here, not in a browser
            size, mime_type = image.size, Image.MIME.get(image.format or "")
    except Exception:
        raise fail(ErrorClass.MALFORMED_RESPONSE, "Gemini's image could not be decoded") from None
    return GeneratedImage(
        data=blob.data,
        mime_type=mime_type or blob.mime_type or "application/octet-stream",
        width=size[0],
        height=size[1],
        usage=usage,
        provider_request_id=response_id,
        model_version=response.model_version,
    )


def _usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> Usage:
    if metadata is None:
        return Usage()
    return Usage(
        prompt_tokens=metadata.prompt_token_count or 0,
        candidate_tokens=metadata.candidates_token_count or 0,
        total_tokens=metadata.total_token_count or 0,
    )


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _image_mime(url: str) -> str:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


def _is_loopback(base_url: str | None) -> bool:
    host = urlsplit(base_url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- offline -----------------------------------------------------------------------------------------------------

OFFLINE_LABEL = "OFFLINE PREVIEW — not generated by a model"
_LONG_SIDE = 1024
_BAND_RGB = (150, 20, 30)  # the label band: a colour no one mistakes for a render
_BACKGROUND, _BAND, _WHITE, _INK = range(4)  # palette indexes


class OfflineProvider:
    """Renders a labelled placeholder PNG: the platform runs end to end without a key, and nobody mistakes it for art."""

    name = "offline"

    def __init__(self, *, latency_s: float = 0.0) -> None:
        self._latency_s = latency_s

    def generate(self, request: ImageRequest) -> GeneratedImage:
        width, height = offline_size(request.aspect_ratio)
        if self._latency_s:
            time.sleep(self._latency_s)
        data = _render_placeholder(request, width, height)
        return GeneratedImage(
            data=data,
            mime_type="image/png",
            width=width,
            height=height,
            usage=Usage(),
            provider_request_id=f"offline-{request.request_id}",
            model_version="offline",
        )


def offline_size(aspect_ratio: str) -> tuple[int, int]:
    """The placeholder's size: the long side 1024, the other from the ratio ("16:9" → 1024x576)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*", aspect_ratio)
    w, h = (float(match[1]), float(match[2])) if match else (0.0, 0.0)
    if w <= 0 or h <= 0:
        raise ProviderError(ErrorClass.INVALID_REQUEST, f"Unsupported aspect ratio {aspect_ratio[:20]!r}")
    if w >= h:
        return _LONG_SIDE, max(1, round(_LONG_SIDE * h / w))
    return max(1, round(_LONG_SIDE * w / h)), _LONG_SIDE


def _render_placeholder(request: ImageRequest, width: int, height: int) -> bytes:
    # A 4-colour palette image: crisp text, and a PNG that encodes in a couple of ms even at 1024x1024.
    seed = hashlib.sha256(f"{request.model}\0{request.prompt}".encode()).digest()
    background = [200 + seed[0] % 48, 200 + seed[1] % 48, 200 + seed[2] % 48]  # pale; the same for the same prompt
    image = Image.new("P", (width, height), _BACKGROUND)
    image.putpalette([*background, *_BAND_RGB, 255, 255, 255, 30, 30, 30])
    draw = ImageDraw.Draw(image)
    scale = min(width, height) / _LONG_SIDE
    title_px, body_px, margin = max(14, round(64 * scale)), max(10, round(26 * scale)), max(8, round(40 * scale))
    title, body = ImageFont.load_default(size=title_px), ImageFont.load_default(size=body_px)

    # The bundled font has no em dash, so the label is drawn on two lines rather than with a missing glyph.
    band_height = round(title_px * 1.4 + body_px * 1.6 + margin)
    draw.rectangle((0, 0, width, band_height), fill=_BAND)
    draw.text((margin, margin // 2), "OFFLINE PREVIEW", font=title, fill=_WHITE)
    draw.text((margin, margin // 2 + round(title_px * 1.3)), "not generated by a model", font=body, fill=_WHITE)

    columns = max(20, int((width - 2 * margin) / (body_px * 0.55)))
    prompt = request.prompt if len(request.prompt) <= 300 else request.prompt[:299] + "…"
    lines = textwrap.wrap(prompt, columns, max_lines=12, placeholder=" …") or ["(empty prompt)"]
    lines += ["", f"model: {request.model}", f"request: {request.request_id or '-'}"]
    y = band_height + margin
    for line in lines:
        if y + body_px > height - margin:
            break
        draw.text((margin, y), line, font=body, fill=_INK)
        y += round(body_px * 1.35)

    info = PngInfo()
    info.add_text("Description", OFFLINE_LABEL)  # machine-readable too, for tools that never look at pixels
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=1)  # speed over size: it's a placeholder
    return buffer.getvalue()


def build_provider(api_key: str | None, base_url: str | None, timeout_s: float) -> ImageProvider:
    """Gemini when a key is configured, else the offline renderer."""
    if api_key and api_key.strip():
        return GeminiProvider(api_key, base_url=base_url, timeout_s=timeout_s)
    return OfflineProvider()
