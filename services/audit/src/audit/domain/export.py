"""Streamed CSV and JSON-lines exports of audit entries, in flat memory whatever their number."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from audit.domain.model import AuditEntry

# The keys of `AuditEntry.to_public()`: who, what, outcome, the states, then the chain.
CSV_COLUMNS: Final = (
    "seq",
    "id",
    "occurred_at",
    "recorded_at",
    "actor_type",
    "actor_id",
    "actor_role",
    "impersonator_id",
    "ip_address",
    "user_agent",
    "source",
    "event_type",
    "action",
    "entity_type",
    "entity_id",
    "outcome",
    "error_code",
    "error_message",
    "description",
    "request_id",
    "previous_state",
    "new_state",
    "metadata",
    "redacted_fields",
    "prev_hash",
    "hash",
)
JSON_COLUMNS: Final = frozenset({"previous_state", "new_state", "metadata", "redacted_fields"})

# OWASP "CSV Injection": a spreadsheet evaluates a cell starting with one of these as a formula.
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")

DEFAULT_CHUNK_SIZE: Final = 64 * 1024


def escape_cell(value: str) -> str:
    """Defuse formula injection with a leading `'`; any other value unchanged."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """RFC 4180 CSV, one string per record (header first), each ending in CRLF."""
    writer = csv.writer(_Echo(), lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries:
        yield writer.writerow(_csv_row(entry.to_public()))


def jsonl_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """JSON lines: one `to_public()` object per line, ending in LF."""
    for entry in entries:
        # U+2028/U+2029 are legal raw in JSON but split lines for str.splitlines() and old JS: escape them.
        line = _compact_json(entry.to_public()).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        yield line + "\n"


def chunked(lines: Iterable[str], size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """UTF-8 chunks of at most `size` bytes, each cut on a character boundary (not on a line boundary)."""
    if size < 4:
        raise ValueError(f"chunk size must hold the longest UTF-8 character (4 bytes), got {size}")
    buffer = bytearray()
    for line in lines:
        buffer += line.encode("utf-8")
        while len(buffer) > size:
            cut = size
            while buffer[cut] & 0xC0 == 0x80:  # a continuation byte: the cut would split a character
                cut -= 1
            yield bytes(buffer[:cut])
            del buffer[:cut]
    if buffer:
        yield bytes(buffer)


LineFormat = Callable[[Iterable[AuditEntry]], Iterator[str]]
FORMATS: Final[dict[str, LineFormat]] = {"csv": csv_lines, "jsonl": jsonl_lines}
CONTENT_TYPES: Final[dict[str, str]] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class _Echo:
    """A file for `csv.writer` that hands each formatted record back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv_row(public: dict[str, Any]) -> list[str]:
    return [escape_cell(_csv_cell(column, public[column])) for column in CSV_COLUMNS]


def _csv_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in JSON_COLUMNS:
        return _compact_json(value)
    return str(value)


# One encoder for every call (json.dumps builds a new one per call when given options); it keeps no state.
_compact_json: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
