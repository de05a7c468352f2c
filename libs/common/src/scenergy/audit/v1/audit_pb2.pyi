import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntryFilter(_message.Message):
    __slots__ = ("actor_id", "actor_type", "action", "entity_type", "entity_id", "occurred_from", "occurred_to", "outcome", "query")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_FROM_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_TO_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    actor_type: str
    action: str
    entity_type: str
    entity_id: str
    occurred_from: _timestamp_pb2.Timestamp
    occurred_to: _timestamp_pb2.Timestamp
    outcome: str
    query: str
    def __init__(self, actor_id: _Optional[str] = ..., actor_type: _Optional[str] = ..., action: _Optional[str] = ..., entity_type: _Optional[str] = ..., entity_id: _Optional[str] = ..., occurred_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("seq", "id", "occurred_at", "recorded_at", "source", "event_type", "action", "entity_type", "entity_id", "actor_type", "actor_id", "actor_role", "impersonator_id", "ip_address", "user_agent", "request_id", "outcome", "error_code", "error_message", "description", "previous_state_json", "new_state_json", "metadata_json", "redacted_fields", "prev_hash", "hash")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATOR_ID_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_JSON_FIELD_NUMBER: _ClassVar[int]
    NEW_STATE_JSON_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    id: str
    occurred_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    source: str
    event_type: str
    action: str
    entity_type: str
    entity_id: str
    actor_type: str
    actor_id: str
    actor_role: str
    impersonator_id: str
    ip_address: str
    user_agent: str
    request_id: str
    outcome: str
    error_code: str
    error_message: str
    description: str
    previous_state_json: str
    new_state_json: str
    metadata_json: str
    redacted_fields: _containers.RepeatedScalarFieldContainer[str]
    prev_hash: str
    hash: str
    def __init__(self, seq: _Optional[int] = ..., id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., event_type: _Optional[str] = ..., action: _Optional[str] = ..., entity_type: _Optional[str] = ..., entity_id: _Optional[str] = ..., actor_type: _Optional[str] = ..., actor_id: _Optional[str] = ..., actor_role: _Optional[str] = ..., impersonator_id: _Optional[str] = ..., ip_address: _Optional[str] = ..., user_agent: _Optional[str] = ..., request_id: _Optional[str] = ..., outcome: _Optional[str] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., description: _Optional[str] = ..., previous_state_json: _Optional[str] = ..., new_state_json: _Optional[str] = ..., metadata_json: _Optional[str] = ..., redacted_fields: _Optional[_Iterable[str]] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class ListEntriesRequest(_message.Message):
    __slots__ = ("filter", "limit", "cursor", "include_total", "summary")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    filter: EntryFilter
    limit: int
    cursor: str
    include_total: bool
    summary: bool
    def __init__(self, filter: _Optional[_Union[EntryFilter, _Mapping]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., include_total: _Optional[bool] = ..., summary: _Optional[bool] = ...) -> None: ...

class ListEntriesResponse(_message.Message):
    __slots__ = ("items", "next_cursor", "total", "has_total")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    HAS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Entry]
    next_cursor: str
    total: int
    has_total: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ..., next_cursor: _Optional[str] = ..., total: _Optional[int] = ..., has_total: _Optional[bool] = ...) -> None: ...

class GetEntryRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Change(_message.Message):
    __slots__ = ("path", "kind", "before_json", "after_json", "redacted")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BEFORE_JSON_FIELD_NUMBER: _ClassVar[int]
    AFTER_JSON_FIELD_NUMBER: _ClassVar[int]
    REDACTED_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: str
    before_json: str
    after_json: str
    redacted: bool
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[str] = ..., before_json: _Optional[str] = ..., after_json: _Optional[str] = ..., redacted: _Optional[bool] = ...) -> None: ...

class EntryDetail(_message.Message):
    __slots__ = ("entry", "changes")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    entry: Entry
    changes: _containers.RepeatedCompositeFieldContainer[Change]
    def __init__(self, entry: _Optional[_Union[Entry, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[Change, _Mapping]]] = ...) -> None: ...

class RecentActivityRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ExportEntriesRequest(_message.Message):
    __slots__ = ("filter", "format")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    filter: EntryFilter
    format: str
    def __init__(self, filter: _Optional[_Union[EntryFilter, _Mapping]] = ..., format: _Optional[str] = ...) -> None: ...

class ExportChunk(_message.Message):
    __slots__ = ("data", "content_type")
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    content_type: str
    def __init__(self, data: _Optional[bytes] = ..., content_type: _Optional[str] = ...) -> None: ...

class VerifyChainRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyProblem(_message.Message):
    __slots__ = ("kind", "seq", "entry_id", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    seq: int
    entry_id: str
    detail: str
    def __init__(self, kind: _Optional[str] = ..., seq: _Optional[int] = ..., entry_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class VerifyReport(_message.Message):
    __slots__ = ("ok", "entries_checked", "missing", "first_bad_id", "first_bad_seq", "first_problem", "start_seq", "end_seq", "checkpoints_checked", "problems")
    OK_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    FIRST_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    START_SEQ_FIELD_NUMBER: _ClassVar[int]
    END_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    entries_checked: int
    missing: int
    first_bad_id: str
    first_bad_seq: int
    first_problem: str
    start_seq: int
    end_seq: int
    checkpoints_checked: int
    problems: _containers.RepeatedCompositeFieldContainer[VerifyProblem]
    def __init__(self, ok: _Optional[bool] = ..., entries_checked: _Optional[int] = ..., missing: _Optional[int] = ..., first_bad_id: _Optional[str] = ..., first_bad_seq: _Optional[int] = ..., first_problem: _Optional[str] = ..., start_seq: _Optional[int] = ..., end_seq: _Optional[int] = ..., checkpoints_checked: _Optional[int] = ..., problems: _Optional[_Iterable[_Union[VerifyProblem, _Mapping]]] = ...) -> None: ...

class CreateCheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("id", "seq", "last_id", "last_hash", "entry_count", "reason", "created_at", "key_id", "signature")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_HASH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    id: str
    seq: int
    last_id: str
    last_hash: str
    entry_count: int
    reason: str
    created_at: _timestamp_pb2.Timestamp
    key_id: str
    signature: str
    def __init__(self, id: _Optional[str] = ..., seq: _Optional[int] = ..., last_id: _Optional[str] = ..., last_hash: _Optional[str] = ..., entry_count: _Optional[int] = ..., reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class PurgeExpiredRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PurgeExpiredResponse(_message.Message):
    __slots__ = ("checkpoint", "deleted")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    checkpoint: Checkpoint
    deleted: int
    def __init__(self, checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ..., deleted: _Optional[int] = ...) -> None: ...
