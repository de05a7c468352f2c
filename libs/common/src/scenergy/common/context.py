"""Per-request context (request id, acting identity) carried through logs, gRPC calls and events."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from scenergy.common.identity import Actor

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("actor", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _request_id.get()


def current_actor() -> Actor | None:
    return _actor.get()


@contextmanager
def bound(*, request_id: str | None, actor: Actor | None = None) -> Iterator[None]:
    """Bind the request id and actor for the duration of one request or message."""
    rid_token = _request_id.set(request_id)
    actor_token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(actor_token)
        _request_id.reset(rid_token)
