"""The embedded runtime end to end: `python -m scenergy_dev run` from a clean var dir, probed from outside."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import ProxyHandler, Request, build_opener

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scenergy.audit.v1 import audit_pb2 as audit_pb
from scenergy.audit.v1 import audit_pb2_grpc as audit_pb_grpc
from scenergy.common.grpc_client import CallMetadata
from scenergy.common.identity import Actor, ActorType, Role, ServiceCredential
from scenergy.credits.v1 import credits_pb2 as pb
from scenergy.credits.v1 import credits_pb2_grpc as pb_grpc
from scenergy.generation.v1 import generation_pb2 as generation_pb
from scenergy.generation.v1 import generation_pb2_grpc as generation_pb_grpc
from scenergy_dev.postgres import EmbeddedPostgres
from scenergy_dev.seed import DEMO_ACCOUNTS
from scenergy_dev.services import SERVICES, Protocol

# Both tests share one var dir (the second runs the platform again on the first one's data).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("embedded-stack")]

GRPC_SERVICES = {
    "credits": "scenergy.credits.v1.CreditsService",
    "audit": "scenergy.audit.v1.AuditService",
    "generation": "scenergy.generation.v1.GenerationService",
    "payments": "scenergy.payments.v1.PaymentsService",
}
VIEWER = Actor(ActorType.ADMIN, "adm_e2eviewer0001", Role.VIEWER, "127.0.0.1", "e2e")
_HTTP = build_opener(ProxyHandler({}))  # straight to 127.0.0.1, whatever HTTP_PROXY says
_GRPC_OPTIONS = [("grpc.enable_http_proxy", 0)]


def listeners(ports: dict[str, int]) -> list[tuple[str, str, Protocol, int]]:
    return [
        (service.name, process.name, port.protocol, ports[f"{service.env_prefix}_{port.variable}"])
        for service in SERVICES
        for process in service.processes
        for port in process.ports
    ]


def http_get(port: int, path: str) -> tuple[int, Any]:
    try:
        with _HTTP.open(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.load(response)
    except HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode("utf-8", "replace")


def grpc_health(port: int, service: str = "") -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_OPTIONS) as channel:
        request = health_pb2.HealthCheckRequest(service=service)
        return health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def credential_key(var_dir: Path) -> str:
    path = var_dir / "secrets" / "service_credential_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text().strip()


def assert_every_process_answers(ports: dict[str, int]) -> None:
    for service_name, name, protocol, port in listeners(ports):
        if protocol is Protocol.GRPC:
            for service in ("", GRPC_SERVICES[service_name]):
                assert grpc_health(port, service) == health_pb2.HealthCheckResponse.SERVING, (name, service)
        else:
            for path, expected in (("/healthz", "ok"), ("/readyz", "ready")):
                status, body = http_get(port, path)
                assert status == 200, (name, path, body)
                assert body["status"] == expected, (name, path, body)


def assert_demo_data_seeded_once(ports: dict[str, int], key: str) -> None:
    metadata = CallMetadata(ServiceCredential(key), "e2e")
    with grpc.insecure_channel(f"127.0.0.1:{ports['CREDITS_GRPC_PORT']}", options=_GRPC_OPTIONS) as channel:
        stub = pb_grpc.CreditsServiceStub(channel)
        for account in DEMO_ACCOUNTS:
            balance = stub.GetBalance(
                pb.GetBalanceRequest(client_id=account.client_id), metadata=metadata(VIEWER), timeout=5
            )
            transactions = stub.ListTransactions(
                pb.ListTransactionsRequest(client_id=account.client_id, limit=100), metadata=metadata(VIEWER), timeout=5
            )
            assert balance.balance == account.balance, account.client_id
            assert len(transactions.items) == len(account.grants) + len(account.debits), account.client_id


def assert_demo_activity_reached_the_audit_log(ports: dict[str, int], key: str) -> None:
    """credits' outbox → relay → broker → audit sink → hash chain, through the embedded broker."""
    metadata = CallMetadata(ServiceCredential(key), "e2e")
    grants = sum(len(account.grants) for account in DEMO_ACCOUNTS)
    with grpc.insecure_channel(f"127.0.0.1:{ports['AUDIT_GRPC_PORT']}", options=_GRPC_OPTIONS) as channel:
        stub = audit_pb_grpc.AuditServiceStub(channel)
        request = audit_pb.ListEntriesRequest(filter=audit_pb.EntryFilter(action="credit.grant"), include_total=True)
        deadline = time.monotonic() + 60
        while (total := stub.ListEntries(request, metadata=metadata(VIEWER), timeout=5).total) < grants:
            assert time.monotonic() < deadline, f"{total} of {grants} grants reached the audit log"
            time.sleep(0.5)
        assert total == grants
        assert stub.VerifyChain(audit_pb.VerifyChainRequest(), metadata=metadata(VIEWER), timeout=30).ok


def assert_demo_generations_complete_with_viewable_images(ports: dict[str, int], key: str) -> None:
    """Jobs through the embedded broker to the runner, images in the local store behind signed URLs."""
    metadata = CallMetadata(ServiceCredential(key), "e2e")
    with grpc.insecure_channel(f"127.0.0.1:{ports['GENERATION_GRPC_PORT']}", options=_GRPC_OPTIONS) as channel:
        stub = generation_pb_grpc.GenerationServiceStub(channel)
        request = generation_pb.ListJobsRequest(include_total=True, limit=100)
        deadline = time.monotonic() + 90
        while True:
            jobs = stub.ListJobs(request, metadata=metadata(VIEWER), timeout=5).items
            if jobs and all(job.status == "completed" for job in jobs):
                break
            assert time.monotonic() < deadline, [(job.id, job.status, job.error_message) for job in jobs]
            time.sleep(0.5)
        assets = stub.ListAssets(generation_pb.ListAssetsRequest(limit=100), metadata=metadata(VIEWER), timeout=5)
        assert len(assets.items) == len(jobs) and any(a.is_admin_generated for a in assets.items)
        with _HTTP.open(assets.items[0].url, timeout=10) as response:
            assert response.headers["Content-Type"] == "image/png" and response.read(8) == b"\x89PNG\r\n\x1a\n"


def sign_in_as_the_seeded_admin(port: int, password: str) -> dict[str, str]:
    """Sign in over plain HTTP as a script would; returns the headers of an authenticated mutation."""
    body = json.dumps({"email": "admin@scenergy.local", "password": password}).encode()
    request = Request(
        f"http://127.0.0.1:{port}/api/admin/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with _HTTP.open(request, timeout=10) as response:
        csrf = json.load(response)["csrf_token"]
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
    return {"Cookie": cookie, "X-CSRF-Token": csrf}


def assert_the_gateway_serves_the_demo_platform(ports: dict[str, int], var_dir: Path) -> None:
    password = (var_dir / "secrets" / "admin_password").read_text().strip()
    headers = sign_in_as_the_seeded_admin(ports["ADMIN_API_HTTP_PORT"], password)
    base = f"http://127.0.0.1:{ports['ADMIN_API_HTTP_PORT']}/api/admin"
    with _HTTP.open(Request(f"{base}/dashboard", headers=headers), timeout=10) as response:
        dashboard = json.load(response)
    assert {h["service"]: h["status"] for h in dashboard["system_health"]} == {
        "admin-api-database": "healthy",
        "credits": "healthy",
        "audit": "healthy",
        "generation": "healthy",
        "payments": "healthy",
    }
    assert dashboard["totals"]["clients"] == len(DEMO_ACCOUNTS)
    with _HTTP.open(Request(f"{base}/credits?limit=100", headers=headers), timeout=10) as response:
        names = {b["client_name"] for b in json.load(response)["items"]}
    assert {account.name for account in DEMO_ACCOUNTS} <= names


def assert_everything_stopped(ports: dict[str, int], var_dir: Path) -> None:
    assert [port for port in ports.values() if not port_is_free(port)] == []
    assert EmbeddedPostgres(var_dir / "pg").running_pid() is None


def test_a_taken_port_stops_the_run_before_anything_starts(tmp_path: Path, start_stack: Callable[..., Any]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = start_stack(tmp_path / "var", CREDITS_HTTP_PORT=port)
        code = stack.wait_exit(timeout_s=60)

    assert code == 1, stack.tail()
    assert f"port {port}" in stack.output and "CREDITS_HTTP_PORT" in stack.output, stack.tail()
    assert not (tmp_path / "var" / "pg").exists()


def test_run_serves_every_process_with_demo_data_and_stops_cleanly_on_sigint(
    var_dir: Path, start_stack: Callable[..., Any]
) -> None:
    stack = start_stack(var_dir)
    stack.wait_ready()

    assert_every_process_answers(stack.ports)
    key = credential_key(var_dir)
    assert key not in stack.output
    assert_demo_data_seeded_once(stack.ports, key)
    assert_demo_activity_reached_the_audit_log(stack.ports, key)
    assert_demo_generations_complete_with_viewable_images(stack.ports, key)
    assert_the_gateway_serves_the_demo_platform(stack.ports, var_dir)
    password = (var_dir / "secrets" / "admin_password").read_text().strip()
    assert f"sign in as admin@scenergy.local with password {password}" in stack.output  # printed on the first run
    assert f"http://127.0.0.1:{stack.ports['ADMIN_API_HTTP_PORT']}/api/admin" in stack.output

    stack.process.send_signal(signal.SIGINT)
    assert stack.wait_exit() == 0, stack.tail()
    assert_everything_stopped(stack.ports, var_dir)


def test_a_rerun_keeps_the_data_and_a_dead_process_stops_the_platform(
    var_dir: Path, start_stack: Callable[..., Any]
) -> None:
    if not (var_dir / "pg" / "PG_VERSION").exists():  # run on its own: make the first run here
        first = start_stack(var_dir)
        first.wait_ready()
        first.process.send_signal(signal.SIGINT)
        assert first.wait_exit() == 0, first.tail()

    stack = start_stack(var_dir)
    stack.wait_ready()
    assert_demo_data_seeded_once(stack.ports, credential_key(var_dir))
    assert_demo_activity_reached_the_audit_log(stack.ports, credential_key(var_dir))
    assert_the_gateway_serves_the_demo_platform(stack.ports, var_dir)
    password = (var_dir / "secrets" / "admin_password").read_text().strip()
    assert password not in stack.output  # shown once, on the run that created the account

    os.kill(stack.pid_of("credits-worker"), signal.SIGKILL)
    assert stack.wait_exit() == 1, stack.tail()
    assert "credits-worker exited unexpectedly" in stack.output
    assert_everything_stopped(stack.ports, var_dir)
