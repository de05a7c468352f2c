"""What the job runner needs from the outside world: an image model and an object store.

The adapters (`generation.adapters.provider`, `generation.adapters.storage`) implement these; the
service layer only sees the protocols, so tests and benchmarks can compose other implementations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class ErrorClass(StrEnum):
    """Why an attempt failed. The first four are worth retrying; the rest fail the job at once."""

    RATE_LIMITED = "rate_limited"  # 429 / RESOURCE_EXHAUSTED
    SERVER_ERROR = "server_error"  # 5xx
    TIMEOUT = "timeout"  # the call or the attempt ran out of time
    STORAGE_ERROR = "storage_error"  # the object store failed
    INTERNAL = "internal"  # our own bug or an unexpected exception: retried, then dead
    WORKER_LOST = "worker_lost"  # the worker died or lost its lease
    SAFETY_BLOCKED = "safety_blocked"  # the model refused the prompt or the image
    INVALID_REQUEST = "invalid_request"  # 400 / 403 / 404: retrying can't help
    MALFORMED_RESPONSE = "malformed_response"  # a 200 without a usable image

    @property
    def retryable(self) -> bool:
        return self in RETRYABLE


RETRYABLE = frozenset(
    {ErrorClass.RATE_LIMITED, ErrorClass.SERVER_ERROR, ErrorClass.TIMEOUT, ErrorClass.STORAGE_ERROR}
    | {ErrorClass.INTERNAL, ErrorClass.WORKER_LOST}
)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    candidate_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class ImageRequest:
    model: str
    prompt: str
    aspect_ratio: str  # "1:1", "16:9", …
    inspiration_images: tuple[str, ...] = ()  # https URLs
    request_id: str = ""  # ours (job id and attempt), sent for tracing
    timeout_s: float = 120.0


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime_type: str
    width: int
    height: int
    usage: Usage = field(default_factory=Usage)
    provider_request_id: str | None = None  # the model's response id
    model_version: str | None = None


class ProviderError(Exception):
    """A classified failure of the image model."""

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        http_status: int | None = None,
        retry_after_s: float | None = None,
        provider_request_id: str | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        self.provider_request_id = provider_request_id
        self.usage = usage or Usage()

    @property
    def retryable(self) -> bool:
        return self.error_class.retryable


class ImageProvider(Protocol):
    name: str  # "gemini" or "offline"

    def generate(self, request: ImageRequest) -> GeneratedImage:
        """One call to the model; raises ProviderError (classified) on any failure."""
        ...


@dataclass(frozen=True)
class StoredObject:
    key: str
    size_bytes: int
    etag: str


class StorageError(Exception):
    """The object store failed; worth retrying."""


class ObjectStorage(Protocol):
    name: str  # "s3" or "local"

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        """Write (or overwrite) the object at `key`; idempotent for the same bytes."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; no error when it is already gone."""
        ...

    def exists(self, key: str) -> bool: ...

    def presigned_url(self, key: str, *, expires_s: int = 900) -> str:
        """A short-lived URL a browser can fetch the object with."""
        ...

    def check(self) -> None:
        """Raise when the store can't be reached (readiness)."""
        ...
