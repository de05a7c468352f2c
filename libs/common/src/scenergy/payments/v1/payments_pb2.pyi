import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Money(_message.Message):
    __slots__ = ("amount", "currency")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount: int
    currency: str
    def __init__(self, amount: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class GetOverviewRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Overview(_message.Message):
    __slots__ = ("revenue_today", "revenue_7d", "revenue_30d", "refunds_30d", "payments_30d", "failed_webhooks", "disputed_payments", "mrr", "last_event_at", "last_reconciled_at", "open_drift")
    REVENUE_TODAY_FIELD_NUMBER: _ClassVar[int]
    REVENUE_7D_FIELD_NUMBER: _ClassVar[int]
    REVENUE_30D_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_30D_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_30D_FIELD_NUMBER: _ClassVar[int]
    FAILED_WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    MRR_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_RECONCILED_AT_FIELD_NUMBER: _ClassVar[int]
    OPEN_DRIFT_FIELD_NUMBER: _ClassVar[int]
    revenue_today: _containers.RepeatedCompositeFieldContainer[Money]
    revenue_7d: _containers.RepeatedCompositeFieldContainer[Money]
    revenue_30d: _containers.RepeatedCompositeFieldContainer[Money]
    refunds_30d: _containers.RepeatedCompositeFieldContainer[Money]
    payments_30d: int
    failed_webhooks: int
    disputed_payments: int
    mrr: _containers.RepeatedCompositeFieldContainer[Money]
    last_event_at: _timestamp_pb2.Timestamp
    last_reconciled_at: _timestamp_pb2.Timestamp
    open_drift: int
    def __init__(self, revenue_today: _Optional[_Iterable[_Union[Money, _Mapping]]] = ..., revenue_7d: _Optional[_Iterable[_Union[Money, _Mapping]]] = ..., revenue_30d: _Optional[_Iterable[_Union[Money, _Mapping]]] = ..., refunds_30d: _Optional[_Iterable[_Union[Money, _Mapping]]] = ..., payments_30d: _Optional[int] = ..., failed_webhooks: _Optional[int] = ..., disputed_payments: _Optional[int] = ..., mrr: _Optional[_Iterable[_Union[Money, _Mapping]]] = ..., last_event_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_reconciled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., open_drift: _Optional[int] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("id", "client_id", "credit_pack_id", "credits", "amount", "amount_refunded", "credits_refunded", "status", "disputed", "dispute_status", "checkout_session_id", "payment_intent_id", "charge_id", "customer_id", "purchase_transaction_id", "paid_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_PACK_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    CREDITS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_STATUS_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    client_id: str
    credit_pack_id: str
    credits: int
    amount: Money
    amount_refunded: int
    credits_refunded: int
    status: str
    disputed: bool
    dispute_status: str
    checkout_session_id: str
    payment_intent_id: str
    charge_id: str
    customer_id: str
    purchase_transaction_id: str
    paid_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., client_id: _Optional[str] = ..., credit_pack_id: _Optional[str] = ..., credits: _Optional[int] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., amount_refunded: _Optional[int] = ..., credits_refunded: _Optional[int] = ..., status: _Optional[str] = ..., disputed: _Optional[bool] = ..., dispute_status: _Optional[str] = ..., checkout_session_id: _Optional[str] = ..., payment_intent_id: _Optional[str] = ..., charge_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., purchase_transaction_id: _Optional[str] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefundRecord(_message.Message):
    __slots__ = ("stripe_refund_id", "amount", "status", "requested_by", "reason", "created_at", "error")
    STRIPE_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    stripe_refund_id: str
    amount: int
    status: str
    requested_by: str
    reason: str
    created_at: _timestamp_pb2.Timestamp
    error: str
    def __init__(self, stripe_refund_id: _Optional[str] = ..., amount: _Optional[int] = ..., status: _Optional[str] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class CreditRefund(_message.Message):
    __slots__ = ("credits_level", "credits", "credit_transaction_id", "created_at")
    CREDITS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    CREDIT_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    credits_level: int
    credits: int
    credit_transaction_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, credits_level: _Optional[int] = ..., credits: _Optional[int] = ..., credit_transaction_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentDetail(_message.Message):
    __slots__ = ("payment", "refunds", "events", "credit_refunds")
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CREDIT_REFUNDS_FIELD_NUMBER: _ClassVar[int]
    payment: Payment
    refunds: _containers.RepeatedCompositeFieldContainer[RefundRecord]
    events: _containers.RepeatedCompositeFieldContainer[WebhookEvent]
    credit_refunds: _containers.RepeatedCompositeFieldContainer[CreditRefund]
    def __init__(self, payment: _Optional[_Union[Payment, _Mapping]] = ..., refunds: _Optional[_Iterable[_Union[RefundRecord, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[WebhookEvent, _Mapping]]] = ..., credit_refunds: _Optional[_Iterable[_Union[CreditRefund, _Mapping]]] = ...) -> None: ...

class ListPaymentsRequest(_message.Message):
    __slots__ = ("client_id", "status", "paid_from", "paid_to", "limit", "cursor", "include_total")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAID_FROM_FIELD_NUMBER: _ClassVar[int]
    PAID_TO_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    status: str
    paid_from: _timestamp_pb2.Timestamp
    paid_to: _timestamp_pb2.Timestamp
    limit: int
    cursor: str
    include_total: bool
    def __init__(self, client_id: _Optional[str] = ..., status: _Optional[str] = ..., paid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paid_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., include_total: _Optional[bool] = ...) -> None: ...

class ListPaymentsResponse(_message.Message):
    __slots__ = ("items", "next_cursor", "total", "has_total")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Payment]
    next_cursor: str
    total: int
    has_total: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., next_cursor: _Optional[str] = ..., total: _Optional[int] = ..., has_total: _Optional[bool] = ...) -> None: ...

class GetPaymentRequest(_message.Message):
    __slots__ = ("payment_id",)
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    def __init__(self, payment_id: _Optional[str] = ...) -> None: ...

class RefundPaymentRequest(_message.Message):
    __slots__ = ("payment_id", "amount", "reason", "idempotency_key")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    amount: int
    reason: str
    idempotency_key: str
    def __init__(self, payment_id: _Optional[str] = ..., amount: _Optional[int] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class WebhookEvent(_message.Message):
    __slots__ = ("id", "type", "status", "attempts", "last_error", "object_id", "payment_id", "livemode", "created", "received_at", "processed_at", "next_attempt_at", "payload_json", "deliveries", "outcome")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LIVEMODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    status: str
    attempts: int
    last_error: str
    object_id: str
    payment_id: str
    livemode: bool
    created: _timestamp_pb2.Timestamp
    received_at: _timestamp_pb2.Timestamp
    processed_at: _timestamp_pb2.Timestamp
    next_attempt_at: _timestamp_pb2.Timestamp
    payload_json: str
    deliveries: int
    outcome: str
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., object_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., livemode: _Optional[bool] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., processed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payload_json: _Optional[str] = ..., deliveries: _Optional[int] = ..., outcome: _Optional[str] = ...) -> None: ...

class ListWebhookEventsRequest(_message.Message):
    __slots__ = ("type", "status", "limit", "cursor", "include_total")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    type: str
    status: str
    limit: int
    cursor: str
    include_total: bool
    def __init__(self, type: _Optional[str] = ..., status: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., include_total: _Optional[bool] = ...) -> None: ...

class ListWebhookEventsResponse(_message.Message):
    __slots__ = ("items", "next_cursor", "total", "has_total")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[WebhookEvent]
    next_cursor: str
    total: int
    has_total: bool
    def __init__(self, items: _Optional[_Iterable[_Union[WebhookEvent, _Mapping]]] = ..., next_cursor: _Optional[str] = ..., total: _Optional[int] = ..., has_total: _Optional[bool] = ...) -> None: ...

class GetWebhookEventRequest(_message.Message):
    __slots__ = ("event_id",)
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    def __init__(self, event_id: _Optional[str] = ...) -> None: ...

class RetryWebhookEventRequest(_message.Message):
    __slots__ = ("event_id", "reason")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    reason: str
    def __init__(self, event_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CreditPack(_message.Message):
    __slots__ = ("id", "name", "credits", "price", "stripe_price_id", "active", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    credits: int
    price: Money
    stripe_price_id: str
    active: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., credits: _Optional[int] = ..., price: _Optional[_Union[Money, _Mapping]] = ..., stripe_price_id: _Optional[str] = ..., active: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCreditPacksRequest(_message.Message):
    __slots__ = ("include_inactive",)
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    def __init__(self, include_inactive: _Optional[bool] = ...) -> None: ...

class ListCreditPacksResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CreditPack]
    def __init__(self, items: _Optional[_Iterable[_Union[CreditPack, _Mapping]]] = ...) -> None: ...

class CreateCreditPackRequest(_message.Message):
    __slots__ = ("id", "name", "credits", "price", "stripe_price_id", "active")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    credits: int
    price: Money
    stripe_price_id: str
    active: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., credits: _Optional[int] = ..., price: _Optional[_Union[Money, _Mapping]] = ..., stripe_price_id: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class UpdateCreditPackRequest(_message.Message):
    __slots__ = ("id", "name", "active", "stripe_price_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    STRIPE_PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    active: bool
    stripe_price_id: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., active: _Optional[bool] = ..., stripe_price_id: _Optional[str] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ("stripe_customer_id", "client_id", "email", "payments", "total_paid", "created_at")
    STRIPE_CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PAID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    stripe_customer_id: str
    client_id: str
    email: str
    payments: int
    total_paid: _containers.RepeatedCompositeFieldContainer[Money]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, stripe_customer_id: _Optional[str] = ..., client_id: _Optional[str] = ..., email: _Optional[str] = ..., payments: _Optional[int] = ..., total_paid: _Optional[_Iterable[_Union[Money, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCustomersRequest(_message.Message):
    __slots__ = ("search", "limit", "cursor")
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    search: str
    limit: int
    cursor: str
    def __init__(self, search: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListCustomersResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Customer]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[Customer, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class RunReconciliationRequest(_message.Message):
    __slots__ = ("days", "heal")
    DAYS_FIELD_NUMBER: _ClassVar[int]
    HEAL_FIELD_NUMBER: _ClassVar[int]
    days: int
    heal: bool
    def __init__(self, days: _Optional[int] = ..., heal: _Optional[bool] = ...) -> None: ...

class GetReconciliationReportRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Drift(_message.Message):
    __slots__ = ("kind", "stripe_id", "payment_id", "detail", "healed")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STRIPE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    HEALED_FIELD_NUMBER: _ClassVar[int]
    kind: str
    stripe_id: str
    payment_id: str
    detail: str
    healed: bool
    def __init__(self, kind: _Optional[str] = ..., stripe_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., detail: _Optional[str] = ..., healed: _Optional[bool] = ...) -> None: ...

class ReconciliationReport(_message.Message):
    __slots__ = ("id", "started_at", "finished_at", "days", "sessions_checked", "refunds_checked", "drift", "healed", "status", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    HEALED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    days: int
    sessions_checked: int
    refunds_checked: int
    drift: _containers.RepeatedCompositeFieldContainer[Drift]
    healed: int
    status: str
    error: str
    def __init__(self, id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., days: _Optional[int] = ..., sessions_checked: _Optional[int] = ..., refunds_checked: _Optional[int] = ..., drift: _Optional[_Iterable[_Union[Drift, _Mapping]]] = ..., healed: _Optional[int] = ..., status: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...
