"""Settings of every credits process, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from scenergy.common.config import env_int, env_str, port, require


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    service_credential_key: str
    grpc_port: int = 50051
    http_port: int = 8001
    worker_ops_port: int = 9101
    bind_host: str = "0.0.0.0"
    grpc_max_workers: int = 32
    db_pool_size: int = 20
    db_statement_timeout_ms: int = 5000
    ledger_batch_max: int = 32
    events_exchange: str = "scenergy.events"
    idempotency_retention_days: int = 90
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            database_url=require(env, "DATABASE_URL"),
            broker_url=require(env, "BROKER_URL"),
            service_credential_key=require(env, "SERVICE_CREDENTIAL_KEY"),
            grpc_port=port(env, "GRPC_PORT", 50051),
            http_port=port(env, "HTTP_PORT", 8001),
            worker_ops_port=port(env, "WORKER_OPS_PORT", 9101),
            bind_host=env_str(env, "BIND_HOST", "0.0.0.0"),
            grpc_max_workers=env_int(env, "GRPC_MAX_WORKERS", 32, minimum=1, maximum=512),
            db_pool_size=env_int(env, "DB_POOL_SIZE", 20, minimum=1, maximum=500),
            db_statement_timeout_ms=env_int(env, "DB_STATEMENT_TIMEOUT_MS", 5000, minimum=100),
            # Concurrent ledger posts share one statement, up to this many (1: each alone).
            ledger_batch_max=env_int(env, "LEDGER_BATCH_MAX", 32, minimum=1, maximum=500),
            events_exchange=env_str(env, "EVENTS_EXCHANGE", "scenergy.events"),
            # Keys are kept at least 30 days, as the idempotency contract promises.
            idempotency_retention_days=env_int(env, "IDEMPOTENCY_RETENTION_DAYS", 90, minimum=30),
            log_level=env_str(env, "LOG_LEVEL", "INFO"),
        )
