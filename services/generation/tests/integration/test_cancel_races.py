"""1,000 cancel/complete races: no job completes after its cancel was acknowledged, and every credit
hold ends captured or released, none stranded."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from generation.adapters.provider import OfflineProvider
from generation.adapters.tables import generated_asset, generation_job
from generation.domain import errors
from generation.domain.ports import GeneratedImage, ImageRequest
from generation.testing import background
from scenergy.common.identity import Actor
from scenergy.common.testing.actors import ADMIN
from scenergy.credits.v1 import credits_pb2 as credits_pb

pytestmark = pytest.mark.slow
JOBS = 1000


class JitteryProvider:
    """The offline image after 0-4 ms, so cancels land before, during and after the model call."""

    name = "jittery"

    def __init__(self) -> None:
        self._offline = OfflineProvider()
        self._rng = random.Random(7)
        self._lock = threading.Lock()

    def generate(self, request: ImageRequest) -> GeneratedImage:
        with self._lock:
            delay = self._rng.uniform(0, 0.004)
        time.sleep(delay)
        return self._offline.generate(request)


def test_no_job_completes_after_its_cancel_was_acknowledged(
    make_container: Callable[..., Any],
    jobs_queue: dict[str, str],
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
    credits_stub: Any,
    call_metadata: Any,
) -> None:
    container = make_container(provider=JitteryProvider(), runner_concurrency=4, **jobs_queue)
    client_id = funded_client(JOBS)
    acknowledged: set[str] = set()
    refused: set[str] = set()
    rng = random.Random(11)

    def started(job_id: str) -> bool:
        with container.engine.connect() as conn:
            status = conn.execute(sa.select(generation_job.c.status).where(generation_job.c.id == job_id)).scalar()
        return status != "pending"

    def cancel_soon(job_id: str, n: int) -> None:
        if n % 3 == 0:
            # Race the attempt itself: once the job has left the queue, cancel within the model call's
            # 0-4 ms, so some cancels land mid-attempt and some just after it completed. (Only racing
            # the submit would, on a busy machine, catch every job still queued.)
            deadline = time.monotonic() + 30
            while not started(job_id) and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.004))
        else:
            time.sleep(rng.uniform(0, 0.03))
        try:
            job = container.commands.cancel(job_id, "race", ADMIN)
        except errors.Conflict:
            refused.add(job_id)  # it had already ended: the cancel was refused, not acknowledged
            return
        assert job.status == "cancelled"
        acknowledged.add(job_id)

    with background(container), ThreadPoolExecutor(max_workers=8) as pool:
        ids = []
        for n in range(JOBS):
            job_id = container.commands.submit(job_request(client_id), app_user).id
            ids.append(job_id)
            pool.submit(cancel_soon, job_id, n)
        pool.shutdown(wait=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with container.engine.connect() as conn:
                unsettled = conn.execute(
                    sa.select(sa.func.count()).where(
                        generation_job.c.id.in_(ids),
                        sa.or_(
                            generation_job.c.status.in_(("pending", "generating")),
                            generation_job.c.settlement.not_in(("captured", "released")),
                        ),
                    )
                ).scalar_one()
            if not unsettled:
                break
            time.sleep(0.2)

    with container.engine.connect() as conn:
        final = {r.id: r for r in conn.execute(sa.select(generation_job).where(generation_job.c.id.in_(ids))).all()}
        with_assets = set(
            conn.execute(sa.select(generated_asset.c.job_id).where(generated_asset.c.job_id.in_(ids))).scalars()
        )
    assert acknowledged and refused, "the races should go both ways"
    assert len(acknowledged) + len(refused) == JOBS
    for job_id in acknowledged:
        assert final[job_id].status == "cancelled", final[job_id].status
        assert final[job_id].settlement == "released" and job_id not in with_assets
    for job_id in refused:
        assert final[job_id].status == "completed" and final[job_id].settlement == "captured"
        assert job_id in with_assets
    holds = [
        credits_stub.GetHold(credits_pb.GetHoldRequest(hold_id=final[j].hold_id), metadata=call_metadata(ADMIN))
        for j in ids
    ]
    assert {h.status for h in holds} <= {"captured", "released"}
    assert sum(1 for h in holds if h.status == "captured") == len(refused)
    balance = balance_of(client_id)
    assert balance.balance == JOBS - len(refused) and balance.available == balance.balance
