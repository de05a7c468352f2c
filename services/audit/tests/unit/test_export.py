import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from audit.domain.export import (
    CONTENT_TYPES,
    CSV_COLUMNS,
    FORMATS,
    chunked,
    csv_lines,
    escape_cell,
    jsonl_lines,
)
from audit.domain.model import AuditEntry

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
JSON_CELLS = {"previous_state", "new_state", "metadata", "redacted_fields"}
LARGE_EXPORT = 15_000
INJECTIONS = ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"]


def make_entry(seq=1, **overrides):
    fields = {
        "seq": seq,
        "id": f"evt_{seq:08d}",
        "occurred_at": T0 + timedelta(seconds=seq),
        "recorded_at": T0 + timedelta(seconds=seq, microseconds=1500),
        "source": "credits",
        "event_type": "credits.credit.grant",
        "action": "credit.grant",
        "entity_type": "account",
        "entity_id": f"acc_{seq:08d}",
        "actor_type": "admin",
        "actor_id": "adm_0001",
        "actor_role": "super_admin",
        "impersonator_id": None,
        "ip_address": "2001:db8::1",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "request_id": f"req_{seq:08d}",
        "outcome": "success",
        "error_code": None,
        "error_message": None,
        "description": "Granted 100 credits",
        "previous_state": {"balance": 0},
        "new_state": {"balance": 100, "note": 'welcome, "friend"'},
        "metadata": {"reason": "promo", "ticket": 42},
        "redacted_fields": ("/metadata/card",),
        "prev_hash": "0" * 64,
        "hash": f"{seq:064x}",
    }
    return AuditEntry(**{**fields, **overrides})


def parse_csv(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def expected_row(entry):
    public = entry.to_public()
    return {column: public[column] for column in CSV_COLUMNS}


def decoded_row(header, row):
    cells = dict(zip(header, row, strict=True))
    return {
        column: (json.loads(cell) if cell else None) if column in JSON_CELLS else (cell or None)
        for column, cell in cells.items()
    }


def test_the_csv_columns_are_the_public_shape():
    assert set(CSV_COLUMNS) == set(make_entry().to_public())
    assert len(CSV_COLUMNS) == len(set(CSV_COLUMNS))


def test_csv_parses_back_to_the_header_and_the_public_values():
    entries = [
        make_entry(1),
        make_entry(2, previous_state=None, metadata={}, redacted_fields=(), actor_role=None, description=""),
        make_entry(3, outcome="failure", error_code="INSUFFICIENT", error_message="balance 0 < 5", new_state=None),
    ]

    rows = parse_csv("".join(csv_lines(entries)))

    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 1 + len(entries)
    for entry, row in zip(entries, rows[1:], strict=True):
        expected = expected_row(entry)
        expected["seq"] = str(entry.seq)
        if expected["description"] == "":
            expected["description"] = None  # an empty string and None are both the empty cell
        assert decoded_row(rows[0], row) == expected


def test_csv_json_cells_are_compact_with_sorted_keys():
    entry = make_entry(new_state={"z": 1, "a": {"y": "é", "b": [1, 2]}})

    row = parse_csv("".join(csv_lines([entry])))[1]

    assert row[CSV_COLUMNS.index("new_state")] == '{"a":{"b":[1,2],"y":"é"},"z":1}'
    assert row[CSV_COLUMNS.index("redacted_fields")] == '["/metadata/card"]'


def test_csv_records_end_in_crlf_one_string_each():
    lines = list(csv_lines([make_entry(1), make_entry(2)]))

    assert len(lines) == 3
    assert all(line.endswith("\r\n") for line in lines)
    assert lines[0] == ",".join(CSV_COLUMNS) + "\r\n"


def test_an_empty_export_is_the_header_alone():
    assert list(csv_lines([])) == [",".join(CSV_COLUMNS) + "\r\n"]
    assert list(jsonl_lines([])) == []


def test_a_description_with_separators_quotes_newlines_and_unicode_round_trips():
    description = 'Refund, "partial"\r\nline two\nline three\r — café ✓ 🎉 日本語'
    entry = make_entry(description=description, user_agent='say "hi", then\nleave')

    line = list(csv_lines([entry]))[1]
    row = parse_csv(line)[0]

    assert '"Refund, ""partial""\r\nline two' in line
    assert row[CSV_COLUMNS.index("description")] == description
    assert row[CSV_COLUMNS.index("user_agent")] == 'say "hi", then\nleave'


@pytest.mark.parametrize("value", INJECTIONS)
def test_a_formula_prefix_gets_a_leading_quote(value):
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["", "Granted 100 credits", "'quoted", "1+1", "a=b", " =x", "{}", "[1]", "é-2"])
def test_other_values_are_left_alone(value):
    assert escape_cell(value) == value


@pytest.mark.parametrize("value", INJECTIONS)
def test_every_csv_cell_is_escaped(value):
    entry = make_entry(description=value, actor_id=value, user_agent=value, error_message=value)

    row = parse_csv("".join(csv_lines([entry])))[1]

    for column in ("description", "actor_id", "user_agent", "error_message"):
        assert row[CSV_COLUMNS.index(column)] == "'" + value
    assert row[CSV_COLUMNS.index("action")] == "credit.grant"
    assert row[CSV_COLUMNS.index("metadata")].startswith("{")


def test_jsonl_lines_parse_back_to_the_public_shape():
    entries = [make_entry(1), make_entry(2, description="multi\nline — ✓ \u2028 sep", new_state=None)]

    lines = list(jsonl_lines(entries))

    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    assert [json.loads(line) for line in lines] == [entry.to_public() for entry in entries]
    assert "✓" in lines[1]  # not \u-escaped
    assert len("".join(lines).splitlines()) == 2  # line and paragraph separators are escaped
    assert lines[0] == json.dumps(entries[0].to_public(), sort_keys=True, separators=(",", ":")) + "\n"


def test_formats_and_content_types_agree():
    assert {"csv": csv_lines, "jsonl": jsonl_lines} == FORMATS
    assert CONTENT_TYPES == {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@pytest.mark.parametrize("size", [4, 5, 7, 64, 1000])
def test_chunks_reassemble_to_the_same_bytes(size):
    lines = [f"line {index} — café 🎉 日本\n" * (index % 5) for index in range(200)]

    chunks = list(chunked(lines, size))

    assert b"".join(chunks) == "".join(lines).encode()
    assert all(0 < len(chunk) <= size for chunk in chunks)
    assert all(len(chunk) >= size - 3 for chunk in chunks[:-1])  # only a character boundary makes one short


@pytest.mark.parametrize("size", [4, 5, 6, 7, 9, 64])
def test_chunks_never_split_a_character(size):
    text = "a🎉bé日" * 50 + "\n" + "🎉" * 100

    chunks = list(chunked([text[:7], text[7:]], size))

    assert "".join(chunk.decode("utf-8") for chunk in chunks) == text


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_an_export_survives_chunking_into_small_pieces(fmt):
    entries = [make_entry(seq, description=f"n° {seq}, «ok» — 🎉\n") for seq in range(1, 30)]

    data = b"".join(chunked(FORMATS[fmt](entries), 7))

    assert data.decode("utf-8") == "".join(FORMATS[fmt](entries))


def test_a_line_longer_than_a_chunk_is_cut_across_chunks():
    chunks = list(chunked(["x" * 250_000 + "\n", "short\n"], 64 * 1024))

    assert [len(chunk) for chunk in chunks] == [65536, 65536, 65536, 250_007 - 3 * 65536]


def test_a_chunk_too_small_for_a_character_is_refused():
    with pytest.raises(ValueError):
        list(chunked(["abc"], 3))


def test_chunked_consumes_lazily():
    consumed = []

    def lines():
        for index in range(10):
            consumed.append(index)
            yield "x" * 100

    first = next(chunked(lines(), 250))

    assert len(first) == 250
    assert consumed == [0, 1, 2]


def stream_csv_traced(count):
    """Stream `count` lazily built entries through csv -> chunked; the bytes, chunks and traced peak."""

    def entries():
        for seq in range(1, count + 1):
            yield make_entry(seq)

    total = chunks = 0
    tracemalloc.start()
    try:
        for chunk in chunked(csv_lines(entries())):
            total += len(chunk)
            chunks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return total, chunks, peak


@pytest.mark.slow
def test_a_large_csv_export_streams_in_flat_memory():
    # Ten times the entries, the same peak: memory does not grow with the export. (tracemalloc
    # triples the cost of each allocation, so the larger run is sized for seconds, not minutes.)
    small_total, _, small_peak = stream_csv_traced(LARGE_EXPORT // 10)
    total, chunks, peak = stream_csv_traced(LARGE_EXPORT)

    assert total > 10 * small_total - 1024
    assert total > 6 * 1024 * 1024  # megabytes went through...
    assert chunks == -(-total // (64 * 1024))  # ...in full 64 KiB chunks (the rows are ASCII)...
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"  # ...in a bounded peak...
    assert peak < small_peak + 256 * 1024, f"peak {small_peak} -> {peak} bytes"  # ...that does not grow
