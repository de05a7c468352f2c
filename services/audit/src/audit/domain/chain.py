"""The hash chain: canonical JSON, entry hashes, and Ed25519 seals and checkpoint signatures.

`hash = sha256(prev_hash ‖ canonical JSON of the entry's content)`. The content is stored in
PostgreSQL (JSONB, text) and read back for verification, so `normalize` first makes every value one
that survives that round trip unchanged; otherwise an honest entry could fail verification.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS_HASH = "0" * 64
_INT_LIMIT = 2**63 - 1


def clean_text(value: str) -> str:
    """PostgreSQL refuses NUL in text and JSONB, and UTF-8 has no lone surrogates: replace both."""
    if value.isascii():  # the common case, checked at C speed
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def normalize(value: Any) -> Any:
    """A JSON value that comes back from JSONB exactly as it went in.

    JSONB stores numbers as `numeric`: an integral float it prints without a fraction comes back as
    an int, so such floats become ints; what no JSON number can hold (NaN, ±inf, integers beyond
    64 bits, which the canonical encoder refuses) becomes text. `-0.0` has no numeric twin: `0.0`.
    """
    kind = type(value)
    if kind is str:
        return clean_text(value)
    if value is None or kind is bool:
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        return value if -_INT_LIMIT <= value <= _INT_LIMIT else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return 0.0
        if value.is_integer() and abs(value) >= 1e16:
            return normalize(int(value))
        return value
    if isinstance(value, dict):
        return {clean_text(str(k)): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    return clean_text(str(value))


def canonical(content: dict[str, Any]) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the bytes an entry's hash covers."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def entry_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(content)).hexdigest()


def seal_message(seq: int, entry_id: str, hash_: str) -> bytes:
    return f"scenergy.audit.seal.v1:{seq}:{entry_id}:{hash_}".encode()


def _b64decode(text: str) -> bytes:
    padded = text.strip() + "=" * (-len(text.strip()) % 4)
    return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class InvalidKey(ValueError):
    """A signing or verification key that can't be used."""


class ChainSigner:
    """Signs seals and checkpoints with the configured Ed25519 key; verifies with it or retired keys.

    A signature is written as `<key id>:<base64 signature>`, so keys can be rotated: the old public
    key goes to the retired list and old signatures still verify.
    """

    def __init__(self, private_key: str, retired_public_keys: Iterable[str] = ()) -> None:
        self._private = load_private_key(private_key)
        public = self._private.public_key()
        self.key_id = _key_id(public)
        self._public: dict[str, Ed25519PublicKey] = {self.key_id: public}
        for text in retired_public_keys:
            retired = load_public_key(text)
            self._public[_key_id(retired)] = retired

    @staticmethod
    def generate_private_key() -> str:
        """A new key as configuration holds it: base64 of the 32-byte seed."""
        raw = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def public_key_text(self) -> str:
        raw = self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def sign(self, message: bytes) -> str:
        signature = base64.urlsafe_b64encode(self._private.sign(message)).decode().rstrip("=")
        return f"{self.key_id}:{signature}"

    def verify(self, message: bytes, signed: str | None) -> bool:
        if not signed or ":" not in signed:
            return False
        key_id, signature = signed.split(":", 1)
        public = self._public.get(key_id)
        if public is None:
            return False
        try:
            public.verify(_b64decode(signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True


def load_private_key(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise InvalidKey("the signing key must be an Ed25519 key")
            return key
        return Ed25519PrivateKey.from_private_bytes(_b64decode(text))
    except (ValueError, TypeError) as exc:
        raise InvalidKey(f"the signing key is not a usable Ed25519 private key: {exc}") from None


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(_b64decode(text))
    except (ValueError, TypeError) as exc:
        raise InvalidKey(f"not a usable Ed25519 public key: {exc}") from None
