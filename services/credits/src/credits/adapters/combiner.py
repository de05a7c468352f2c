"""Group commit: concurrent calls of one process share one database statement, and so one commit.

A call that finds no batch running leads one: it takes its own item and every item waiting (up to
`max_batch`), runs them together, hands each caller its result and passes the lead to the next
waiting caller. While a batch runs, new calls wait, and form the next batch. Alone, a call runs at
once, as if there were no combiner; under load, the per-statement cost (round trip, parse, commit,
WAL flush) is paid once per batch instead of once per call.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Ticket(Generic[T, R]):
    __slots__ = ("item", "lead", "ready", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        # Held until the ticket's result is in (or it is handed the lead). A bare lock, not an
        # Event: the waiter wakes once, without a condition variable to go back through.
        self.ready = threading.Lock()
        self.ready.acquire()
        self.result: R | BaseException | None = None
        self.lead = False


class Combiner(Generic[T, R]):
    """Runs `run_batch` over the items of concurrent `submit` calls.

    `run_batch` gets the items in arrival order and returns one entry per item: its result, or an
    exception, which is raised in that item's caller. An exception from `run_batch` itself is raised
    in every caller of the batch.
    """

    def __init__(self, run_batch: Callable[[Sequence[T]], Sequence[R | BaseException]], *, max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: deque[_Ticket[T, R]] = deque()
        self._leading = False

    def submit(self, item: T) -> R:
        ticket: _Ticket[T, R] = _Ticket(item)
        with self._lock:
            if self._leading:
                self._waiting.append(ticket)
            else:
                self._leading = ticket.lead = True
        if not ticket.lead:
            ticket.ready.acquire()
        if ticket.lead:
            self._lead(ticket)
        result = ticket.result
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[return-value]

    def _lead(self, own: _Ticket[T, R]) -> None:
        with self._lock:
            batch = [own]
            while self._waiting and len(batch) < self._max_batch:
                batch.append(self._waiting.popleft())
        try:
            results: Sequence[R | BaseException] = self._run_batch([t.item for t in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} items gave {len(results)} results")
        except BaseException as exc:  # every caller of the batch must hear of it, not only the leader
            results = [exc] * len(batch)
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result
            ticket.lead = False
        with self._lock:
            if self._waiting:
                successor = self._waiting.popleft()
                successor.lead = True
                successor.ready.release()
            else:
                self._leading = False
        for ticket in batch[1:]:
            ticket.ready.release()
