"""What can go wrong with a ledger operation, in the ledger's own words."""


class CreditsError(Exception):
    """Base of every domain error; the message is safe to show to an operator."""


class InvalidArgument(CreditsError):
    pass


class PermissionDenied(CreditsError):
    pass


class AccountNotFound(CreditsError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"no credit account for client {client_id}")


class TransactionNotFound(CreditsError):
    def __init__(self, transaction_id: str) -> None:
        super().__init__(f"no credit transaction {transaction_id}")


class HoldNotFound(CreditsError):
    def __init__(self, hold_id: str) -> None:
        super().__init__(f"no credit hold {hold_id}")


class InsufficientCredits(CreditsError):
    def __init__(self, client_id: str, requested: int, available: int) -> None:
        super().__init__(f"insufficient credits for client {client_id}: requested {requested}, available {available}")
        self.requested = requested
        self.available = available


class VersionConflict(CreditsError):
    def __init__(self, client_id: str, expected: int, actual: int) -> None:
        super().__init__(f"balance of client {client_id} is at version {actual}, not the expected {expected}")


class IdempotencyConflict(CreditsError):
    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class HoldNotActive(CreditsError):
    def __init__(self, hold_id: str, status: str) -> None:
        super().__init__(f"hold {hold_id} is {status}, not active")


class RefundExceedsOriginal(CreditsError):
    def __init__(self, transaction_id: str, requested: int, refundable: int) -> None:
        super().__init__(f"refund of {requested} exceeds what is left to refund on {transaction_id} ({refundable})")


class AmountOutOfRange(CreditsError):
    """The result would not fit the ledger's 64-bit amounts."""


class LedgerBusy(CreditsError):
    """The write timed out waiting for a busy balance; retrying with the same key is safe."""

    def __init__(self) -> None:
        super().__init__("the balance is busy; retry with the same idempotency key")


class LedgerUnavailable(CreditsError):
    """The ledger's database could not be reached; nothing was written."""

    def __init__(self) -> None:
        super().__init__("the ledger database is unavailable; retry with the same idempotency key")
