"""Integration tests share one generation database per test process: a job one test leaves runnable
must not be picked up by a later test's runners (they would run, or crash on, the wrong job)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from generation.adapters.tables import generation_job
from generation.bootstrap import Container
from generation.domain import errors
from scenergy.common.testing.actors import ADMIN


@pytest.fixture(autouse=True)
def nothing_left_runnable(container: Container) -> Iterator[None]:
    """The jobs a test leaves pending are cancelled after it, so a later test's workers never run them."""
    with container.engine.connect() as conn:
        started = conn.execute(sa.select(sa.func.now())).scalar_one()
    yield
    j = generation_job.c
    with container.engine.connect() as conn:
        left = conn.execute(
            sa.select(j.id).where(j.status.in_(("pending", "generating")), j.updated_at >= started)
        ).scalars()
        job_ids = list(left)
    for job_id in job_ids:
        with contextlib.suppress(errors.Conflict):
            container.commands.cancel(job_id, "test clean-up", ADMIN)
