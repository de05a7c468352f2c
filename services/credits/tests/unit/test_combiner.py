"""The group-commit combiner on its own: which thread runs a batch, what shares one, where results and
errors go."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from credits.adapters.combiner import Combiner


class Recorder:
    """A batch function that keeps its batches and, while `gate` is closed, holds the first one."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.started.set()
        self.gate.wait(5)
        self.batches.append(list(items))
        self.threads.append(threading.current_thread().name)
        return [ValueError(f"odd {item}") if item % 2 else item * 10 for item in items]


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def queued_behind_a_held_batch(
    items: Sequence[int], combiner: Combiner | None = None, recorder: Recorder | None = None
) -> tuple[Recorder, int, dict[int, int | BaseException]]:
    """Item 0 runs a batch that is held until `items` all queue behind it; then it is let go.
    Returns the recorder, item 0's result, and each queued item's result (or exception)."""
    recorder = recorder or Recorder()
    recorder.gate.clear()
    recorder.started.clear()
    combiner = combiner or Combiner(recorder, max_batch=8)
    with ThreadPoolExecutor(len(items) + 2, thread_name_prefix="caller") as pool:
        first = pool.submit(combiner.submit, 0)
        recorder.started.wait(5)  # the first call leads and is held inside its batch
        queued = {item: pool.submit(combiner.submit, item) for item in items}
        wait_for(lambda: len(combiner._waiting) == len(items))
        recorder.gate.set()
        return recorder, first.result(5), {item: f.exception(5) or f.result(5) for item, f in queued.items()}


def test_a_call_alone_runs_at_once_as_a_batch_of_one_in_its_own_thread() -> None:
    recorder = Recorder()
    combiner = Combiner(recorder, max_batch=8)
    assert combiner.submit(4) == 40
    assert recorder.batches == [[4]]
    assert recorder.threads == [threading.current_thread().name]


def test_queued_calls_are_run_by_the_combiners_thread_and_a_later_lone_call_runs_at_once_again() -> None:
    recorder = Recorder()
    combiner = Combiner(recorder, max_batch=8, name="test-combiner")
    queued_behind_a_held_batch([2, 4], combiner, recorder)
    assert recorder.batches == [[0], [2, 4]]
    assert recorder.threads[0].startswith("caller")  # the first call ran its own item
    assert recorder.threads[1] == "test-combiner"  # the queue went to the combiner's thread
    wait_for(lambda: not combiner._busy)  # the thread found nothing more and went back to sleep
    assert combiner.submit(6) == 60
    assert recorder.threads[2] == threading.current_thread().name
    # A second busy period reuses the same thread.
    queued_behind_a_held_batch([8], combiner, recorder)
    assert recorder.batches[3:] == [[0], [8]]
    assert recorder.threads[4] == "test-combiner"
    assert [t.name for t in threading.enumerate()].count("test-combiner") == 1


def test_calls_arriving_during_a_batch_share_the_next_one_and_get_their_own_results() -> None:
    recorder, first, queued = queued_behind_a_held_batch([2, 4, 6, 8])
    assert first == 0
    assert queued == {2: 20, 4: 40, 6: 60, 8: 80}
    assert recorder.batches[0] == [0]
    assert sorted(recorder.batches[1]) == [2, 4, 6, 8]  # all four in one statement
    assert len(recorder.batches) == 2


def test_an_items_exception_is_raised_in_its_own_caller_only() -> None:
    recorder, first, queued = queued_behind_a_held_batch([3, 2])
    assert first == 0
    assert queued[2] == 20
    assert isinstance(queued[3], ValueError) and str(queued[3]) == "odd 3"
    assert sorted(recorder.batches[1]) == [2, 3]  # the failing item shared the batch with the good one


def test_a_failing_batch_fails_every_caller_and_the_next_call_still_runs() -> None:
    calls = []

    def broken(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            raise ConnectionError("database gone")
        return list(items)

    combiner = Combiner(broken, max_batch=8)
    with pytest.raises(ConnectionError):
        combiner.submit(1)
    assert combiner.submit(2) == 2  # the combiner is free again


def test_a_failing_batch_in_the_combiners_thread_fails_its_callers_and_the_thread_goes_on() -> None:
    recorder = Recorder()
    failing = {"on": False}

    def run(items: Sequence[int]) -> list[int | BaseException]:
        if failing["on"] and items != [0]:
            raise ConnectionError("database gone")
        return recorder(items)

    combiner = Combiner(run, max_batch=8)
    failing["on"] = True
    recorder.gate.clear()
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(combiner.submit, 0)
        recorder.started.wait(5)
        queued = [pool.submit(combiner.submit, item) for item in (2, 4)]
        wait_for(lambda: len(combiner._waiting) == 2)
        recorder.gate.set()
        assert first.result(5) == 0
        assert all(isinstance(f.exception(5), ConnectionError) for f in queued)
    failing["on"] = False
    _, _, after = queued_behind_a_held_batch([6, 8], combiner, recorder)
    assert after == {6: 60, 8: 80}  # the thread survived its failed batch


def test_a_batch_with_the_wrong_number_of_results_is_an_error_for_all() -> None:
    combiner = Combiner(lambda items: [], max_batch=8)
    with pytest.raises(RuntimeError, match="gave 0 results"):
        combiner.submit(1)


def test_batches_stay_within_max_batch_and_every_call_is_answered_under_load() -> None:
    sizes: list[int] = []

    def run(items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        time.sleep(0.001)  # long enough for others to queue behind
        return [item + 1 for item in items]

    combiner = Combiner(run, max_batch=4)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(combiner.submit, range(400)))
    assert results == [item + 1 for item in range(400)]
    assert sum(sizes) == 400
    assert max(sizes) <= 4
    assert max(sizes) > 1  # with 16 callers and a slow batch, some calls did share


def test_never_two_batches_at_once_while_calls_come_and_go() -> None:
    """Quick batches and callers that come in bursts, so that the combiner goes between idle, a
    caller's own batch and its thread thousands of times: batches must never overlap."""
    running = 0
    overlaps = 0
    guard = threading.Lock()

    def run(items: Sequence[int]) -> list[int]:
        nonlocal running, overlaps
        with guard:
            running += 1
            overlaps += running > 1
        time.sleep(0)  # let other threads in while this batch "runs"
        with guard:
            running -= 1
        return list(items)

    combiner = Combiner(run, max_batch=4)

    def burst(start: int) -> list[int]:
        out = []
        for item in range(start, start + 500):
            out.append(combiner.submit(item))
            if item % 7 == 0:
                time.sleep(0.0001)  # now and then the queue runs dry
        return out

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between any two steps, races included
    try:
        with ThreadPoolExecutor(8) as pool:
            results = [r for rs in pool.map(burst, range(0, 4000, 500)) for r in rs]
    finally:
        sys.setswitchinterval(interval)
    assert results == list(range(4000))
    assert overlaps == 0


class PausingLock:
    """The combiner's lock, which stops one chosen thread right after its n-th release: a way to
    run other threads in the gap between two of that thread's steps."""

    def __init__(self, lock: threading.Lock, thread: threading.Thread, after_releases: int) -> None:
        self._lock = lock
        self._thread = thread
        self._left = after_releases
        self.paused = threading.Event()
        self.resume = threading.Event()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        if threading.current_thread() is self._thread:
            self._left -= 1
            if self._left == 0:
                self.paused.set()
                self.resume.wait(5)


def test_a_caller_done_with_its_batch_never_hands_over_a_batch_another_caller_runs() -> None:
    """A call that ran alone decides under the lock whether to hand the queue over. If it looked
    again after letting go of the lock, a second caller running meanwhile would look like a queue
    to hand over: the combiner's thread would find nothing, mark the combiner free, and a third
    call would run beside the second."""
    held = threading.Event()
    gate = threading.Event()
    concurrent: list[list[int]] = []
    running: list[int] = []

    def run(items: Sequence[int]) -> list[int]:
        running.append(1)
        if len(running) > 1:
            concurrent.append(list(items))
        if list(items) == [2]:
            held.set()
            gate.wait(5)
        running.pop()
        return list(items)

    combiner = Combiner(run, max_batch=8)
    first = threading.Thread(target=combiner.submit, args=(1,))
    # The first call's lock releases: deciding to run alone, then deciding about a queue.
    combiner._lock = PausingLock(combiner._lock, first, after_releases=2)  # type: ignore[assignment]
    first.start()
    assert combiner._lock.paused.wait(5)
    with ThreadPoolExecutor(2) as pool:
        second = pool.submit(combiner.submit, 2)  # runs alone, and is held inside its batch
        assert held.wait(5)
        combiner._lock.resume.set()  # the first call finishes while the second one runs
        first.join(5)
        third = pool.submit(combiner.submit, 3)
        wait_for(lambda: len(combiner._waiting) == 1)  # the third queues behind the second
        gate.set()
        assert (second.result(5), third.result(5)) == (2, 3)
    assert concurrent == []


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Combiner(lambda items: list(items), max_batch=0)
