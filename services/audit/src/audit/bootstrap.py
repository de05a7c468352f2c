"""Composition root: builds the audit service's objects from settings, at call time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from audit.adapters.store import AuditStore
from audit.config import Settings
from audit.service_layer.handlers import AuditService
from audit.views import AuditViews
from scenergy.common.db import make_engine
from scenergy.common.identity import ServiceCredential
from scenergy.common.messaging import AUDIT_EVENTS, QueueSpec, Topology

SERVICE_NAME = "audit"
MIGRATIONS = "audit:migrations"


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: AuditStore
    views: AuditViews
    service: AuditService
    credential: ServiceCredential
    topology: Topology
    sink_queue: QueueSpec  # the sink's own queue: every event of the platform

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings, *, process: str = "grpc") -> Container:
    engine = make_engine(
        settings.database_url,
        application_name=f"audit-{process}",
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        role=settings.db_role or None,
    )
    store = AuditStore(engine, settings.signer())
    views = AuditViews(engine)
    return Container(
        settings=settings,
        engine=engine,
        store=store,
        views=views,
        service=AuditService(store, views, retention_days=settings.retention_days),
        credential=ServiceCredential(settings.service_credential_key),
        topology=Topology.platform(settings.events_exchange),
        sink_queue=AUDIT_EVENTS,
    )
