"""Composition root: builds the payments service's objects from settings, at call time."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from payments.adapters.credits import Credits, GrpcCredits
from payments.adapters.stripe_api import LibraryStripeApi, StripeApi
from payments.config import Settings
from payments.service_layer.admin import PaymentsAdmin
from payments.service_layer.processor import EventProcessor
from payments.views import PaymentsViews
from scenergy.common.backoff import Backoff
from scenergy.common.db import make_engine
from scenergy.common.identity import ServiceCredential
from scenergy.common.messaging import Topology

SERVICE_NAME = "payments"
MIGRATIONS = "payments:migrations"


@dataclass
class Container:
    settings: Settings
    engine: Engine
    credits: Credits
    processor: EventProcessor
    admin: PaymentsAdmin
    views: PaymentsViews
    credential: ServiceCredential
    topology: Topology
    closers: list[object] = field(default_factory=list)

    def close(self) -> None:
        for item in self.closers:
            getattr(item, "close", lambda: None)()
        self.engine.dispose()


def bootstrap(
    settings: Settings, *, process: str = "grpc", credits: Credits | None = None, stripe_api: StripeApi | None = None
) -> Container:
    engine = make_engine(
        settings.database_url,
        application_name=f"payments-{process}",
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
    )
    closers: list[object] = []
    if credits is None:
        grpc_credits = GrpcCredits(
            settings.credits_addr, settings.service_credential_key, deadline_s=settings.credits_deadline_s
        )
        closers.append(grpc_credits)
        credits = grpc_credits
    if stripe_api is None and settings.stripe_api_key:
        library = LibraryStripeApi(settings.stripe_api_key, api_base=settings.stripe_api_base)
        closers.append(library)
        stripe_api = library
    backoff = Backoff(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s)
    processor = EventProcessor(engine, credits, backoff, max_attempts=settings.max_attempts)
    return Container(
        settings=settings,
        engine=engine,
        credits=credits,
        processor=processor,
        admin=PaymentsAdmin(engine, processor, stripe_api),
        views=PaymentsViews(engine),
        credential=ServiceCredential(settings.service_credential_key),
        topology=Topology.platform(settings.events_exchange),
        closers=closers,
    )
