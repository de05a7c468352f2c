"""Fixtures of the end-to-end tests: the embedded runtime (`python -m scenergy_dev run`) as a subprocess.

Each run gets free ports chosen here and an environment without DATABASE_URL, BROKER_URL or
SERVICE_CREDENTIAL_KEY, so it exercises the embedded PostgreSQL, the SQLAlchemy broker and the
generated key, and never collides with a platform already running on the machine.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scenergy_dev.postgres import EmbeddedPostgres
from scenergy_dev.services import SERVICES
from scenergy_dev.stack import READY_LINE

READY_TIMEOUT_S = 180.0  # generous: a busy shared machine makes a cold start several times slower
STOP_TIMEOUT_S = 45.0
# Variables that would point the runner at another server, broker, key or ports than the test's.
_FOREIGN = re.compile(r"^(DATABASE_URL|BROKER_URL|SERVICE_CREDENTIAL_KEY|BIND_HOST)(_.*)?$")


def free_ports(count: int) -> list[int]:
    """Distinct ports nothing listens on, below the kernel's ephemeral range: a port chosen from that
    range could be taken by an outgoing connection (a probe, a pool) before the server binds it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError:  # not Linux: 32768 is below the BSD and macOS ranges too
        low = 32768
    chosen: list[int] = []
    for candidate in random.sample(range(20000, min(low, 32768)), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
        chosen.append(candidate)
        if len(chosen) == count:
            return chosen
    raise RuntimeError(f"found only {len(chosen)} free ports of {count}")


def port_variables() -> list[str]:
    """Every port override the runner reads, from its own table: new services are covered unchanged."""
    return [
        f"{service.env_prefix}_{port.variable}"
        for service in SERVICES
        for process in service.processes
        for port in process.ports
    ]


class EmbeddedStack:
    """One `python -m scenergy_dev run` process, its output collected line by line."""

    def __init__(self, var_dir: Path, ports: dict[str, int]) -> None:
        self.var_dir = var_dir
        self.ports = ports
        self.lines: list[str] = []
        self.ready = threading.Event()
        env = {k: v for k, v in os.environ.items() if not _FOREIGN.match(k) and k not in ports}
        env.update({name: str(number) for name, number in ports.items()})
        env["PYTHONUNBUFFERED"] = "1"
        # Its own session: a signal meant for pytest never reaches it; the test decides when it stops.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scenergy_dev", "run", "--var-dir", str(var_dir)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if line.endswith(READY_LINE):
                self.ready.set()
        self.process.stdout.close()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.lines[-n:])

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Seconds until the ready line; fails with the runner's output if it exits or times out first."""
        started = time.monotonic()
        while not self.ready.wait(0.2):
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                pytest.fail(f"the runner exited ({self.process.returncode}) before it was ready:\n{self.tail()}")
            if time.monotonic() - started > timeout_s:
                pytest.fail(f"the runner was not ready within {timeout_s:.0f}s:\n{self.tail()}")
        return time.monotonic() - started

    def wait_exit(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the runner did not exit within {timeout_s:.0f}s:\n{self.tail()}")
        self._reader.join(timeout=5)
        return code

    def pid_of(self, name: str) -> int:
        pattern = re.compile(rf"started {re.escape(name)} \(pid (\d+)\)")
        for line in self.lines:
            if match := pattern.search(line):
                return int(match.group(1))
        raise AssertionError(f"no pid for {name} in the output:\n{self.tail()}")

    def close(self) -> None:
        """After a failed test: stop the runner (it stops its processes), or kill its group, and make sure
        no PostgreSQL is left running on the test's data."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(timeout=5)
        EmbeddedPostgres(self.var_dir / "pg").stop()


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One var dir for the module, so a later test can run the platform again on the same data."""
    return tmp_path_factory.mktemp("embedded") / "var"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report carries each runner's last output: a process that exited mid-test
    (and so stopped the platform) says why there."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for number, stack in enumerate(getattr(item, "_embedded_stacks", []), start=1):
            report.sections.append((f"runner {number}: last output", stack.tail(200)))


@pytest.fixture
def start_stack(request: pytest.FixtureRequest) -> Iterator[Callable[..., EmbeddedStack]]:
    """`start_stack(var_dir, CREDITS_HTTP_PORT=...)` runs the platform on free ports (or the ones given);
    whatever a test leaves running is stopped afterwards."""
    started: list[EmbeddedStack] = []
    request.node._embedded_stacks = started

    def start(var_dir: Path, **given: int) -> EmbeddedStack:
        names = port_variables()
        ports = dict(zip(names, free_ports(len(names)), strict=True)) | given
        stack = EmbeddedStack(var_dir, ports)
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.close()
