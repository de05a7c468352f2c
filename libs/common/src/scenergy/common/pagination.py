"""Limits and opaque keyset cursors, with the caps of the REST contract (default 50, max 100)."""

from __future__ import annotations

import base64
import json
from typing import Any

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class InvalidPage(ValueError):
    """A limit or cursor that can't be used."""


def clamp_limit(limit: int | None) -> int:
    """0 or None means the default; above the cap is refused rather than silently cut."""
    if not limit:
        return DEFAULT_LIMIT
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidPage(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, size: int) -> list[Any] | None:
    """The key values of the last row seen, or None for the first page."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise InvalidPage("cursor is not valid") from None
    if not isinstance(values, list) or len(values) != size:
        raise InvalidPage("cursor is not valid")
    return values
