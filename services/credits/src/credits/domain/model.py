"""Ledger entities as immutable values."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class TransactionType(enum.StrEnum):
    PURCHASE = "purchase"
    GRANT = "grant"
    USAGE = "usage"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class HoldStatus(enum.StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


# Only these may be refunded: credits that came in from outside.
REFUNDABLE_TYPES = (TransactionType.PURCHASE, TransactionType.GRANT)


@dataclass(frozen=True)
class Balance:
    client_id: str
    balance: int
    held: int
    credit_limit: int
    version: int
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime | None = None

    @property
    def available(self) -> int:
        return self.balance - self.held

    @property
    def floor(self) -> int:
        """The lowest balance allowed without an explicit negative adjustment."""
        return -self.credit_limit


@dataclass(frozen=True)
class Transaction:
    id: str
    client_id: str
    amount: int
    balance_after: int
    version: int
    type: TransactionType
    created_at: datetime
    description: str | None = None
    generated_asset_id: str | None = None
    payment_transaction_id: str | None = None
    admin_user_id: str | None = None
    refund_of_id: str | None = None
    hold_id: str | None = None
    idempotency_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hold:
    id: str
    client_id: str
    amount: int
    status: HoldStatus
    expires_at: datetime
    created_at: datetime
    captured_amount: int | None = None
    transaction_id: str | None = None
    job_id: str | None = None
    settled_at: datetime | None = None


@dataclass(frozen=True)
class Mutation:
    """The result of a write: what was recorded, the balance after it, and whether it was a replay."""

    balance: Balance
    transaction: Transaction | None = None
    hold: Hold | None = None
    replayed: bool = False
