"""Commands: what a caller asks the ledger to do. Each validates itself on construction."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from credits.domain.errors import InvalidArgument
from scenergy.common.ids import is_id

# One operation moves at most a billion credits; sums stay far inside 64 bits.
MAX_AMOUNT = 1_000_000_000
MAX_CREDIT_LIMIT = 1_000_000_000
MIN_HOLD_TTL_S = 10
MAX_HOLD_TTL_S = 86_400
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces


def check_id(value: str, field_name: str, prefix: str | None = None) -> None:
    if not value:
        raise InvalidArgument(f"{field_name} is required")
    if not is_id(value, prefix):  # the platform's one id rule (libs/common), whole value matched
        expected = f"a {prefix}_ id" if prefix else "an id like abc_01h..."
        raise InvalidArgument(f"{field_name} is malformed: expected {expected}")


def check_amount(
    value: int, field_name: str = "amount", *, allow_negative: bool = False, allow_zero: bool = False
) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{field_name} must be an integer")
    if value == 0 and not allow_zero:
        raise InvalidArgument(f"{field_name} must not be zero")
    if value < 0 and not allow_negative:
        raise InvalidArgument(f"{field_name} must be positive")
    if abs(value) > MAX_AMOUNT:
        raise InvalidArgument(f"{field_name} must be at most {MAX_AMOUNT:,} in absolute value")


def check_text(value: str, field_name: str, *, required: bool, max_len: int = 500) -> None:
    if required and not (value or "").strip():
        raise InvalidArgument(f"{field_name} is required")
    if value and len(value) > max_len:
        raise InvalidArgument(f"{field_name} must be at most {max_len} characters")
    if value and "\x00" in value:  # PostgreSQL text can't hold it
        raise InvalidArgument(f"{field_name} must not contain NUL characters")


def check_key(value: str) -> None:
    if not value:
        raise InvalidArgument("idempotency_key is required")
    if not _KEY_RE.fullmatch(value):
        raise InvalidArgument("idempotency_key must be 1-200 printable characters without spaces")


@dataclass(frozen=True)
class Command:
    operation: ClassVar[str]

    def fingerprint(self) -> str:
        """A hash of the request's content, so a reused key with other content can be refused."""
        content = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "idempotency_key"}
        raw = json.dumps({"op": self.operation, **content}, sort_keys=True, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class OpenAccount(Command):
    operation: ClassVar[str] = "open_account"
    client_id: str
    credit_limit: int = 0

    def __post_init__(self) -> None:
        check_id(self.client_id, "client_id")
        if not 0 <= self.credit_limit <= MAX_CREDIT_LIMIT:
            raise InvalidArgument(f"credit_limit must be between 0 and {MAX_CREDIT_LIMIT:,}")


@dataclass(frozen=True)
class Grant(Command):
    operation: ClassVar[str] = "grant"
    client_id: str
    amount: int
    reason: str
    idempotency_key: str

    def __post_init__(self) -> None:
        check_id(self.client_id, "client_id")
        check_amount(self.amount)
        check_text(self.reason, "reason", required=True)
        check_key(self.idempotency_key)


@dataclass(frozen=True)
class Adjust(Command):
    operation: ClassVar[str] = "adjust"
    client_id: str
    amount: int
    reason: str
    idempotency_key: str
    expected_version: int | None = None
    allow_negative: bool = False

    def __post_init__(self) -> None:
        check_id(self.client_id, "client_id")
        check_amount(self.amount, allow_negative=True)
        check_text(self.reason, "reason", required=True)
        check_key(self.idempotency_key)
        if self.expected_version is not None and self.expected_version < 0:
            raise InvalidArgument("expected_version must not be negative")


@dataclass(frozen=True)
class Purchase(Command):
    operation: ClassVar[str] = "purchase"
    client_id: str
    amount: int
    payment_reference: str
    idempotency_key: str
    description: str = ""
    metadata: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        check_id(self.client_id, "client_id")
        check_amount(self.amount)
        check_text(self.payment_reference, "payment_reference", required=True, max_len=255)
        check_text(self.description, "description", required=False)
        check_key(self.idempotency_key)


@dataclass(frozen=True)
class Refund(Command):
    operation: ClassVar[str] = "refund"
    transaction_id: str
    amount: int
    reason: str
    idempotency_key: str
    payment_reference: str = ""

    def __post_init__(self) -> None:
        check_id(self.transaction_id, "transaction_id", "ctx")
        check_amount(self.amount)
        check_text(self.reason, "reason", required=True)
        check_text(self.payment_reference, "payment_reference", required=False, max_len=255)
        check_key(self.idempotency_key)


@dataclass(frozen=True)
class Debit(Command):
    operation: ClassVar[str] = "debit"
    client_id: str
    amount: int
    idempotency_key: str
    description: str = ""
    generated_asset_id: str = ""

    def __post_init__(self) -> None:
        check_id(self.client_id, "client_id")
        check_amount(self.amount)
        check_text(self.description, "description", required=False)
        if self.generated_asset_id:
            check_id(self.generated_asset_id, "generated_asset_id")
        check_key(self.idempotency_key)


@dataclass(frozen=True)
class ReserveHold(Command):
    operation: ClassVar[str] = "reserve_hold"
    client_id: str
    amount: int
    ttl_seconds: int
    idempotency_key: str
    job_id: str = ""

    def __post_init__(self) -> None:
        check_id(self.client_id, "client_id")
        check_amount(self.amount)
        if not MIN_HOLD_TTL_S <= self.ttl_seconds <= MAX_HOLD_TTL_S:
            raise InvalidArgument(f"ttl_seconds must be between {MIN_HOLD_TTL_S} and {MAX_HOLD_TTL_S}")
        if self.job_id:
            check_id(self.job_id, "job_id")
        check_key(self.idempotency_key)


@dataclass(frozen=True)
class CaptureHold(Command):
    operation: ClassVar[str] = "capture_hold"
    hold_id: str
    amount: int
    idempotency_key: str
    description: str = ""
    generated_asset_id: str = ""

    def __post_init__(self) -> None:
        check_id(self.hold_id, "hold_id", "hld")
        check_amount(self.amount, allow_zero=True)
        check_text(self.description, "description", required=False)
        if self.generated_asset_id:
            check_id(self.generated_asset_id, "generated_asset_id")
        check_key(self.idempotency_key)


@dataclass(frozen=True)
class ReleaseHold(Command):
    operation: ClassVar[str] = "release_hold"
    hold_id: str
    idempotency_key: str

    def __post_init__(self) -> None:
        check_id(self.hold_id, "hold_id", "hld")
        check_key(self.idempotency_key)
