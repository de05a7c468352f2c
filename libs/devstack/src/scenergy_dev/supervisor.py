"""A small process supervisor: one OS process per entry, output prefixed with its name, exits noticed.

Children stay in the runner's process group, so a terminal's Ctrl-C reaches them too; the runner then
sends SIGTERM itself (harmless twice: every entrypoint drains on the first) and SIGKILL after a grace
period, so stopping is bounded even when a process hangs.
"""

from __future__ import annotations

import itertools
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

RUNNER = "devstack"
_COLOURS = (36, 33, 32, 35, 34, 91, 92, 93, 94, 95)


class Output:
    """Writes whole lines from many threads onto one stream, each behind its padded, coloured name."""

    def __init__(self, stream: TextIO, names: Sequence[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._width = max(len(name) for name in (RUNNER, *names))
        colour = stream.isatty()
        palette = itertools.cycle(_COLOURS)
        self._prefix = {
            name: (f"\033[{next(palette)}m{name:<{self._width}} |\033[0m " if colour else f"{name:<{self._width}} | ")
            for name in (RUNNER, *names)
        }

    def line(self, name: str, text: str) -> None:
        prefix = self._prefix.get(name) or f"{name:<{self._width}} | "
        with self._lock:
            try:
                self._stream.write(f"{time.strftime('%H:%M:%S')} {prefix}{text}\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass  # the reader went away (`make run | head`); keep draining so no child blocks on its pipe

    def say(self, text: str) -> None:
        """A line from the runner itself."""
        self.line(RUNNER, text)


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    reader: threading.Thread


class Supervisor:
    def __init__(self, output: Output, *, grace_s: float = 15.0) -> None:
        self._output = output
        self._grace_s = grace_s
        self._children: list[Child] = []
        self._exits: queue.Queue[tuple[str, int]] = queue.Queue()

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
        popen = subprocess.Popen(
            list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        reader = threading.Thread(target=self._pump, args=(name, popen), name=f"output-{name}", daemon=True)
        self._children.append(Child(name, popen, reader))
        reader.start()
        self._output.say(f"started {name} (pid {popen.pid})")

    def _pump(self, name: str, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        for raw in iter(popen.stdout.readline, b""):
            self._output.line(name, raw.decode("utf-8", "replace").rstrip("\r\n"))
        popen.stdout.close()
        self._exits.put((name, popen.wait()))

    def next_exit(self, timeout: float) -> tuple[str, int] | None:
        """The name and exit code of a process that ended, or None if none did within `timeout`."""
        try:
            return self._exits.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        """SIGTERM every running process, wait up to the grace period, then SIGKILL what is left."""
        running = [c for c in self._children if c.popen.poll() is None]
        for child in running:
            self._output.say(f"stopping {child.name} (pid {child.popen.pid})")
            child.popen.terminate()
        deadline = time.monotonic() + self._grace_s
        for child in running:
            try:
                child.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._output.say(f"{child.name} did not stop within {self._grace_s:.0f}s; killing it")
                child.popen.kill()
                child.popen.wait()
        for child in self._children:
            child.reader.join(timeout=5)
            self._output.say(f"{child.name} stopped (exit code {child.popen.returncode})")
        self._children.clear()
