"""Composition root: builds the generation service's objects from settings, at call time.

Tests and benchmarks pass their own provider, storage or credits; everything else comes from settings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from generation.adapters.credits import Credits, GrpcCredits
from generation.adapters.provider import build_provider
from generation.adapters.queue import job_topology
from generation.adapters.storage import LocalStorage, S3Storage
from generation.config import Settings
from generation.domain.model import RetryPolicy
from generation.domain.ports import ImageProvider, ObjectStorage
from generation.service_layer.commands import GenerationCommands, JobPolicy
from generation.service_layer.dead_jobs import DeadJobs
from generation.service_layer.maintenance import Maintenance
from generation.service_layer.settlement import Settler
from generation.views import GenerationViews
from scenergy.common.db import make_engine
from scenergy.common.identity import ServiceCredential
from scenergy.common.messaging import Topology

SERVICE_NAME = "generation"
MIGRATIONS = "generation:migrations"


def derived_key(secret: str, purpose: str) -> str:
    """One secret, several independent keys: a token signed for one purpose is useless for another."""
    return hashlib.sha256(f"{purpose}\x00{secret}".encode()).hexdigest()


def build_storage(settings: Settings) -> ObjectStorage:
    if settings.s3_bucket:
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            prefix=settings.s3_prefix,
            public_endpoint_url=settings.s3_public_endpoint_url,
        )
    return LocalStorage(
        Path(settings.local_storage_dir),
        base_url=settings.public_base_url,
        signing_key=derived_key(settings.service_credential_key, "local-objects"),
    )


@dataclass
class Container:
    settings: Settings
    engine: Engine
    # Connections always in autocommit, for the runner's single statements: an engine derived with
    # execution_options(isolation_level=…) would switch and reset each connection at every checkout.
    autocommit_engine: Engine
    credits: Credits
    provider: ImageProvider
    storage: ObjectStorage
    settler: Settler
    commands: GenerationCommands
    dead_jobs: DeadJobs
    maintenance: Maintenance
    views: GenerationViews
    credential: ServiceCredential
    topology: Topology
    jobs_topology: Topology
    retry: RetryPolicy
    closers: list[object] = field(default_factory=list)

    def close(self) -> None:
        for item in self.closers:
            getattr(item, "close", lambda: None)()
        self.engine.dispose()
        self.autocommit_engine.dispose()


def bootstrap(
    settings: Settings,
    *,
    process: str = "grpc",
    provider: ImageProvider | None = None,
    storage: ObjectStorage | None = None,
    credits: Credits | None = None,
    pace_window_s: float = 60.0,
) -> Container:
    engine = make_engine(
        settings.database_url,
        application_name=f"generation-{process}",
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
    )
    autocommit_engine = make_engine(
        settings.database_url,
        application_name=f"generation-{process}",
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        autocommit=True,
    )
    closers: list[object] = []
    if credits is None:
        grpc_credits = GrpcCredits(
            settings.credits_addr, settings.service_credential_key, deadline_s=settings.credits_deadline_s
        )
        closers.append(grpc_credits)
        credits = grpc_credits
    provider = provider or build_provider(
        settings.gemini_api_key, settings.gemini_base_url, settings.provider_timeout_s
    )
    storage = storage or build_storage(settings)
    retry = RetryPolicy(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s)
    settler = Settler(engine, credits)
    policy = JobPolicy(
        max_attempts=settings.max_attempts,
        credits_per_image=settings.credits_per_image,
        hold_ttl_s=settings.hold_ttl_s,
    )
    return Container(
        settings=settings,
        engine=engine,
        autocommit_engine=autocommit_engine,
        credits=credits,
        provider=provider,
        storage=storage,
        settler=settler,
        commands=GenerationCommands(engine, credits, settler, policy, autocommit_engine=autocommit_engine),
        dead_jobs=DeadJobs(
            engine,
            credits,
            signing_key=derived_key(settings.service_credential_key, "dead-retry-preview"),
            preview_ttl_s=settings.preview_ttl_s,
            rate_per_minute=settings.bulk_retry_per_client_per_minute,
            hold_ttl_s=settings.hold_ttl_s,
            max_attempts=settings.max_attempts,
            pace_window_s=pace_window_s,
        ),
        maintenance=Maintenance(engine, storage, settler, retry, redispatch_after_s=settings.redispatch_after_s),
        views=GenerationViews(engine, provider_name=provider.name, active_ttl_s=settings.active_poll_cache_s),
        credential=ServiceCredential(settings.service_credential_key),
        topology=Topology.platform(settings.events_exchange),
        jobs_topology=job_topology(settings.jobs_exchange, settings.jobs_queue),
        retry=retry,
        closers=closers,
    )
