"""gRPC servers: health and reflection services, one interceptor for credential, context, metrics
and errors, and graceful shutdown."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from scenergy.common import context
from scenergy.common.identity import Actor, InvalidCredential, ServiceCredential
from scenergy.common.metrics import GRPC_HANDLED, GRPC_LATENCY

log = logging.getLogger(__name__)

CREDENTIAL_HEADER = "x-scenergy-credential"
REQUEST_ID_HEADER = "x-request-id"
# Probes and tooling reach these without a credential.
_OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class CallAborted(Exception):
    """Raised by abort helpers so the interceptor can record the status code."""


@contextmanager
def abort_on(ctx: grpc.ServicerContext, errors: Mapping[type[Exception], grpc.StatusCode]) -> Iterator[None]:
    """Translate domain errors into gRPC status codes with the error's message."""
    try:
        yield
    except tuple(errors) as exc:
        for error_type, code in errors.items():
            if isinstance(exc, error_type):
                ctx.abort(code, str(exc))
        raise


class ServiceInterceptor(grpc.ServerInterceptor):
    """Verifies the service credential, binds request id and actor, counts and times every call,
    turns undecodable requests into INVALID_ARGUMENT and unexpected exceptions into INTERNAL."""

    def __init__(self, credential: ServiceCredential) -> None:
        self._credential = credential

    def intercept_service(self, continuation: Callable[..., Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or details.method.startswith(_OPEN_SERVICES):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(handler.unary_unary, handler.request_deserializer, details.method),
                request_deserializer=None,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, handler.request_deserializer, details.method),
                request_deserializer=None,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _prepare(self, ctx: grpc.ServicerContext, raw: bytes, deserialize: Any) -> tuple[Any, Actor | None, str]:
        metadata = dict(ctx.invocation_metadata())
        try:
            caller = self._credential.verify(metadata.get(CREDENTIAL_HEADER))
        except InvalidCredential as exc:
            ctx.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        try:
            request = deserialize(raw) if deserialize else raw
        except (DecodeError, ValueError) as exc:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request could not be decoded: {exc}")
        request_id = metadata.get(REQUEST_ID_HEADER) or context.new_request_id()
        return request, caller.actor, request_id

    @contextmanager
    def _observed(self, ctx: grpc.ServicerContext, method: str) -> Iterator[None]:
        """Count and time the call; an exception that set no status becomes INTERNAL (and is logged)."""
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            yield
        except Exception:
            code = ctx.code() or grpc.StatusCode.UNKNOWN  # type: ignore[attr-defined]
            if code == grpc.StatusCode.UNKNOWN:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s", method)
                ctx.abort(code, "internal error")
            raise
        finally:
            GRPC_HANDLED.labels(method, code.name).inc()
            GRPC_LATENCY.labels(method).observe(time.perf_counter() - start)

    def _wrap(self, behaviour: Callable[..., Any], deserialize: Any, method: str) -> Callable[..., Any]:
        def call(raw: bytes, ctx: grpc.ServicerContext) -> Any:
            with self._observed(ctx, method):
                request, actor, request_id = self._prepare(ctx, raw, deserialize)
                with context.bound(request_id=request_id, actor=actor):
                    return behaviour(request, ctx)

        return call

    def _wrap_stream(self, behaviour: Callable[..., Any], deserialize: Any, method: str) -> Callable[..., Any]:
        def call(raw: bytes, ctx: grpc.ServicerContext) -> Iterator[Any]:
            with self._observed(ctx, method):
                request, actor, request_id = self._prepare(ctx, raw, deserialize)
                with context.bound(request_id=request_id, actor=actor):
                    yield from behaviour(request, ctx)

        return call


class GrpcServer:
    """A gRPC server with health (SERVING once started, NOT_SERVING while draining) and reflection."""

    def __init__(
        self,
        *,
        credential: ServiceCredential,
        register: Callable[[grpc.Server], list[str]],
        host: str = "0.0.0.0",
        port: int = 0,
        max_workers: int = 16,
    ) -> None:
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers),
            interceptors=[ServiceInterceptor(credential)],
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 4 * 1024 * 1024)],
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names = register(self.server)
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise RuntimeError(f"could not bind gRPC port {host}:{port}")

    @classmethod
    def for_service(
        cls,
        servicer: Any,
        add_to_server: Callable[[Any, grpc.Server], None],
        descriptor: Any,
        service: str,
        *,
        credential: ServiceCredential,
        host: str,
        port: int,
        max_workers: int,
    ) -> GrpcServer:
        """The usual server: one servicer (`add_XServicer_to_server`), named in its proto's file descriptor."""

        def register(server: grpc.Server) -> list[str]:
            add_to_server(servicer, server)
            return [descriptor.services_by_name[service].full_name]

        return cls(credential=credential, register=register, host=host, port=port, max_workers=max_workers)

    def start(self) -> GrpcServer:
        self.server.start()
        for name in ["", *self._service_names]:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self

    def stop(self, grace_s: float = 10.0) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_s).wait()

    def serve_until_signalled(self, grace_s: float = 10.0) -> None:
        """Block until SIGTERM or SIGINT, then drain in-flight calls and stop."""
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        log.info("shutting down gRPC server")
        self.stop(grace_s)
