"""Group commit: concurrent calls of one process share one database statement, and so one commit.

A call that finds no batch running runs its own item at once, in its own thread, as if there were
no combiner. Calls that arrive meanwhile wait, and form the next batch. When that call is done and
calls are waiting, it hands them to the combiner's thread, which runs batch after batch (up to
`max_batch` items each, in arrival order) for as long as calls keep waiting, then goes back to
sleep. Under load, the per-statement cost (round trip, parse, commit, WAL flush) is paid once per
batch instead of once per call.

Why a thread of its own: batches are the serial step of the write path. Handing each next batch
to one of the waiting callers woke a sleeping thread, which then waited for the GIL, for every
batch; the combiner's thread goes from one batch to the next without waiting for anybody (server
CPU per debit ~7% lower in bench/credits.py).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Ticket(Generic[T, R]):
    __slots__ = ("item", "ready", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        # Held until the ticket's result is in. A bare lock, not an Event: the waiter wakes once,
        # without a condition variable to go back through.
        self.ready = threading.Lock()
        self.ready.acquire()
        self.result: R | BaseException | None = None


class Combiner(Generic[T, R]):
    """Runs `run_batch` over the items of concurrent `submit` calls.

    `run_batch` gets the items in arrival order and returns one entry per item: its result, or an
    exception, which is raised in that item's caller. An exception from `run_batch` itself is raised
    in every caller of the batch.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[T]], Sequence[R | BaseException]],
        *,
        max_batch: int,
        name: str = "combiner",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: deque[_Ticket[T, R]] = deque()
        # True while a batch runs, in a caller or in the combiner's thread: calls then queue.
        self._busy = False
        # Released to hand the waiting calls to the combiner's thread (which then owns `_busy`).
        self._handover = threading.Lock()
        self._handover.acquire()
        # Started here, not at the first hand-over: a thread that failed to start then would
        # leave the combiner busy for good, and every later call waiting.
        self._thread = threading.Thread(target=self._drain_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> R:
        ticket: _Ticket[T, R] = _Ticket(item)
        with self._lock:
            inline = not self._busy
            if inline:
                self._busy = True
            else:
                self._waiting.append(ticket)
        if inline:
            self._run([ticket])
            with self._lock:
                # Decided under the lock: once it is let go, `_busy` may be another caller's.
                hand_over = self._busy = bool(self._waiting)
            if hand_over:
                # The combiner's thread takes the waiting calls over. Only a caller that set
                # `_busy` hands over, and `_busy` stays set until the thread has drained the queue
                # and is about to wait again: one release per wait, never two.
                self._handover.release()
        else:
            ticket.ready.acquire()
        result = ticket.result
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[return-value]

    def _run(self, batch: list[_Ticket[T, R]]) -> None:
        try:
            results: Sequence[R | BaseException] = self._run_batch([t.item for t in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} items gave {len(results)} results")
        except BaseException as exc:  # every caller of the batch must hear of it
            results = [exc] * len(batch)
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result

    def _drain_forever(self) -> None:
        while True:
            self._handover.acquire()
            while True:
                with self._lock:
                    if not self._waiting:
                        self._busy = False
                        break
                    batch = [self._waiting.popleft() for _ in range(min(self._max_batch, len(self._waiting)))]
                self._run(batch)
                for ticket in batch:
                    ticket.ready.release()
