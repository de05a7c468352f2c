import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Balance(_message.Message):
    __slots__ = ("client_id", "balance", "held", "available", "credit_limit", "version", "last_activity_at", "created_at", "updated_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    balance: int
    held: int
    available: int
    credit_limit: int
    version: int
    last_activity_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., balance: _Optional[int] = ..., held: _Optional[int] = ..., available: _Optional[int] = ..., credit_limit: _Optional[int] = ..., version: _Optional[int] = ..., last_activity_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("id", "client_id", "amount", "balance_after", "version", "type", "description", "generated_asset_id", "payment_transaction_id", "admin_user_id", "refund_of_id", "hold_id", "idempotency_key", "metadata_json", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AFTER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GENERATED_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ADMIN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_OF_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    client_id: str
    amount: int
    balance_after: int
    version: int
    type: str
    description: str
    generated_asset_id: str
    payment_transaction_id: str
    admin_user_id: str
    refund_of_id: str
    hold_id: str
    idempotency_key: str
    metadata_json: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., client_id: _Optional[str] = ..., amount: _Optional[int] = ..., balance_after: _Optional[int] = ..., version: _Optional[int] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., generated_asset_id: _Optional[str] = ..., payment_transaction_id: _Optional[str] = ..., admin_user_id: _Optional[str] = ..., refund_of_id: _Optional[str] = ..., hold_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., metadata_json: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("id", "client_id", "amount", "status", "captured_amount", "transaction_id", "job_id", "expires_at", "created_at", "settled_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    client_id: str
    amount: int
    status: str
    captured_amount: int
    transaction_id: str
    job_id: str
    expires_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    settled_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., client_id: _Optional[str] = ..., amount: _Optional[int] = ..., status: _Optional[str] = ..., captured_amount: _Optional[int] = ..., transaction_id: _Optional[str] = ..., job_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OpenAccountRequest(_message.Message):
    __slots__ = ("client_id", "credit_limit")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    credit_limit: int
    def __init__(self, client_id: _Optional[str] = ..., credit_limit: _Optional[int] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class ListBalancesRequest(_message.Message):
    __slots__ = ("client_id_prefix", "sort", "limit", "cursor", "include_total")
    CLIENT_ID_PREFIX_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    client_id_prefix: str
    sort: str
    limit: int
    cursor: str
    include_total: bool
    def __init__(self, client_id_prefix: _Optional[str] = ..., sort: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., include_total: _Optional[bool] = ...) -> None: ...

class GetBalancesRequest(_message.Message):
    __slots__ = ("client_ids",)
    CLIENT_IDS_FIELD_NUMBER: _ClassVar[int]
    client_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, client_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetBalancesResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Balance]
    def __init__(self, items: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ...) -> None: ...

class ListBalancesResponse(_message.Message):
    __slots__ = ("items", "next_cursor", "total")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Balance]
    next_cursor: str
    total: int
    def __init__(self, items: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ..., next_cursor: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class GetSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Summary(_message.Message):
    __slots__ = ("in_circulation", "used_today", "granted_today", "purchased_today", "active_holds", "held", "accounts")
    IN_CIRCULATION_FIELD_NUMBER: _ClassVar[int]
    USED_TODAY_FIELD_NUMBER: _ClassVar[int]
    GRANTED_TODAY_FIELD_NUMBER: _ClassVar[int]
    PURCHASED_TODAY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_HOLDS_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    in_circulation: int
    used_today: int
    granted_today: int
    purchased_today: int
    active_holds: int
    held: int
    accounts: int
    def __init__(self, in_circulation: _Optional[int] = ..., used_today: _Optional[int] = ..., granted_today: _Optional[int] = ..., purchased_today: _Optional[int] = ..., active_holds: _Optional[int] = ..., held: _Optional[int] = ..., accounts: _Optional[int] = ...) -> None: ...

class ListTransactionsRequest(_message.Message):
    __slots__ = ("client_id", "types", "created_from", "created_to", "admin_user_id", "limit", "cursor")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATED_TO_FIELD_NUMBER: _ClassVar[int]
    ADMIN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    types: _containers.RepeatedScalarFieldContainer[str]
    created_from: _timestamp_pb2.Timestamp
    created_to: _timestamp_pb2.Timestamp
    admin_user_id: str
    limit: int
    cursor: str
    def __init__(self, client_id: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ..., created_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., admin_user_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListTransactionsResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Transaction]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[Transaction, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetBalanceAtRequest(_message.Message):
    __slots__ = ("client_id", "at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BalanceAt(_message.Message):
    __slots__ = ("client_id", "balance", "version", "at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    balance: int
    version: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., balance: _Optional[int] = ..., version: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrantRequest(_message.Message):
    __slots__ = ("client_id", "amount", "reason", "idempotency_key")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    amount: int
    reason: str
    idempotency_key: str
    def __init__(self, client_id: _Optional[str] = ..., amount: _Optional[int] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class AdjustRequest(_message.Message):
    __slots__ = ("client_id", "amount", "reason", "idempotency_key", "expected_version", "allow_negative")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALLOW_NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    amount: int
    reason: str
    idempotency_key: str
    expected_version: int
    allow_negative: bool
    def __init__(self, client_id: _Optional[str] = ..., amount: _Optional[int] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., expected_version: _Optional[int] = ..., allow_negative: _Optional[bool] = ...) -> None: ...

class PurchaseRequest(_message.Message):
    __slots__ = ("client_id", "amount", "payment_reference", "description", "idempotency_key", "metadata_json")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    amount: int
    payment_reference: str
    description: str
    idempotency_key: str
    metadata_json: str
    def __init__(self, client_id: _Optional[str] = ..., amount: _Optional[int] = ..., payment_reference: _Optional[str] = ..., description: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class RefundRequest(_message.Message):
    __slots__ = ("transaction_id", "amount", "reason", "idempotency_key", "payment_reference")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    amount: int
    reason: str
    idempotency_key: str
    payment_reference: str
    def __init__(self, transaction_id: _Optional[str] = ..., amount: _Optional[int] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., payment_reference: _Optional[str] = ...) -> None: ...

class DebitRequest(_message.Message):
    __slots__ = ("client_id", "amount", "description", "generated_asset_id", "idempotency_key")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GENERATED_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    amount: int
    description: str
    generated_asset_id: str
    idempotency_key: str
    def __init__(self, client_id: _Optional[str] = ..., amount: _Optional[int] = ..., description: _Optional[str] = ..., generated_asset_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class MutationResponse(_message.Message):
    __slots__ = ("transaction", "balance", "replayed")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    balance: Balance
    replayed: bool
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ReserveHoldRequest(_message.Message):
    __slots__ = ("client_id", "amount", "ttl_seconds", "job_id", "idempotency_key")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    amount: int
    ttl_seconds: int
    job_id: str
    idempotency_key: str
    def __init__(self, client_id: _Optional[str] = ..., amount: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., job_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CaptureHoldRequest(_message.Message):
    __slots__ = ("hold_id", "amount", "description", "generated_asset_id", "idempotency_key")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GENERATED_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    amount: int
    description: str
    generated_asset_id: str
    idempotency_key: str
    def __init__(self, hold_id: _Optional[str] = ..., amount: _Optional[int] = ..., description: _Optional[str] = ..., generated_asset_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ReleaseHoldRequest(_message.Message):
    __slots__ = ("hold_id", "idempotency_key")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    idempotency_key: str
    def __init__(self, hold_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class HoldResponse(_message.Message):
    __slots__ = ("hold", "balance", "replayed")
    HOLD_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    balance: Balance
    replayed: bool
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetHoldRequest(_message.Message):
    __slots__ = ("hold_id",)
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    def __init__(self, hold_id: _Optional[str] = ...) -> None: ...

class CheckLedgerRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class LedgerViolation(_message.Message):
    __slots__ = ("client_id", "rule", "detail")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    rule: str
    detail: str
    def __init__(self, client_id: _Optional[str] = ..., rule: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class CheckLedgerResponse(_message.Message):
    __slots__ = ("ok", "accounts_checked", "transactions_checked", "violations")
    OK_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    accounts_checked: int
    transactions_checked: int
    violations: _containers.RepeatedCompositeFieldContainer[LedgerViolation]
    def __init__(self, ok: _Optional[bool] = ..., accounts_checked: _Optional[int] = ..., transactions_checked: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[LedgerViolation, _Mapping]]] = ...) -> None: ...
