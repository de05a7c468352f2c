"""Settings of every payments process, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from scenergy.common.config import ConfigError, env_bool, env_float, env_int, env_list, env_str, port, require


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    service_credential_key: str
    credits_addr: str
    webhook_secrets: tuple[str, ...]  # several during a rotation; every one is tried
    stripe_api_key: str | None = None  # none: refunds and reconciliation are unavailable (the embedded run)
    stripe_api_base: str | None = None  # tests point the stripe library at a local server
    livemode: bool = False  # events whose livemode differs are refused
    grpc_port: int = 50054
    http_port: int = 8004  # POST /webhooks/stripe, and /healthz, /readyz, /metrics
    worker_ops_port: int = 9104
    grpc_ops_port: int = 9114  # payments-grpc's /healthz, /readyz, /metrics (HTTP_PORT is the webhooks')
    bind_host: str = "0.0.0.0"
    grpc_max_workers: int = 16
    db_pool_size: int = 10
    db_statement_timeout_ms: int = 5000
    events_exchange: str = "scenergy.events"
    log_level: str = "INFO"
    webhook_tolerance_s: int = 300
    max_body_bytes: int = 512 * 1024
    retry_base_s: float = 5.0
    retry_cap_s: float = 3600.0
    max_attempts: int = 12  # then the event stays failed until an admin retries it
    event_workers: int = 1  # loops applying events at once (rows are claimed with SKIP LOCKED)
    credits_deadline_s: float = 5.0
    reconcile_interval_s: float = 3600.0
    reconcile_days: int = 7

    def __post_init__(self) -> None:
        if not self.webhook_secrets:
            raise ConfigError("STRIPE_WEBHOOK_SECRET must name at least one signing secret")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            database_url=require(env, "DATABASE_URL"),
            broker_url=require(env, "BROKER_URL"),
            service_credential_key=require(env, "SERVICE_CREDENTIAL_KEY"),
            credits_addr=require(env, "CREDITS_ADDR"),
            webhook_secrets=env_list(env, "STRIPE_WEBHOOK_SECRET"),
            stripe_api_key=env.get("STRIPE_API_KEY", "").strip() or None,
            stripe_api_base=env.get("STRIPE_API_BASE", "").strip() or None,
            livemode=env_bool(env, "STRIPE_LIVEMODE", False),
            grpc_port=port(env, "GRPC_PORT", 50054),
            http_port=port(env, "HTTP_PORT", 8004),
            worker_ops_port=port(env, "WORKER_OPS_PORT", 9104),
            grpc_ops_port=port(env, "GRPC_OPS_PORT", 9114),
            bind_host=env_str(env, "BIND_HOST", "0.0.0.0"),
            grpc_max_workers=env_int(env, "GRPC_MAX_WORKERS", 16, minimum=1, maximum=512),
            db_pool_size=env_int(env, "DB_POOL_SIZE", 10, minimum=1, maximum=500),
            db_statement_timeout_ms=env_int(env, "DB_STATEMENT_TIMEOUT_MS", 5000, minimum=100),
            events_exchange=env_str(env, "EVENTS_EXCHANGE", "scenergy.events"),
            log_level=env_str(env, "LOG_LEVEL", "INFO"),
            webhook_tolerance_s=env_int(env, "STRIPE_WEBHOOK_TOLERANCE_S", 300, minimum=30, maximum=3600),
            retry_base_s=env_float(env, "EVENT_RETRY_BASE_S", 5.0, minimum=0.01),
            retry_cap_s=env_float(env, "EVENT_RETRY_CAP_S", 3600.0, minimum=0.01),
            max_attempts=env_int(env, "EVENT_MAX_ATTEMPTS", 12, minimum=1, maximum=100),
            event_workers=env_int(env, "EVENT_WORKERS", 1, minimum=1, maximum=64),
            credits_deadline_s=env_float(env, "CREDITS_DEADLINE_S", 5.0, minimum=0.1),
            reconcile_interval_s=env_float(env, "RECONCILE_INTERVAL_S", 3600.0, minimum=10.0),
            reconcile_days=env_int(env, "RECONCILE_DAYS", 7, minimum=1, maximum=90),
        )
