"""The one JSON log format: every line carries the service, and the request id when there is one.

No line ever holds a secret: the message, the extra fields and the exception go through
`scenergy.common.redaction` first.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from scenergy.common.context import current_request_id
from scenergy.common.redaction import redact, scrub_text

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": scrub_text(record.getMessage())[0],
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        extra = {
            key: value for key, value in record.__dict__.items() if key not in _RESERVED and not key.startswith("_")
        }
        if extra:
            # default=str as below: an object's str() could hold a secret too
            entry.update(redact(extra, default=str)[0])
        if record.exc_info:
            entry["exc"] = scrub_text(self.formatException(record.exc_info))[0]
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send JSON lines to stderr; called once by each entrypoint."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("amqp", "kombu", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
