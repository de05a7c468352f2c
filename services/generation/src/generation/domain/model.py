"""Jobs, their states and settings, the compiled prompt, and the retry schedule. No framework imports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from generation.domain import errors
from scenergy.common.backoff import Backoff


class JobStatus(StrEnum):
    PENDING = "pending"
    GENERATING = "generating"
    COMPLETED = "completed"
    ERROR = "error"  # failed for good (safety block, invalid request)
    CANCELLED = "cancelled"
    DEAD = "dead"  # the last attempt failed with an error worth retrying

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.ERROR, JobStatus.CANCELLED, JobStatus.DEAD})
ACTIVE = (JobStatus.PENDING, JobStatus.GENERATING)
FAILED = (JobStatus.ERROR, JobStatus.DEAD, JobStatus.CANCELLED)


class Stage(StrEnum):
    QUEUED = "queued"
    CALLING_MODEL = "calling_model"
    UPLOADING = "uploading"
    FINALIZING = "finalizing"


# The percent shown for each stage; the model call is the long part, so it spans most of the bar.
STAGE_PROGRESS = {Stage.QUEUED: 0, Stage.CALLING_MODEL: 10, Stage.UPLOADING: 80, Stage.FINALIZING: 95}


class Settlement(StrEnum):
    """Where the job's credit hold is. `*_pending` is settled after the commit, and swept if a worker dies."""

    NONE = "none"  # an admin job: no credits
    HELD = "held"
    CAPTURE_PENDING = "capture_pending"
    CAPTURED = "captured"
    RELEASE_PENDING = "release_pending"
    RELEASED = "released"


class AttemptOutcome(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    RETRYABLE_ERROR = "retryable_error"
    FATAL_ERROR = "fatal_error"
    WORKER_LOST = "worker_lost"
    CANCELLED = "cancelled"  # the job was cancelled while this attempt ran
    SUPERSEDED = "superseded"  # the lease passed to another attempt


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
ROOM_TYPES = (
    "living_room",
    "bedroom",
    "dining_room",
    "kitchen",
    "office",
    "bathroom",
    "kids_room",
    "outdoor",
    "hallway",
    "studio",
)
STYLES = (
    "modern",
    "scandinavian",
    "minimalist",
    "industrial",
    "bohemian",
    "mid_century",
    "traditional",
    "coastal",
    "farmhouse",
    "japandi",
    "luxury",
)
LIGHTING = ("natural", "warm", "bright", "evening", "studio", "dramatic")

MAX_PRODUCTS = 10
MAX_INSPIRATION_IMAGES = 5
MAX_INSTRUCTIONS = 2000
_URL_RE = re.compile(r"^https://[^\s<>\"']{1,2000}$")
_MODEL_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,80}$")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    image_url: str = ""
    description: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "image_url": self.image_url, "description": self.description}


@dataclass(frozen=True)
class JobSettings:
    room_type: str
    style: str
    lighting: str
    aspect_ratio: str
    model: str

    def to_dict(self) -> dict[str, str]:
        return {
            "room_type": self.room_type,
            "style": self.style,
            "lighting": self.lighting,
            "aspect_ratio": self.aspect_ratio,
            "model": self.model,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSettings:
        return cls(**{key: str(data[key]) for key in ("room_type", "style", "lighting", "aspect_ratio", "model")})


def _choice(value: str, allowed: tuple[str, ...], field_name: str, default: str) -> str:
    value = (value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if not value:
        return default
    if value not in allowed:
        raise errors.InvalidArgument(f"{field_name} must be one of {', '.join(allowed)}")
    return value


def validate_settings(
    *,
    room_type: str,
    style: str,
    lighting: str,
    aspect_ratio: str,
    model: str,
    default_model: str,
    models: tuple[str, ...],
) -> JobSettings:
    ratio = (aspect_ratio or "").strip() or "1:1"
    if ratio not in ASPECT_RATIOS:
        raise errors.InvalidArgument(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    chosen_model = (model or "").strip() or default_model
    if not _MODEL_RE.fullmatch(chosen_model) or chosen_model not in models:
        raise errors.InvalidArgument(f"model must be one of {', '.join(models)}")
    return JobSettings(
        room_type=_choice(room_type, ROOM_TYPES, "room_type", "living_room"),
        style=_choice(style, STYLES, "style", "modern"),
        lighting=_choice(lighting, LIGHTING, "lighting", "natural"),
        aspect_ratio=ratio,
        model=chosen_model,
    )


def _clean_text(value: str, field_name: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise errors.InvalidArgument(f"{field_name} must be at most {limit} characters")
    if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise errors.InvalidArgument(f"{field_name} contains characters that can't be stored")
    return value


def validate_products(products: list[Product]) -> tuple[Product, ...]:
    if not products:
        raise errors.InvalidArgument("at least one product is required")
    if len(products) > MAX_PRODUCTS:
        raise errors.InvalidArgument(f"at most {MAX_PRODUCTS} products per job")
    seen: set[str] = set()
    cleaned: list[Product] = []
    for product in products:
        product_id = _clean_text(product.id, "product id", 64)
        if not product_id:
            raise errors.InvalidArgument("every product needs an id")
        if product_id in seen:
            raise errors.InvalidArgument(f"product {product_id} is listed twice")
        seen.add(product_id)
        name = _clean_text(product.name, "product name", 200) or product_id
        image_url = _clean_text(product.image_url, "product image_url", 2000)
        if image_url and not _URL_RE.fullmatch(image_url):
            raise errors.InvalidArgument("product image_url must be an https URL")
        cleaned.append(
            Product(product_id, name, image_url, _clean_text(product.description, "product description", 500))
        )
    return tuple(cleaned)


def validate_inspiration(urls: list[str]) -> tuple[str, ...]:
    if len(urls) > MAX_INSPIRATION_IMAGES:
        raise errors.InvalidArgument(f"at most {MAX_INSPIRATION_IMAGES} inspiration images")
    for url in urls:
        if not _URL_RE.fullmatch(url):
            raise errors.InvalidArgument("inspiration images must be https URLs")
    return tuple(urls)


def validate_instructions(text: str) -> str:
    return _clean_text(text, "instructions", MAX_INSTRUCTIONS)


def compile_prompt(settings: JobSettings, products: tuple[Product, ...], instructions: str, inspirations: int) -> str:
    """The full text sent to the model. Stored with the job, so the debugger shows exactly this."""
    room = settings.room_type.replace("_", " ")
    style = settings.style.replace("_", " ")
    items = [p.name + (f" ({p.description})" if p.description else "") for p in products]
    featuring = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    lines = [
        f"A photorealistic image of a {style} {room} featuring {featuring}.",
        f"Lighting: {settings.lighting.replace('_', ' ')}. Aspect ratio {settings.aspect_ratio}.",
        "Show each product exactly as it is, at a realistic scale, in a styled, lived-in interior.",
    ]
    if inspirations:
        lines.append(f"Take the mood and palette from the {inspirations} inspiration image(s) provided.")
    if instructions:
        lines.append(f"Additional instructions: {instructions}")
    return "\n".join(lines)


# The retry schedule of failed attempts (equal jitter, honouring Retry-After).
RetryPolicy = Backoff


def cap_text(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    return value if len(value) <= limit else value[: limit - 20] + "\n… (truncated)"
