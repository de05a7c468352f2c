"""A worker killed with SIGKILL at each point of an attempt: the job completes once, with one asset,
and the client is charged once; the debugger shows the attempts.

The runner is a real subprocess (crash_runner.py) with the real google-genai client against the local
Gemini wire server and boto3 against a local S3 server; the reaper, scheduler, relays and settlement
sweeper run in this process. After the kill a second, healthy runner process finishes the job.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from generation.adapters.storage import S3Storage
from generation.adapters.tables import generated_asset, generation_job, job_attempt, job_transition
from generation.testing import background
from scenergy.common.identity import Actor
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN
from scenergy.credits.v1 import credits_pb2 as credits_pb
from scenergy_dev.wire.gemini import GeminiWireServer, hang
from scenergy_dev.wire.s3 import S3WireServer

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).with_name("crash_runner.py")


@pytest.fixture(scope="module")
def gemini() -> Iterator[GeminiWireServer]:
    with GeminiWireServer() as server:
        yield server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3WireServer]:
    with S3WireServer() as server:
        yield server


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def start_runner(tmp_path: Path, config: dict[str, Any], crash_at: str | None) -> subprocess.Popen[str]:
    path = tmp_path / f"runner-{crash_at or 'healthy'}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps({**config, "crash_at": crash_at}))
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(path)], stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


POINTS = ["before_model", "during_model", "during_upload", "before_commit", "committed", "settled"]


@pytest.mark.parametrize("point", POINTS)
def test_a_worker_killed_mid_job_leaves_it_completed_once_and_charged_once(
    point: str,
    tmp_path: Path,
    make_container: Callable[..., Any],
    jobs_queue: dict[str, str],
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
    credits_stub: Any,
    call_metadata: Any,
    gemini: GeminiWireServer,
    s3: S3WireServer,
) -> None:
    bucket = new_id("bkt").replace("_", "-")
    s3.create_bucket(bucket)
    storage = S3Storage(
        bucket, endpoint_url=s3.endpoint_url, access_key_id=s3.access_key_id, secret_access_key=s3.secret_access_key
    )
    container = make_container(storage=storage, lease_s=1.5, retry_base_s=0.1, retry_cap_s=0.2, **jobs_queue)
    config = {
        **{f.name: getattr(container.settings, f.name) for f in dataclasses.fields(container.settings)},
        "gemini": {"api_key": gemini.api_key, "base_url": gemini.base_url},
        "s3": {
            "bucket": bucket,
            "endpoint_url": s3.endpoint_url,
            "key": s3.access_key_id,
            "secret": s3.secret_access_key,
        },
    }
    client_id = funded_client(10)
    gemini.reset()
    held = None
    if point == "during_model":
        import threading

        held = threading.Event()
        gemini.script(hang(held))
    crashing = start_runner(tmp_path, config, None if point == "during_model" else point)
    try:
        with background(container, runners=False):  # relays, reaper, scheduler, settlement
            job = container.commands.submit(job_request(client_id), app_user)
            if point == "during_model":
                assert gemini.wait_for_requests(1, timeout_s=20)
                crashing.send_signal(signal.SIGKILL)
            assert crashing.wait(timeout=30) == -signal.SIGKILL
            if held is not None:
                held.set()
            healthy = start_runner(tmp_path, config, None)
            try:
                wait_for(lambda: _job(container, job.id).status == "completed")
                wait_for(lambda: _job(container, job.id).settlement == "captured")
            finally:
                stop(healthy)
    finally:
        stop(crashing)

    done = _job(container, job.id)
    with container.engine.connect() as conn:
        assets = conn.execute(sa.select(generated_asset).where(generated_asset.c.job_id == job.id)).all()
        attempts = (
            conn.execute(
                sa.select(job_attempt.c.outcome).where(job_attempt.c.job_id == job.id).order_by(job_attempt.c.number)
            )
            .scalars()
            .all()
        )
        completions = conn.execute(
            sa.select(sa.func.count()).where(
                job_transition.c.job_id == job.id, job_transition.c.to_status == "completed"
            )
        ).scalar_one()
    assert completions == 1 and len(assets) == 1 and storage.exists(assets[0].object_key)
    assert balance_of(client_id).balance == 9 and balance_of(client_id).available == 9
    history = credits_stub.ListTransactions(
        credits_pb.ListTransactionsRequest(client_id=client_id, types=["usage"]), metadata=call_metadata(ADMIN)
    )
    assert len(history.items) == 1 and done.credits_charged == 1
    if point in ("committed", "settled"):
        assert attempts == ["completed"]  # it was done; the redelivered message changed nothing
    else:
        assert attempts[0] == "worker_lost" and attempts[-1] == "completed"


def _job(container: Any, job_id: str) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(sa.select(generation_job).where(generation_job.c.id == job_id)).one()
