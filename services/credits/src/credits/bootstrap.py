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
    service: CreditsService
    views: LedgerViews
    credential: ServiceCredential
    topology: Topology


def bootstrap(settings: Settings, *, process: str = "grpc") -> Container:
    engine = make_engine(
        settings.database_url,
        application_name=f"credits-{process}",
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
    )
    return Container(
        settings=settings,
        engine=engine,
        service=CreditsService(PostgresLedger(engine)),
        views=LedgerViews(engine),
        credential=ServiceCredential(settings.service_credential_key),
        topology=Topology(exchange_name=settings.events_exchange),
    )
