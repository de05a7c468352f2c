"""Settings of every admin-api process, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from scenergy.common.config import env_bool, env_float, env_int, env_str, port, require


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    service_credential_key: str
    credits_addr: str  # host:port of the credits gRPC server
    audit_addr: str
    generation_addr: str
    payments_addr: str
    http_port: int = 8000
    worker_ops_port: int = 9100
    bind_host: str = "0.0.0.0"
    public_url: str = "http://127.0.0.1:8000"  # what people are told to open
    db_pool_size: int = 20
    db_statement_timeout_ms: int = 5000
    events_exchange: str = "scenergy.events"
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    cookie_secure: bool = True
    trusted_proxies: int = 0  # how many reverse proxies append to X-Forwarded-For in front of us
    login_max_failures_per_account: int = 5  # within the window, then the account is locked for the window
    login_max_failures_per_ip: int = 20
    login_window_minutes: int = 15
    grpc_deadline_s: float = 5.0
    dashboard_deadline_s: float = 1.0
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            database_url=require(env, "DATABASE_URL"),
            broker_url=require(env, "BROKER_URL"),
            service_credential_key=require(env, "SERVICE_CREDENTIAL_KEY"),
            credits_addr=require(env, "CREDITS_ADDR"),
            audit_addr=require(env, "AUDIT_ADDR"),
            generation_addr=require(env, "GENERATION_ADDR"),
            payments_addr=require(env, "PAYMENTS_ADDR"),
            http_port=port(env, "HTTP_PORT", 8000),
            worker_ops_port=port(env, "WORKER_OPS_PORT", 9100),
            bind_host=env_str(env, "BIND_HOST", "0.0.0.0"),
            public_url=env_str(env, "PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            db_pool_size=env_int(env, "DB_POOL_SIZE", 20, minimum=1, maximum=500),
            db_statement_timeout_ms=env_int(env, "DB_STATEMENT_TIMEOUT_MS", 5000, minimum=100),
            events_exchange=env_str(env, "EVENTS_EXCHANGE", "scenergy.events"),
            session_idle_minutes=env_int(env, "SESSION_IDLE_MINUTES", 30, minimum=1, maximum=24 * 60),
            session_absolute_hours=env_int(env, "SESSION_ABSOLUTE_HOURS", 12, minimum=1, maximum=24 * 30),
            cookie_secure=env_bool(env, "SESSION_COOKIE_SECURE", True),
            trusted_proxies=env_int(env, "TRUSTED_PROXIES", 0, minimum=0, maximum=10),
            login_max_failures_per_account=env_int(env, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, minimum=1),
            login_max_failures_per_ip=env_int(env, "LOGIN_MAX_FAILURES_PER_IP", 20, minimum=1),
            login_window_minutes=env_int(env, "LOGIN_WINDOW_MINUTES", 15, minimum=1),
            grpc_deadline_s=env_float(env, "GRPC_DEADLINE_S", 5.0, minimum=0.1),
            dashboard_deadline_s=env_float(env, "DASHBOARD_DEADLINE_S", 1.0, minimum=0.1),
            log_level=env_str(env, "LOG_LEVEL", "INFO"),
        )
