import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProductRef(_message.Message):
    __slots__ = ("id", "name", "image_url", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    image_url: str
    description: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., image_url: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class JobSettings(_message.Message):
    __slots__ = ("room_type", "style", "lighting", "aspect_ratio", "model")
    ROOM_TYPE_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    LIGHTING_FIELD_NUMBER: _ClassVar[int]
    ASPECT_RATIO_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    room_type: str
    style: str
    lighting: str
    aspect_ratio: str
    model: str
    def __init__(self, room_type: _Optional[str] = ..., style: _Optional[str] = ..., lighting: _Optional[str] = ..., aspect_ratio: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("client_id", "admin_space", "products", "settings", "instructions", "inspiration_images", "flow_id", "idempotency_key")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ADMIN_SPACE_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    INSPIRATION_IMAGES_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    admin_space: bool
    products: _containers.RepeatedCompositeFieldContainer[ProductRef]
    settings: JobSettings
    instructions: str
    inspiration_images: _containers.RepeatedScalarFieldContainer[str]
    flow_id: str
    idempotency_key: str
    def __init__(self, client_id: _Optional[str] = ..., admin_space: _Optional[bool] = ..., products: _Optional[_Iterable[_Union[ProductRef, _Mapping]]] = ..., settings: _Optional[_Union[JobSettings, _Mapping]] = ..., instructions: _Optional[str] = ..., inspiration_images: _Optional[_Iterable[str]] = ..., flow_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "client_id", "is_admin", "flow_id", "status", "stage", "progress", "attempt_count", "max_attempts", "model", "regenerated_from", "asset_id", "error_class", "error_message", "credits_reserved", "credits_charged", "hold_id", "settlement", "submitted_by", "submitted_by_type", "created_at", "started_at", "completed_at", "updated_at", "available_at", "duration_ms", "tokens_total", "estimated_cost_usd", "product_count", "cancelled_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REGENERATED_FROM_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREDITS_RESERVED_FIELD_NUMBER: _ClassVar[int]
    CREDITS_CHARGED_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_USD_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    client_id: str
    is_admin: bool
    flow_id: str
    status: str
    stage: str
    progress: int
    attempt_count: int
    max_attempts: int
    model: str
    regenerated_from: str
    asset_id: str
    error_class: str
    error_message: str
    credits_reserved: int
    credits_charged: int
    hold_id: str
    settlement: str
    submitted_by: str
    submitted_by_type: str
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    available_at: _timestamp_pb2.Timestamp
    duration_ms: int
    tokens_total: int
    estimated_cost_usd: str
    product_count: int
    cancelled_by: str
    def __init__(self, id: _Optional[str] = ..., client_id: _Optional[str] = ..., is_admin: _Optional[bool] = ..., flow_id: _Optional[str] = ..., status: _Optional[str] = ..., stage: _Optional[str] = ..., progress: _Optional[int] = ..., attempt_count: _Optional[int] = ..., max_attempts: _Optional[int] = ..., model: _Optional[str] = ..., regenerated_from: _Optional[str] = ..., asset_id: _Optional[str] = ..., error_class: _Optional[str] = ..., error_message: _Optional[str] = ..., credits_reserved: _Optional[int] = ..., credits_charged: _Optional[int] = ..., hold_id: _Optional[str] = ..., settlement: _Optional[str] = ..., submitted_by: _Optional[str] = ..., submitted_by_type: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., available_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[int] = ..., tokens_total: _Optional[int] = ..., estimated_cost_usd: _Optional[str] = ..., product_count: _Optional[int] = ..., cancelled_by: _Optional[str] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("number", "worker_id", "outcome", "error_class", "error_message", "error_stack", "provider_request_id", "prompt_tokens", "candidate_tokens", "total_tokens", "queue_ms", "model_ms", "upload_ms", "total_ms", "http_status", "retry_after_s", "started_at", "finished_at")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_STACK_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_MS_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    number: int
    worker_id: str
    outcome: str
    error_class: str
    error_message: str
    error_stack: str
    provider_request_id: str
    prompt_tokens: int
    candidate_tokens: int
    total_tokens: int
    queue_ms: int
    model_ms: int
    upload_ms: int
    total_ms: int
    http_status: int
    retry_after_s: float
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, number: _Optional[int] = ..., worker_id: _Optional[str] = ..., outcome: _Optional[str] = ..., error_class: _Optional[str] = ..., error_message: _Optional[str] = ..., error_stack: _Optional[str] = ..., provider_request_id: _Optional[str] = ..., prompt_tokens: _Optional[int] = ..., candidate_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., queue_ms: _Optional[int] = ..., model_ms: _Optional[int] = ..., upload_ms: _Optional[int] = ..., total_ms: _Optional[int] = ..., http_status: _Optional[int] = ..., retry_after_s: _Optional[float] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Transition(_message.Message):
    __slots__ = ("from_status", "to_status", "attempt", "reason", "actor", "occurred_at")
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    from_status: str
    to_status: str
    attempt: int
    reason: str
    actor: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, from_status: _Optional[str] = ..., to_status: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JobDetail(_message.Message):
    __slots__ = ("job", "products", "prompt", "settings", "instructions", "inspiration_images", "attempts", "transitions", "asset_url", "error_stack", "prompt_tokens", "candidate_tokens", "price_version", "queue_ms", "processing_ms", "settings_json")
    JOB_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    INSPIRATION_IMAGES_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    ASSET_URL_FIELD_NUMBER: _ClassVar[int]
    ERROR_STACK_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PRICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_MS_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    job: Job
    products: _containers.RepeatedCompositeFieldContainer[ProductRef]
    prompt: str
    settings: JobSettings
    instructions: str
    inspiration_images: _containers.RepeatedScalarFieldContainer[str]
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    transitions: _containers.RepeatedCompositeFieldContainer[Transition]
    asset_url: str
    error_stack: str
    prompt_tokens: int
    candidate_tokens: int
    price_version: str
    queue_ms: int
    processing_ms: int
    settings_json: str
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., products: _Optional[_Iterable[_Union[ProductRef, _Mapping]]] = ..., prompt: _Optional[str] = ..., settings: _Optional[_Union[JobSettings, _Mapping]] = ..., instructions: _Optional[str] = ..., inspiration_images: _Optional[_Iterable[str]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., transitions: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ..., asset_url: _Optional[str] = ..., error_stack: _Optional[str] = ..., prompt_tokens: _Optional[int] = ..., candidate_tokens: _Optional[int] = ..., price_version: _Optional[str] = ..., queue_ms: _Optional[int] = ..., processing_ms: _Optional[int] = ..., settings_json: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class JobFilter(_message.Message):
    __slots__ = ("view", "client_id", "status", "created_from", "created_to")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATED_TO_FIELD_NUMBER: _ClassVar[int]
    view: str
    client_id: str
    status: str
    created_from: _timestamp_pb2.Timestamp
    created_to: _timestamp_pb2.Timestamp
    def __init__(self, view: _Optional[str] = ..., client_id: _Optional[str] = ..., status: _Optional[str] = ..., created_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("filter", "limit", "cursor", "include_total")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    filter: JobFilter
    limit: int
    cursor: str
    include_total: bool
    def __init__(self, filter: _Optional[_Union[JobFilter, _Mapping]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., include_total: _Optional[bool] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("items", "next_cursor", "total", "has_total")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Job]
    next_cursor: str
    total: int
    has_total: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_cursor: _Optional[str] = ..., total: _Optional[int] = ..., has_total: _Optional[bool] = ...) -> None: ...

class ListActiveJobsRequest(_message.Message):
    __slots__ = ("client_id", "if_none_match")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    if_none_match: str
    def __init__(self, client_id: _Optional[str] = ..., if_none_match: _Optional[str] = ...) -> None: ...

class ActiveJobs(_message.Message):
    __slots__ = ("items", "etag", "not_modified", "generating", "pending")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    NOT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    GENERATING_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Job]
    etag: str
    not_modified: bool
    generating: int
    pending: int
    def __init__(self, items: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., etag: _Optional[str] = ..., not_modified: _Optional[bool] = ..., generating: _Optional[int] = ..., pending: _Optional[int] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RegenerateJobRequest(_message.Message):
    __slots__ = ("job_id", "idempotency_key")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    idempotency_key: str
    def __init__(self, job_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ListDeadJobsRequest(_message.Message):
    __slots__ = ("client_id", "error_class", "limit", "cursor")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    error_class: str
    limit: int
    cursor: str
    def __init__(self, client_id: _Optional[str] = ..., error_class: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class PreviewDeadRetryRequest(_message.Message):
    __slots__ = ("client_id", "error_class")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    error_class: str
    def __init__(self, client_id: _Optional[str] = ..., error_class: _Optional[str] = ...) -> None: ...

class Count(_message.Message):
    __slots__ = ("key", "count")
    KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    key: str
    count: int
    def __init__(self, key: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class DeadRetryPreview(_message.Message):
    __slots__ = ("count", "by_error_class", "by_client", "sample", "estimated_cost_usd", "estimated_credits", "preview_token", "expires_at", "per_client_rate_per_minute")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    BY_ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    BY_CLIENT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_USD_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_CREDITS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    PER_CLIENT_RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    count: int
    by_error_class: _containers.RepeatedCompositeFieldContainer[Count]
    by_client: _containers.RepeatedCompositeFieldContainer[Count]
    sample: _containers.RepeatedCompositeFieldContainer[Job]
    estimated_cost_usd: str
    estimated_credits: int
    preview_token: str
    expires_at: _timestamp_pb2.Timestamp
    per_client_rate_per_minute: int
    def __init__(self, count: _Optional[int] = ..., by_error_class: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., by_client: _Optional[_Iterable[_Union[Count, _Mapping]]] = ..., sample: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., estimated_cost_usd: _Optional[str] = ..., estimated_credits: _Optional[int] = ..., preview_token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., per_client_rate_per_minute: _Optional[int] = ...) -> None: ...

class RetryDeadJobsRequest(_message.Message):
    __slots__ = ("preview_token", "confirmed_count", "reason", "idempotency_key")
    PREVIEW_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    preview_token: str
    confirmed_count: int
    reason: str
    idempotency_key: str
    def __init__(self, preview_token: _Optional[str] = ..., confirmed_count: _Optional[int] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class BulkOperation(_message.Message):
    __slots__ = ("id", "kind", "status", "reason", "requested_by", "confirmed_count", "enqueued_count", "skipped_count", "total_count", "rate_per_minute", "filter_json", "error_message", "created_at", "finished_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENQUEUED_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    status: str
    reason: str
    requested_by: str
    confirmed_count: int
    enqueued_count: int
    skipped_count: int
    total_count: int
    rate_per_minute: int
    filter_json: str
    error_message: str
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ..., confirmed_count: _Optional[int] = ..., enqueued_count: _Optional[int] = ..., skipped_count: _Optional[int] = ..., total_count: _Optional[int] = ..., rate_per_minute: _Optional[int] = ..., filter_json: _Optional[str] = ..., error_message: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetBulkOperationRequest(_message.Message):
    __slots__ = ("operation_id",)
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    def __init__(self, operation_id: _Optional[str] = ...) -> None: ...

class ListBulkOperationsRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListBulkOperationsResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[BulkOperation]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[BulkOperation, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class Asset(_message.Message):
    __slots__ = ("id", "job_id", "client_id", "is_admin_generated", "transferred_to_client_id", "transferred_at", "gallery_client_id", "approval_status", "reviewed_by", "reviewed_at", "content_type", "size_bytes", "width", "height", "url", "has_errors", "product_names", "model", "created_at", "deleted_at", "review_note")
    ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    IS_ADMIN_GENERATED_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_TO_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_AT_FIELD_NUMBER: _ClassVar[int]
    GALLERY_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_AT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HAS_ERRORS_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAMES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_NOTE_FIELD_NUMBER: _ClassVar[int]
    id: str
    job_id: str
    client_id: str
    is_admin_generated: bool
    transferred_to_client_id: str
    transferred_at: _timestamp_pb2.Timestamp
    gallery_client_id: str
    approval_status: str
    reviewed_by: str
    reviewed_at: _timestamp_pb2.Timestamp
    content_type: str
    size_bytes: int
    width: int
    height: int
    url: str
    has_errors: bool
    product_names: _containers.RepeatedScalarFieldContainer[str]
    model: str
    created_at: _timestamp_pb2.Timestamp
    deleted_at: _timestamp_pb2.Timestamp
    review_note: str
    def __init__(self, id: _Optional[str] = ..., job_id: _Optional[str] = ..., client_id: _Optional[str] = ..., is_admin_generated: _Optional[bool] = ..., transferred_to_client_id: _Optional[str] = ..., transferred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gallery_client_id: _Optional[str] = ..., approval_status: _Optional[str] = ..., reviewed_by: _Optional[str] = ..., reviewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., url: _Optional[str] = ..., has_errors: _Optional[bool] = ..., product_names: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deleted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., review_note: _Optional[str] = ...) -> None: ...

class AssetFilter(_message.Message):
    __slots__ = ("client_id", "created_from", "created_to", "approval_status", "admin_generated", "has_errors", "include_deleted")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATED_TO_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    ADMIN_GENERATED_FIELD_NUMBER: _ClassVar[int]
    HAS_ERRORS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    created_from: _timestamp_pb2.Timestamp
    created_to: _timestamp_pb2.Timestamp
    approval_status: str
    admin_generated: int
    has_errors: int
    include_deleted: bool
    def __init__(self, client_id: _Optional[str] = ..., created_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approval_status: _Optional[str] = ..., admin_generated: _Optional[int] = ..., has_errors: _Optional[int] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class ListAssetsRequest(_message.Message):
    __slots__ = ("filter", "limit", "cursor", "include_total")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    filter: AssetFilter
    limit: int
    cursor: str
    include_total: bool
    def __init__(self, filter: _Optional[_Union[AssetFilter, _Mapping]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., include_total: _Optional[bool] = ...) -> None: ...

class ListAssetsResponse(_message.Message):
    __slots__ = ("items", "next_cursor", "total", "has_total")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Asset]
    next_cursor: str
    total: int
    has_total: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., next_cursor: _Optional[str] = ..., total: _Optional[int] = ..., has_total: _Optional[bool] = ...) -> None: ...

class GetAssetRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class AssetDetail(_message.Message):
    __slots__ = ("asset", "prompt", "settings", "products", "job")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    prompt: str
    settings: JobSettings
    products: _containers.RepeatedCompositeFieldContainer[ProductRef]
    job: Job
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ..., prompt: _Optional[str] = ..., settings: _Optional[_Union[JobSettings, _Mapping]] = ..., products: _Optional[_Iterable[_Union[ProductRef, _Mapping]]] = ..., job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ReviewAssetRequest(_message.Message):
    __slots__ = ("asset_id", "approval_status", "note")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    approval_status: str
    note: str
    def __init__(self, asset_id: _Optional[str] = ..., approval_status: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class DeleteAssetRequest(_message.Message):
    __slots__ = ("asset_id", "reason")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    reason: str
    def __init__(self, asset_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TransferAssetRequest(_message.Message):
    __slots__ = ("asset_id", "client_id")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    client_id: str
    def __init__(self, asset_id: _Optional[str] = ..., client_id: _Optional[str] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClientCount(_message.Message):
    __slots__ = ("client_id", "generations")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    generations: int
    def __init__(self, client_id: _Optional[str] = ..., generations: _Optional[int] = ...) -> None: ...

class GenerationStats(_message.Message):
    __slots__ = ("generating", "pending", "completed_24h", "failed_24h", "error_rate_24h", "generations_today", "generations_week", "generations_month", "top_clients_30d", "storage_bytes", "dead_jobs", "provider", "provider_health", "oldest_pending_age_s")
    GENERATING_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_24H_FIELD_NUMBER: _ClassVar[int]
    FAILED_24H_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_24H_FIELD_NUMBER: _ClassVar[int]
    GENERATIONS_TODAY_FIELD_NUMBER: _ClassVar[int]
    GENERATIONS_WEEK_FIELD_NUMBER: _ClassVar[int]
    GENERATIONS_MONTH_FIELD_NUMBER: _ClassVar[int]
    TOP_CLIENTS_30D_FIELD_NUMBER: _ClassVar[int]
    STORAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEAD_JOBS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_HEALTH_FIELD_NUMBER: _ClassVar[int]
    OLDEST_PENDING_AGE_S_FIELD_NUMBER: _ClassVar[int]
    generating: int
    pending: int
    completed_24h: int
    failed_24h: int
    error_rate_24h: float
    generations_today: int
    generations_week: int
    generations_month: int
    top_clients_30d: _containers.RepeatedCompositeFieldContainer[ClientCount]
    storage_bytes: int
    dead_jobs: int
    provider: str
    provider_health: str
    oldest_pending_age_s: float
    def __init__(self, generating: _Optional[int] = ..., pending: _Optional[int] = ..., completed_24h: _Optional[int] = ..., failed_24h: _Optional[int] = ..., error_rate_24h: _Optional[float] = ..., generations_today: _Optional[int] = ..., generations_week: _Optional[int] = ..., generations_month: _Optional[int] = ..., top_clients_30d: _Optional[_Iterable[_Union[ClientCount, _Mapping]]] = ..., storage_bytes: _Optional[int] = ..., dead_jobs: _Optional[int] = ..., provider: _Optional[str] = ..., provider_health: _Optional[str] = ..., oldest_pending_age_s: _Optional[float] = ...) -> None: ...

class GetClientStatsRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class ClientGenerationStats(_message.Message):
    __slots__ = ("client_id", "generations", "jobs", "active_jobs", "failed_jobs", "storage_bytes", "last_generation_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_JOBS_FIELD_NUMBER: _ClassVar[int]
    FAILED_JOBS_FIELD_NUMBER: _ClassVar[int]
    STORAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LAST_GENERATION_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    generations: int
    jobs: int
    active_jobs: int
    failed_jobs: int
    storage_bytes: int
    last_generation_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., generations: _Optional[int] = ..., jobs: _Optional[int] = ..., active_jobs: _Optional[int] = ..., failed_jobs: _Optional[int] = ..., storage_bytes: _Optional[int] = ..., last_generation_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
