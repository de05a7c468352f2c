"""Composition root: builds the gateway's objects from settings, at call time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from admin_api.clients.platform import Platform
from admin_api.config import Settings
from admin_api.security.sessions import SessionStore
from admin_api.security.throttle import LoginThrottle
from scenergy.common.db import make_engine
from scenergy.common.messaging import Topology

SERVICE_NAME = "admin-api"
MIGRATIONS = "admin_api:migrations"


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: SessionStore
    throttle: LoginThrottle
    platform: Platform
    topology: Topology

    def close(self) -> None:
        self.platform.close()
        self.engine.dispose()


def bootstrap(settings: Settings, *, process: str = "http") -> Container:
    engine = make_engine(
        settings.database_url,
        application_name=f"admin-api-{process}",
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
    )
    return Container(
        settings=settings,
        engine=engine,
        sessions=SessionStore(
            engine,
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
        ),
        throttle=LoginThrottle(
            engine,
            per_account=settings.login_max_failures_per_account,
            per_ip=settings.login_max_failures_per_ip,
            window=timedelta(minutes=settings.login_window_minutes),
        ),
        platform=Platform.connect(
            credits_addr=settings.credits_addr,
            audit_addr=settings.audit_addr,
            generation_addr=settings.generation_addr,
            payments_addr=settings.payments_addr,
            credential_key=settings.service_credential_key,
            deadline_s=settings.grpc_deadline_s,
        ),
        topology=Topology.platform(settings.events_exchange),
    )
