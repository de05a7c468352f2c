"""Composition root: builds the credits service's objects from settings, at call time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from credits.adapters.ledger import PostgresLedger
from credits.config import Settings
from credits.service_layer.handlers import CreditsService
from credits.views import LedgerViews
from scenergy.common.db import make_engine
from scenergy.common.identity import ServiceCredential
from scenergy.common.messaging import Topology

SERVICE_NAME = "credits"
MIGRATIONS = "credits:migrations"


@dataclass
class Container:
    settings: Settings
    engine: Engine
    autocommit_engine: Engine
    service: CreditsService
    views: LedgerViews
    credential: ServiceCredential
    topology: Topology

    def close(self) -> None:
        self.autocommit_engine.dispose()
        self.engine.dispose()


def bootstrap(settings: Settings, *, process: str = "grpc") -> Container:
    def engine_for(purpose: str, *, autocommit: bool, pool_size: int) -> Engine:
        return make_engine(
            settings.database_url,
            application_name=f"credits-{process}-{purpose}",
            statement_timeout_ms=settings.db_statement_timeout_ms,
            pool_size=pool_size,
            max_overflow=pool_size,
            autocommit=autocommit,
        )

    # Most work is single-statement writes and reads (autocommit); refunds and the ledger check
    # need explicit transactions, and get a small pool of their own.
    writes = engine_for("writes", autocommit=True, pool_size=settings.db_pool_size)
    engine = engine_for("tx", autocommit=False, pool_size=max(2, settings.db_pool_size // 4))
    return Container(
        settings=settings,
        engine=engine,
        autocommit_engine=writes,
        service=CreditsService(PostgresLedger(engine, autocommit_engine=writes, max_batch=settings.ledger_batch_max)),
        views=LedgerViews(writes),
        credential=ServiceCredential(settings.service_credential_key),
        topology=Topology.platform(settings.events_exchange),
    )
