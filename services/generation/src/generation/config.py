"""Settings of every generation process, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from scenergy.common.config import ConfigError, env_float, env_int, env_str, port, require


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    service_credential_key: str
    credits_addr: str
    grpc_port: int = 50053
    http_port: int = 8003
    worker_ops_port: int = 9103
    runner_ops_port: int = 9113
    bind_host: str = "0.0.0.0"
    grpc_max_workers: int = 32
    db_pool_size: int = 10
    db_statement_timeout_ms: int = 5000
    events_exchange: str = "scenergy.events"
    jobs_exchange: str = "scenergy.jobs"
    jobs_queue: str = "generation.jobs"
    log_level: str = "INFO"
    # The model
    gemini_api_key: str | None = None  # none: the offline provider renders labelled placeholders
    gemini_base_url: str | None = None  # tests and benchmarks point the SDK at a local server
    provider_timeout_s: float = 120.0
    # Storage: S3 or R2 when a bucket is set, else a folder served by generation-grpc's HTTP port
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # R2: https://<account>.r2.cloudflarestorage.com
    s3_public_endpoint_url: str | None = None
    s3_region: str | None = None  # default: "auto" with an endpoint URL (R2), else us-east-1
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = ""
    local_storage_dir: str = "var/objects"
    public_base_url: str = "http://127.0.0.1:8003"  # where browsers reach the local objects
    presigned_url_ttl_s: int = 900
    # Jobs
    max_attempts: int = 3
    retry_base_s: float = 2.0
    retry_cap_s: float = 300.0
    lease_s: float = 30.0  # a running job's lease; renewed every third of it
    job_hard_timeout_s: float = 600.0
    broker_consumer_timeout_s: float = 1800.0  # RabbitMQ's consumer_timeout; must exceed the hard timeout
    redispatch_after_s: float = 600.0  # a pending job not started this long after its message is sent again
    runner_concurrency: int = 2  # jobs one runner process works on at once (each with prefetch 1)
    credits_per_image: int = 1
    hold_ttl_s: int = 21600  # a hold outlives every attempt and backoff of its job
    settle_after_s: float = 10.0  # the sweeper settles holds a worker left unsettled for this long
    # Dead jobs and bulk retries
    bulk_retry_per_client_per_minute: int = 20
    preview_ttl_s: int = 600
    asset_purge_grace_s: int = 7 * 24 * 3600
    credits_deadline_s: float = 5.0
    active_poll_cache_s: float = 0.5  # how stale a "not modified" answer to the active-jobs poll may be

    def __post_init__(self) -> None:
        # A job still running when the broker's consumer timeout fires would have its channel closed
        # and its message redelivered to a second worker; the hard timeout must end it first.
        if self.job_hard_timeout_s + 2 * self.lease_s >= self.broker_consumer_timeout_s:
            raise ConfigError(
                "BROKER_CONSUMER_TIMEOUT_S must exceed JOB_HARD_TIMEOUT_S plus two leases "
                f"({self.job_hard_timeout_s:.0f} s + {2 * self.lease_s:.0f} s); raise RabbitMQ's consumer_timeout"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def optional(name: str) -> str | None:
            return env.get(name, "").strip() or None

        return cls(
            database_url=require(env, "DATABASE_URL"),
            broker_url=require(env, "BROKER_URL"),
            service_credential_key=require(env, "SERVICE_CREDENTIAL_KEY"),
            credits_addr=require(env, "CREDITS_ADDR"),
            grpc_port=port(env, "GRPC_PORT", 50053),
            http_port=port(env, "HTTP_PORT", 8003),
            worker_ops_port=port(env, "WORKER_OPS_PORT", 9103),
            runner_ops_port=port(env, "RUNNER_OPS_PORT", 9113),
            bind_host=env_str(env, "BIND_HOST", "0.0.0.0"),
            grpc_max_workers=env_int(env, "GRPC_MAX_WORKERS", 32, minimum=1, maximum=512),
            db_pool_size=env_int(env, "DB_POOL_SIZE", 10, minimum=1, maximum=500),
            db_statement_timeout_ms=env_int(env, "DB_STATEMENT_TIMEOUT_MS", 5000, minimum=100),
            events_exchange=env_str(env, "EVENTS_EXCHANGE", "scenergy.events"),
            jobs_exchange=env_str(env, "JOBS_EXCHANGE", "scenergy.jobs"),
            jobs_queue=env_str(env, "JOBS_QUEUE", "generation.jobs"),
            log_level=env_str(env, "LOG_LEVEL", "INFO"),
            gemini_api_key=optional("GEMINI_API_KEY"),
            gemini_base_url=optional("GEMINI_BASE_URL"),
            provider_timeout_s=env_float(env, "PROVIDER_TIMEOUT_S", 120.0, minimum=1.0),
            s3_bucket=optional("S3_BUCKET"),
            s3_endpoint_url=optional("S3_ENDPOINT_URL"),
            s3_public_endpoint_url=optional("S3_PUBLIC_ENDPOINT_URL"),
            s3_region=optional("S3_REGION"),
            s3_access_key_id=optional("S3_ACCESS_KEY_ID"),
            s3_secret_access_key=optional("S3_SECRET_ACCESS_KEY"),
            s3_prefix=env_str(env, "S3_PREFIX", ""),
            local_storage_dir=env_str(env, "LOCAL_STORAGE_DIR", "var/objects"),
            public_base_url=env_str(env, "PUBLIC_BASE_URL", "http://127.0.0.1:8003").rstrip("/"),
            presigned_url_ttl_s=env_int(env, "PRESIGNED_URL_TTL_S", 900, minimum=10, maximum=7 * 24 * 3600),
            max_attempts=env_int(env, "JOB_MAX_ATTEMPTS", 3, minimum=1, maximum=20),
            retry_base_s=env_float(env, "JOB_RETRY_BASE_S", 2.0, minimum=0.01),
            retry_cap_s=env_float(env, "JOB_RETRY_CAP_S", 300.0, minimum=0.01),
            lease_s=env_float(env, "JOB_LEASE_S", 30.0, minimum=0.5),
            job_hard_timeout_s=env_float(env, "JOB_HARD_TIMEOUT_S", 600.0, minimum=1.0),
            broker_consumer_timeout_s=env_float(env, "BROKER_CONSUMER_TIMEOUT_S", 1800.0, minimum=60.0),
            redispatch_after_s=env_float(env, "JOB_REDISPATCH_AFTER_S", 600.0, minimum=5.0),
            runner_concurrency=env_int(env, "RUNNER_CONCURRENCY", 2, minimum=1, maximum=64),
            credits_per_image=env_int(env, "CREDITS_PER_IMAGE", 1, minimum=0, maximum=10_000),
            hold_ttl_s=env_int(env, "HOLD_TTL_S", 21600, minimum=600, maximum=86400),
            settle_after_s=env_float(env, "SETTLE_AFTER_S", 10.0, minimum=0.1),
            bulk_retry_per_client_per_minute=env_int(env, "BULK_RETRY_PER_CLIENT_PER_MINUTE", 20, minimum=1),
            preview_ttl_s=env_int(env, "RETRY_PREVIEW_TTL_S", 600, minimum=30, maximum=3600),
            asset_purge_grace_s=env_int(env, "ASSET_PURGE_GRACE_S", 7 * 24 * 3600, minimum=0),
            credits_deadline_s=env_float(env, "CREDITS_DEADLINE_S", 5.0, minimum=0.1),
            active_poll_cache_s=env_float(env, "ACTIVE_POLL_CACHE_S", 0.5, minimum=0.0),
        )
