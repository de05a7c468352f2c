"""Prefixed, sortable text ids (`cli_01j…`): a ULID in lower-case Crockford base32 behind a type prefix."""

from __future__ import annotations

import re

from ulid import ULID

_ULID_CHARS = "0123456789abcdefghjkmnpqrstvwxyz"
_ID_RE = re.compile(rf"^([a-z]{{2,5}})_[{_ULID_CHARS}]{{26}}$")
# Ids minted by other systems (seeds, Stripe-side references) are accepted when they look like ids.
_LOOSE_ID_RE = re.compile(r"^[a-z]{2,5}_[A-Za-z0-9]{6,64}$")


def new_id(prefix: str) -> str:
    return f"{prefix}_{str(ULID()).lower()}"


def is_id(value: str, prefix: str | None = None, *, strict: bool = False) -> bool:
    """True if `value` is a well-formed id (with the given prefix, when one is given)."""
    if not isinstance(value, str):
        return False
    match = (_ID_RE if strict else _LOOSE_ID_RE).fullmatch(value)
    if match is None:
        return False
    return prefix is None or value.startswith(prefix + "_")
