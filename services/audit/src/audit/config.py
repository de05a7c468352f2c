"""Settings of every audit process, read once from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from audit.adapters.tables import WRITER_ROLE
from audit.domain.chain import ChainSigner, InvalidKey
from scenergy.common.config import ConfigError, env_float, env_int, env_list, env_str, port, require


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    service_credential_key: str
    signing_key: str  # Ed25519 private key (base64 of the 32-byte seed, or PEM) for seals and checkpoints
    retired_verify_keys: tuple[str, ...] = ()  # public keys of rotated-out signing keys
    grpc_port: int = 50052
    http_port: int = 8002
    sink_ops_port: int = 9102
    worker_ops_port: int = 9112
    bind_host: str = "0.0.0.0"
    grpc_max_workers: int = 16
    db_pool_size: int = 10
    db_statement_timeout_ms: int = 15000
    db_role: str = WRITER_ROLE  # the role the service acts as; empty if the login role is already it
    events_exchange: str = "scenergy.events"
    batch_size: int = 200
    batch_max_wait_ms: int = 50
    max_attempts: int = 5
    checkpoint_interval_s: float = 300.0
    retention_days: int = 730  # 0 keeps entries forever
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        settings = cls(
            database_url=require(env, "DATABASE_URL"),
            broker_url=require(env, "BROKER_URL"),
            service_credential_key=require(env, "SERVICE_CREDENTIAL_KEY"),
            signing_key=require(env, "AUDIT_SIGNING_KEY"),
            retired_verify_keys=env_list(env, "AUDIT_RETIRED_VERIFY_KEYS"),
            grpc_port=port(env, "GRPC_PORT", 50052),
            http_port=port(env, "HTTP_PORT", 8002),
            sink_ops_port=port(env, "SINK_OPS_PORT", 9102),
            worker_ops_port=port(env, "WORKER_OPS_PORT", 9112),
            bind_host=env_str(env, "BIND_HOST", "0.0.0.0"),
            grpc_max_workers=env_int(env, "GRPC_MAX_WORKERS", 16, minimum=1, maximum=512),
            db_pool_size=env_int(env, "DB_POOL_SIZE", 10, minimum=1, maximum=500),
            db_statement_timeout_ms=env_int(env, "DB_STATEMENT_TIMEOUT_MS", 15000, minimum=100),
            db_role=env.get("AUDIT_DB_ROLE", WRITER_ROLE).strip(),
            events_exchange=env_str(env, "EVENTS_EXCHANGE", "scenergy.events"),
            batch_size=env_int(env, "AUDIT_BATCH_SIZE", 200, minimum=1, maximum=5000),
            batch_max_wait_ms=env_int(env, "AUDIT_BATCH_MAX_WAIT_MS", 50, minimum=1, maximum=10000),
            max_attempts=env_int(env, "AUDIT_MAX_ATTEMPTS", 5, minimum=1, maximum=100),
            checkpoint_interval_s=env_float(env, "AUDIT_CHECKPOINT_INTERVAL_S", 300.0, minimum=1.0),
            retention_days=env_int(env, "AUDIT_RETENTION_DAYS", 730, minimum=0),
            log_level=env_str(env, "LOG_LEVEL", "INFO"),
        )
        if settings.db_role and not re.fullmatch(r"[a-z_][a-z0-9_]*", settings.db_role):
            raise ConfigError("AUDIT_DB_ROLE must be a plain role name")
        try:
            settings.signer()
        except InvalidKey as exc:
            raise ConfigError(f"AUDIT_SIGNING_KEY / AUDIT_RETIRED_VERIFY_KEYS: {exc}") from None
        return settings

    def signer(self) -> ChainSigner:
        return ChainSigner(self.signing_key, self.retired_verify_keys)
